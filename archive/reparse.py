"""``pdarchive reparse``: re-extract every article from its stored raw pages.

After a parser fix, this brings the whole archive up to date without touching the
network. An article whose pages no longer parse keeps its stored text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from crawler.parse import ParseRefused, parse_document

from .record import IncompleteArticle, combine_editions, merge_pages
from .store import Archive
from .topics import Topic, score_all


@dataclass
class ReparseResult:
    articles: int = 0
    changed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"reparsed {self.articles} articles: {self.changed} changed, "
                 f"{self.failed} could not be re-extracted (kept as they were)"]
        lines += [f"  {error}" for error in self.errors[:20]]
        return "\n".join(lines)


def reparse(archive: Archive, topics: Sequence[Topic] = ()) -> ReparseResult:
    result = ReparseResult()
    for article_id, rows in groupby(archive.page_bodies(), key=lambda row: row["article_id"]):
        result.articles += 1
        editions: dict[str, list[dict[str, Any]]] = {}
        try:
            for row in rows:
                content_type = row["headers"].get("Content-Type")
                record = parse_document(row["body"], row["url"], content_type).record
                editions.setdefault(row["edition"], []).append(record)
            article = combine_editions({name: merge_pages(pages)
                                        for name, pages in editions.items()})
        except (ParseRefused, IncompleteArticle) as error:
            result.failed += 1
            result.errors.append(f"{article_id}: {error}")
            continue
        if archive.save_article(article, [], None, score_all(topics, article)) != "unchanged":
            result.changed += 1
    return result
