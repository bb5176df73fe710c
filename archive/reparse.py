"""``pdarchive reparse``: re-extract every article from its stored raw pages.

After a parser fix, this brings the whole archive up to date without touching the
network. An article whose pages no longer parse keeps its stored text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from crawler.parse import ParseRefused
from crawler.parser_pool import Page, parse_in_order

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


def _articles(archive: Archive) -> Iterator[tuple[tuple[str, list[str]], list[Page]]]:
    """Per article: (its id, the edition of each page), and its pages to parse."""
    for article_id, rows in groupby(archive.page_bodies(), key=lambda row: row["article_id"]):
        pages = list(rows)
        yield ((article_id, [row["edition"] for row in pages]),
               [(row["body"], row["url"], row["headers"].get("Content-Type")) for row in pages])


def reparse(archive: Archive, topics: Sequence[Topic] = (), *, workers: int = 0,
            on_progress: Callable[[int, int], None] | None = None) -> ReparseResult:
    """Re-extract and store every article. Pages are parsed in ``workers`` processes
    while this one writes; ``on_progress(done, total)`` is told after each article."""
    result = ReparseResult()
    total = archive.article_page_count()
    for (article_id, editions_of_pages), parsed in parse_in_order(_articles(archive), workers):
        result.articles += 1
        editions: dict[str, list[dict[str, Any]]] = {}
        try:
            for edition, page in zip(editions_of_pages, parsed, strict=True):
                if isinstance(page, ParseRefused):
                    raise page
                editions.setdefault(edition, []).append(page.record)
            article = combine_editions({name: merge_pages(pages)
                                        for name, pages in editions.items()})
        except (ParseRefused, IncompleteArticle) as error:
            result.failed += 1
            result.errors.append(f"{article_id}: {error}")
        else:
            if archive.save_article(article, [], None,
                                    score_all(topics, article)) != "unchanged":
                result.changed += 1
        if on_progress is not None:
            on_progress(result.articles, total)
    return result
