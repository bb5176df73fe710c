"""``pdarchive reparse``: re-extract every article from its stored raw pages.

After a parser fix, this brings the whole archive up to date without touching the
network. Every version of an article is read again from its own captures (the pages
as they were fetched when the site showed that version) and its text replaced in
place: no version is added, since the site did not change. An article whose pages
no longer parse keeps its stored text.

One page that cannot be read stops nothing: a stored copy that is damaged (it does
not decompress, or no longer matches its digest), a page the parser crashes on, an
article that cannot be merged or scored. Its article keeps its stored text, the page
is listed at the end, and the command exits 1. A damaged copy is also recorded as a
failure of the page (stage ``store``), due at once, and its digest forgotten: the
next crawl fetches the page again and stores a good copy, even if it has not changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import groupby
from typing import Any

from crawler.parse import ParseRefused
from crawler.parser_pool import Page, ParserCrashed, parse_in_order

from .group_commit import GroupCommit
from .record import IncompleteArticle, combine_editions, merge_pages
from .store import Archive
from .topics import Topic, score_all


@dataclass
class ReparseResult:
    articles: int = 0
    changed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    #: "URL: why" for every page that could not be read (all of them, not the first 20)
    unreadable: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"reparsed {self.articles} articles: {self.changed} changed, "
                 f"{self.failed} could not be re-extracted (kept as they were)"]
        lines += [f"  {error}" for error in self.errors[:20]]
        if self.unreadable:
            count = len(self.unreadable)
            lines.append(f"{count} page{'s' * (count != 1)} could not be read (their articles "
                         "were kept as they were; damaged copies are fetched again by the "
                         "next crawl):")
            lines += [f"  {page}" for page in self.unreadable]
        return "\n".join(lines)


#: per article version: its article id and version, (edition, URL) of each page, and
#: (URL, digest, why) of each damaged one
Key = tuple[str, int, list[tuple[str, str]], list[tuple[str, str | None, str]]]


def _versions(archive: Archive) -> Iterator[tuple[Key, list[Page]]]:
    """Per article version: its key, and its pages to parse (none when one is damaged)."""
    for (article_id, version), rows in groupby(
            archive.version_bodies(), key=lambda row: (row["article_id"], row["version"])):
        pages = list(rows)
        damaged = [(row["url"], row["sha256"], row["damage"]) for row in pages if row["damage"]]
        yield ((article_id, version, [(row["edition"], row["url"]) for row in pages], damaged),
               [] if damaged else [(row["body"], row["url"], row["headers"].get("Content-Type"))
                                   for row in pages])


def reparse(archive: Archive, topics: Sequence[Topic] = (), *, workers: int = 0,
            on_progress: Callable[[int, int], None] | None = None) -> ReparseResult:
    """Re-extract and store every article. Pages are parsed in ``workers`` processes
    while this one writes; ``on_progress(done, total)`` is told after each article.
    sqlite3 errors (a full disk, …) propagate: nothing else stops it."""
    result = ReparseResult()
    total = archive.article_page_count()

    def stored(about: str, changed: bool | None) -> None:
        if changed:  # (None: a damaged page forgotten)
            result.changed += 1

    def not_stored(about: str, error: Exception) -> None:
        result.unreadable.append(f"{about}: cannot be stored ({type(error).__name__}: {error})")

    # committed in groups: the articles whose text changed are re-indexed once per group
    group: GroupCommit[str] = GroupCommit(archive, on_commit=stored, on_failure=not_stored)
    last = None
    for (article_id, version, pages, damaged), parsed in parse_in_order(
            _versions(archive), workers):
        if article_id != last:
            if last is not None and on_progress is not None:
                on_progress(result.articles, total)
            result.articles += 1
            last = article_id
        if damaged:
            for url, sha256, damage in damaged:
                result.unreadable.append(f"{url}: {damage}")
                group.write(f"{url}", partial(_forget_damaged, archive, article_id, url,
                                              sha256, damage))
        else:
            article = _reparsed(result, article_id, pages, parsed)
            if article is not None:
                group.write(f"article {article_id} ({pages[0][1]})", partial(
                    _store, archive, topics, article_id, version, article))
    group.commit()
    if last is not None and on_progress is not None:
        on_progress(result.articles, total)
    return result


def _store(archive: Archive, topics: Sequence[Topic], article_id: str, version: int,
           article: dict[str, Any]) -> bool:
    """Score the article and store its new text: whether it changed."""
    return archive.reextract(article_id, version, article, score_all(topics, article))


def _forget_damaged(archive: Archive, article_id: str, url: str, sha256: str | None,
                    damage: str) -> None:
    """A stored page that cannot be read: fetched again by the next crawl."""
    archive.forget_page_copy(url, sha256)
    archive.record_failure(url, stage="store", reason=f"{damage}; the article kept its text",
                           http_status=None, run_id=None, article_id=article_id,
                           retry_after=0)


def _reparsed(result: ReparseResult, article_id: str, pages: list[tuple[str, str]],
              parsed: list[Any]) -> dict[str, Any] | None:
    """The article its pages now make, or None (the reason noted in ``result``)."""
    editions: dict[str, list[dict[str, Any]]] = {}
    for (edition, url), page in zip(pages, parsed, strict=True):
        if isinstance(page, ParserCrashed):
            result.unreadable.append(f"{url}: the parser crashed ({page})")
            return None
        if isinstance(page, ParseRefused):
            result.failed += 1
            result.errors.append(f"{article_id}: {page}")
            return None
        editions.setdefault(edition, []).append(page.record)
    try:
        return combine_editions({name: merge_pages(pages) for name, pages in editions.items()})
    except IncompleteArticle as error:
        result.failed += 1
        result.errors.append(f"{article_id}: {error}")
        return None
