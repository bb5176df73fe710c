"""The one writer of a crawl in one process: items go to the archive through ItemWriter.

What it hands on, to Scrapy's feed exports (``scrapy crawl jiangsu -O out.jsonl``) and
``item_scraped``, is each stored article in its exported form (archive/export.py: the
JSON record ``pdarchive export`` writes), not the item: that carries the raw pages as
bytes, which no feed format can hold. Failures and list pages are the archive's
business only and are dropped here, quietly (DEBUG), once stored.

The pipeline opens the archive itself, from its settings (``PDARCHIVE_DB``, and
``PDARCHIVE_CONFIG`` for the topics and the failures' backoff), and closes it when the
run is recorded. From the spider it reads only the crawl's job (what the run records
it took) and which column walks completed (``CrawlingSpider``); what the site did
(pages read, refused, unreachable) it reads from the crawl's stats.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any, Protocol, cast

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DropItem
from scrapy.utils.defer import deferred_from_coro

from archive.export import export_record
from archive.store import Archive, storage_problem
from archive.topics import topics_from_config
from crawler.config import load_config
from crawler.items import ArticleItem
from crawler.job import CrawlJob
from crawler.spiders.jiangsu import (
    BLOCKED,
    BLOCKED_PAGES,
    BLOCKING_STATUSES,
    HALT_STREAK,
    PAGES_READ,
    SITE_FAILURES,
)
from crawler.writer import ItemWriter

#: the spider's close reason when the archive cannot be written (disk full, …)
UNWRITABLE = "archive_unwritable"
#: share of a run's requests that failed to download or were blocked above which the
#: run failed: the site could not be reached, or would not serve us
UNREACHABLE_SHARE = 0.5
#: download errors, by exception class name, in words
_DOWNLOAD_ERRORS = {
    "DNSLookupError": "DNS lookup failed", "CannotResolveHostError": "DNS lookup failed",
    "ConnectionRefusedError": "connection refused",
    "DownloadConnectionRefusedError": "connection refused",
    "TimeoutError": "timed out", "DownloadTimeoutError": "timed out",
    "TCPTimedOutError": "timed out", "ConnectError": "could not connect",
    "ConnectionLost": "connection lost", "ResponseNeverReceived": "connection lost",
    "ConnectionDone": "connection lost", "ResponseFailed": "connection lost",
    "DownloadFailedError": "connection lost", "NoRouteError": "no route to host",
}

logger = logging.getLogger(__name__)


class CrawlingSpider(Protocol):
    """What the pipeline reads of the spider (crawler/spiders/jiangsu.py)."""

    #: the crawl's scope, recorded in the run
    job: CrawlJob
    #: column → its list walk completed
    walk_complete: dict[str, bool]


class ArchivePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        settings = crawler.settings
        self.db = settings.get("PDARCHIVE_DB") or "archive.db"
        self.config = load_config(settings.get("PDARCHIVE_CONFIG"))
        self.archive: Archive | None = None
        self.run_id: int | None = None
        #: why the archive could not be written; once set, nothing more is written
        self.storage_error = ""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        pipeline = cls(crawler)
        # The close reason ("finished", "shutdown" on Ctrl-C, …) is known only when
        # spider_closed fires, after the pipelines' close_spider.
        crawler.signals.connect(pipeline.finish_run, signal=signals.spider_closed)
        return pipeline

    @property
    def spider(self) -> CrawlingSpider:
        return cast(CrawlingSpider, self.crawler.spider)

    def open_spider(self) -> None:
        scope = self.spider.job.scope
        try:
            self.archive = Archive(self.db)
            self.run_id = self.archive.start_run({
                "editions": list(scope.editions), "max_list_pages": scope.max_list_pages,
                "full": scope.full, "config": self.config.source,
            }, columns=list(scope.columns))
        except sqlite3.Error as error:
            self._unwritable(error)
            raise CloseSpider(UNWRITABLE) from error
        self.stats.set_value("pdarchive/run_id", self.run_id)
        self.writer = ItemWriter(
            self.archive, self.run_id, retry_after=self.config.failure_retry_after,
            retry_max=self.config.failure_retry_max,
            on_count=self._count,
            topics=topics_from_config(self.config.extra))

    @property
    def _archive(self) -> Archive:
        assert self.archive is not None, "open_spider opens the archive"
        return self.archive

    def _count(self, key: str) -> None:
        """Count in the crawl's stats, and in the run row inside the item's own
        transaction (process_item): a crawl killed with ``kill -9`` leaves true counts."""
        self.stats.inc_value(f"pdarchive/{key}")
        self._archive.count_in_run(self.run_id, key)

    def _unwritable(self, error: sqlite3.Error) -> None:
        """Remember why writing failed; every transaction before this one is whole."""
        self.storage_error = storage_problem(error, Path(self.db))
        logger.error("cannot write the archive, stopping the crawl: %s", self.storage_error)

    def process_item(self, item: Any) -> dict[str, Any]:
        if self.storage_error:  # the crawl is closing; the items still in flight are lost
            raise DropItem("not stored: the archive cannot be written", log_level="DEBUG")
        try:
            with self._archive.transaction():  # the item and its counts, together
                self.writer.write(item)
            # the article as archived (for an incomplete one, the version stored before)
            stored = (self._archive.article(item.article_id)
                      if isinstance(item, ArticleItem) else None)
        except sqlite3.Error as error:
            # A full disk, a file made read-only or damaged under the crawl: going on
            # would only fail again, page after page. Stop, and say why.
            self._unwritable(error)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=UNWRITABLE))
            raise DropItem("not stored: the archive cannot be written",
                           log_level="DEBUG") from error
        if stored is None:
            raise DropItem(f"stored: {type(item).__name__}", log_level="DEBUG")
        return export_record(stored)

    def site_verdict(self, reason: str) -> str:
        """Why the run failed for the site's sake, or "": most requests could not be
        downloaded (DNS, refused connections, timeouts) or were refused (HTTP
        403/429/503, block pages), or the spider stopped on blocks in a row."""
        stats = self.stats.get_stats()
        host = self.config.base_url.split("://", 1)[-1].split("/", 1)[0]
        total = int(stats.get("downloader/request_count") or 0)
        errors: dict[str, int] = {}
        prefix = "downloader/exception_type_count/"
        for key, count in stats.items():
            if key.startswith(prefix):
                words = _DOWNLOAD_ERRORS.get(key[len(prefix):].rsplit(".", 1)[-1])
                if words:
                    errors[words] = errors.get(words, 0) + int(count)
        blocked = {f"HTTP {status}": int(stats.get(f"downloader/response_status_count/{status}")
                                         or 0) for status in BLOCKING_STATUSES}
        blocked["a block page"] = int(stats.get(BLOCKED_PAGES) or 0)
        blocked = {what: count for what, count in blocked.items() if count}
        unreachable, refused = sum(errors.values()), sum(blocked.values())

        def detail(counts: dict[str, int]) -> str:
            return ", ".join(f"{what} for {count} of {total} requests" for what, count in
                             sorted(counts.items(), key=lambda item: -item[1]))

        if reason == BLOCKED:
            return (f"{host} is refusing this crawler: {stats.get(HALT_STREAK)} pages in a "
                    f"row were refused ({detail(blocked) or 'block pages'}); the crawl stopped "
                    "and the next one resumes where it stopped (raise delay?)")
        if not total or unreachable + refused <= UNREACHABLE_SHARE * total:
            return ""
        if int(stats.get(PAGES_READ) or 0) > int(stats.get(SITE_FAILURES) or 0):
            return ""  # retries of a few bad pages outnumber the good ones, not more
        if unreachable >= refused:
            return f"could not reach {host}: {detail(errors)}"
        return f"{host} refused the crawl: {detail(blocked)}"

    def finish_run(self, reason: str) -> None:
        status, message = "finished", ""
        site = self.site_verdict(reason) if self.run_id is not None else ""
        if self.storage_error:
            status, message = "failed", self.storage_error
            self.stats.set_value("pdarchive/failure", "unwritable")
        elif site and reason in ("finished", BLOCKED):
            status, message = "failed", site
            self.stats.set_value("pdarchive/failure", "site")
        elif self.run_id is not None:
            status, message = self.writer.verdict(reason)
        complete = [column for column in self.spider.job.scope.columns
                    if self.spider.walk_complete.get(column)]
        if self.run_id is not None:
            try:
                counts = self.writer.counts
                counts.requests = int(self.stats.get_value("downloader/request_count") or 0)
                self._archive.finish_run(self.run_id, counts, status, message,
                                        complete if status in ("finished", "warning") else [])
            except sqlite3.Error as error:
                # With the disk full even this may fail: the next crawl marks the run
                # interrupted. The articles stored before are committed either way.
                if not self.storage_error:
                    self._unwritable(error)
                    status, message = "failed", self.storage_error
        self.stats.set_value("pdarchive/status", status)
        self.stats.set_value("pdarchive/message", message)
        if self.archive is not None:
            self.archive.close()  # the run's last write is this one
            self.archive = None
