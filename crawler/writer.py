"""Crawled items into the archive: the one write path of both kinds of crawl.

``ArchivePipeline`` calls it for a crawl in one process, ``pdarchive ingest`` for the
items workers of a distributed crawl pushed to Redis; both store exactly the same
rows for the same items. No Scrapy here: ingest runs without it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from archive.record import IncompleteArticle, combine_editions, merge_pages
from archive.store import Archive, RunCounts
from archive.topics import Topic, score_all
from crawler.items import ArticleItem, FailureItem, ListPageItem, PictureItem

#: share of article pages parsed by the fallback (or refused) above which a run
#: is reported as a warning: the site's layout has probably changed
LAYOUT_WARNING_SHARE = 0.5


@dataclass(frozen=True)
class WriterState:
    """An ItemWriter's counts at one moment (``ItemWriter.state``)."""

    counts: RunCounts
    refused: int
    walk_stops: list[str]
    kinds: dict[str, int]
    missing_editions: int
    pictures: int


class ItemWriter:
    """Merges an article's pages and editions, validates, and stores items of one run.

    ``on_count(key)`` is told of every count it takes ("new", "updated", "unchanged",
    "failed", "fallback"). sqlite3 errors (a full disk, …) propagate: the caller
    decides whether to stop.
    """

    def __init__(self, archive: Archive, run_id: int | None, *,
                 retry_after: float | None = None, retry_max: float | None = None,
                 on_count: Callable[[str], None] | None = None,
                 counts: RunCounts | None = None, topics: Sequence[Topic] = ()) -> None:
        self.archive = archive
        self.run_id = run_id
        self.retry_after = retry_after
        self.retry_max = retry_max
        self.on_count = on_count
        self.counts = counts or RunCounts()
        #: scored on every stored article (the ``[topics.*]`` of the configuration)
        self.topics = list(topics)
        #: article pages refused by the parser
        self.refused = 0
        #: list pages where a column's walk stopped (blocked, cut off, not a list page,
        #: a repeat): a warning, with these reasons
        self.walk_stops: list[str] = []
        #: failures recorded, by kind
        self.kinds: dict[str, int] = {}
        #: editions found not to exist (404 on an article's BIG5 page)
        self.missing_editions = 0
        #: pictures stored (new captures)
        self.pictures = 0

    def state(self) -> WriterState:
        """What this writer has counted so far, to ``restore`` should the writes
        counted since be rolled back."""
        return WriterState(replace(self.counts, extra=dict(self.counts.extra)), self.refused,
                           list(self.walk_stops), dict(self.kinds), self.missing_editions,
                           self.pictures)

    def restore(self, state: WriterState) -> None:
        self.counts = replace(state.counts, extra=dict(state.counts.extra))
        self.refused = state.refused
        self.walk_stops = list(state.walk_stops)
        self.kinds = dict(state.kinds)
        self.missing_editions = state.missing_editions
        self.pictures = state.pictures

    def _count(self, key: str) -> None:
        setattr(self.counts, key, getattr(self.counts, key) + 1)
        if self.on_count is not None:
            self.on_count(key)

    def write(self, item: object) -> None:
        if isinstance(item, ArticleItem):
            self._store_article(item)
        elif isinstance(item, FailureItem):
            self._store_failure(item)
        elif isinstance(item, ListPageItem):
            self.archive.save_list_page(item.fetched, self.run_id)
        elif isinstance(item, PictureItem) and self.archive.save_picture(item.fetched,
                                                                         self.run_id):
            self.pictures += 1

    def _store_article(self, item: ArticleItem) -> None:
        try:
            merged = {edition: merge_pages([page.record for page in pages])
                      for edition, pages in item.editions.items()}
        except IncompleteArticle as error:
            first = next(iter(item.editions.values()))[0]
            self._store_failure(FailureItem(first.fetched.url, "store", str(error), None,
                                            item.article_id, item.column_id,
                                            kind="incomplete"))
            return
        article = combine_editions(merged)
        pages = [page.fetched for edition_pages in item.editions.values()
                 for page in edition_pages]
        if item.partial and self.archive.article(item.article_id) is not None:
            # an edition failed: storing the rest would drop it from the stored article
            self._count("unchanged")
            return
        fallback = any(page.extractor == "fallback" for page in pages)
        if fallback:
            self._count("fallback")
        outcome = self.archive.save_article(article, pages, self.run_id,
                                            score_all(self.topics, article))
        self._count("unchanged" if outcome == "kept" else outcome)

    def _store_failure(self, item: FailureItem) -> None:
        if item.kind == "missing_edition" and item.article_id and item.edition:
            self.missing_editions += 1
            self.archive.record_missing_edition(item.article_id, item.edition, item.url,
                                                item.http_status, self.run_id)
            return
        if item.stage == "parse" and item.kind not in ("blocked", "deleted"):
            self.refused += 1  # (a block or deletion notice says nothing of the layout)
        elif item.stage == "list" and item.kind not in ("robots",):
            self.walk_stops.append(f"{item.url}: {item.reason}")
        if item.kind:
            self.kinds[item.kind] = self.kinds.get(item.kind, 0) + 1
        self._count("failed")
        self.archive.record_failure(
            item.url, stage=item.stage, reason=item.reason, http_status=item.http_status,
            run_id=self.run_id, article_id=item.article_id, column_id=item.column_id,
            retry_after=self.retry_after, retry_max=self.retry_max, kind=item.kind,
            redirects=item.redirects or None)

    def verdict(self, reason: str) -> tuple[str, str]:
        """The run's status and message, given why it ended ("finished", "shutdown", …)."""
        stored = self.counts.new + self.counts.updated + self.counts.unchanged
        suspicious = self.counts.fallback + self.refused
        layout_changed = list(self.walk_stops)
        if suspicious and suspicious > LAYOUT_WARNING_SHARE * (stored + self.refused):
            layout_changed.insert(0, (
                f"{suspicious} of {stored + self.refused} article pages were refused or "
                "parsed by the generic fallback: the site's layout may have changed"))
        if reason != "finished":
            return "interrupted", f"stopped: {reason}"
        if layout_changed:
            return "warning", "; ".join(layout_changed)
        return "finished", ""
