"""The search oracle: which articles a query must find, by substring, knowing nothing
of bigrams or FTS5.

An article matches a word when the word's normalised form (archive.textnorm.normalise)
is a substring of the normalised text of one of its indexed fields — the title
block (pre-title, title, subtitle), the body (paragraphs, one after another), the
source, the people — and a query matches as its syntax says (all words; any of an
OR; none of the excluded).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from archive.textnorm import normalise
from tests.support.reference import EXPECTED_CRAWL

#: the reference archive's articles, as a crawl of the mirror stores them
EXPECTED: list[dict[str, Any]] = json.loads(EXPECTED_CRAWL.read_text("utf-8"))["articles"]
SEED = "34359164"  # has an image, editors, a source link and both editions in the mirror


def indexed_fields(article: dict[str, Any]) -> list[str]:
    title = " ".join(filter(None, (article["pretitle"], article["title"], article["subtitle"])))
    people = " ".join(article["editors"] + article["authors"] + article["photographers"])
    return [normalise(text) for text in
            (title, "\n".join(article["body"]), article["source"] or "", people)]


def has(article: dict[str, Any], text: str) -> bool:
    needle = normalise(text)
    return any(needle in field for field in indexed_fields(article))


def oracle(articles: Iterable[dict[str, Any]], all_of: Iterable[str] = (),
           any_of: Iterable[str] = (), none_of: Iterable[str] = ()) -> set[str]:
    all_of, any_of, none_of = list(all_of), list(any_of), list(none_of)
    return {article["article_id"] for article in articles
            if all(has(article, word) for word in all_of)
            and (not any_of or any(has(article, word) for word in any_of))
            and not any(has(article, word) for word in none_of)}
