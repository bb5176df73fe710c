"""The archive's article record: pages merged into one article, editions side by side.

Pure functions over the page records that ``crawler.parse.parse_page`` returns;
used by the crawl pipeline and by ``pdarchive reparse``. (hashlib is imported by
what writes: loading OpenSSL would cost every reading command 3 ms of start-up.)
"""

from __future__ import annotations

import json
from typing import Any

#: Fields an edition carries in its own script (the BIG5 edition is a conversion).
TEXT_FIELDS = ("title", "pretitle", "subtitle", "original_title", "source", "editors",
               "authors", "photographers", "body", "images")
RECORD_FIELDS = ("url", "article_id", "column_id", "edition", "page_count", "title", "pretitle",
                 "subtitle", "original_title", "published_at", "source", "source_url", "editors",
                 "authors", "photographers", "body", "images")


class IncompleteArticle(ValueError):
    """The pages at hand do not make a whole article."""


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def merge_pages(pages: list[dict[str, Any]]) -> dict[str, Any]:
    """One article from the records of all its pages (any order, one edition).

    Raises IncompleteArticle when a page is missing, so that a half-fetched
    multi-page article is never stored as if it were whole.
    """
    if not pages:
        raise IncompleteArticle("no pages")
    ordered = sorted(pages, key=lambda page: page["page"])
    first = ordered[0]
    expected = max(page["page_count"] for page in ordered)
    numbers = [page["page"] for page in ordered]
    if numbers != list(range(1, expected + 1)):
        raise IncompleteArticle(
            f"article {first['article_id']}: have pages {numbers} of {expected}"
        )
    merged = {field: first.get(field) for field in RECORD_FIELDS}
    merged["page_count"] = expected
    merged["body"] = [paragraph for page in ordered for paragraph in page["body"]]
    merged["images"] = [image for page in ordered for image in page["images"]]
    for people in ("editors", "authors", "photographers"):
        merged[people] = _unique([name for page in ordered for name in page[people]])
    merged["pages"] = [page["url"] for page in ordered]
    extractors = sorted({page["extractor"] for page in ordered if page.get("extractor")})
    if extractors:
        merged["extractor"] = extractors[0]
    return merged


def edition_view(merged: dict[str, Any]) -> dict[str, Any]:
    """What an edition adds beside the primary one: its URLs and its own text."""
    view = {field: merged[field] for field in TEXT_FIELDS}
    view["url"] = merged["url"]
    view["pages"] = merged["pages"]
    return view


def combine_editions(editions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The archive article from its merged editions: GB (simplified) is primary when
    crawled; the other edition rides along under its name with ``editions`` listing both."""
    primary_name = "gb" if "gb" in editions else next(iter(editions))
    article = dict(editions[primary_name])
    names = sorted(editions)
    if len(names) > 1:
        article["editions"] = names
        for name in names:
            if name != primary_name:
                article[name] = edition_view(editions[name])
    return article


def content_hash(article: dict[str, Any]) -> str:
    """Changes when anything a reader sees changes; ignores fetch times."""
    import hashlib

    visible = {key: value for key, value in article.items()
               if key not in ("fetched_at", "first_seen_at", "updated_at")
               # added in schema 3: absent and empty must hash alike, or every article
               # stored before would count as changed at its next re-fetch or reparse
               and not (key == "original_title" and not value)}
    encoded = json.dumps(visible, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()
