"""A crawl in one process: its items to the archive's writer, and the run's end.

What it hands on, to Scrapy's feed exports (``scrapy crawl jiangsu -O out.jsonl``) and
``item_scraped``, is each stored article in its exported form (archive/export.py: the
JSON record ``pdarchive export`` writes), not the item: that carries the raw pages as
bytes, which no feed format can hold. Failures and list pages are the archive's
business only and are dropped here, quietly (DEBUG), once stored.

The archive is written by a process of its own (crawler/writer_process.py), which
the pipeline starts with the archive's path and configuration from its settings
(``PDARCHIVE_DB``, ``PDARCHIVE_CONFIG`` for the topics and the failures' backoff) and
ends when the run is recorded; an item is done when the writer has committed it.
From the spider it reads only the crawl's job (what the run records it took) and
which column walks completed (``CrawlingSpider``); what the site did (pages read,
refused, unreachable) it reads from the crawl's stats.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, Protocol, cast

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DropItem
from scrapy.utils.defer import deferred_from_coro

from crawler.config import load_config
from crawler.job import CrawlJob
from crawler.spiders.jiangsu import (
    BLOCKED,
    BLOCKED_PAGES,
    BLOCKING_STATUSES,
    HALT_STREAK,
    PAGES_READ,
    SITE_FAILURES,
)
from crawler.writer_process import ItemNotStored, RunEnd, WriterProcess, WriterUnavailable

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
        self.config_path = settings.get("PDARCHIVE_CONFIG")
        self.config = load_config(self.config_path)
        self.writes: WriterProcess | None = None
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
        self.writes = WriterProcess(self.db, self.config_path)
        # A crawl stopped before the spider closed (a second Ctrl-C, the grace period
        # over) still lets the writer commit what it holds, before run.py records the
        # run interrupted. (No reactor installed: not in a crawl but in a test.)
        reactor: Any = sys.modules.get("twisted.internet.reactor")
        if reactor is not None:
            reactor.addSystemEventTrigger("before", "shutdown", self._close_writes)
        try:
            self.run_id = self.writes.start({
                "editions": list(scope.editions), "max_list_pages": scope.max_list_pages,
                "full": scope.full, "config": self.config.source,
            }, columns=list(scope.columns))
        except WriterUnavailable as error:
            self._unwritable(str(error))
            raise CloseSpider(UNWRITABLE) from error
        self.stats.set_value("pdarchive/run_id", self.run_id)

    def _unwritable(self, problem: str) -> None:
        """Remember why writing failed; every batch committed before is whole."""
        if not self.storage_error:
            self.storage_error = problem
            logger.error("cannot write the archive, stopping the crawl: %s", problem)

    async def process_item(self, item: Any) -> dict[str, Any]:
        """Hand the item to the writer; done when the batch holding it is committed."""
        if self.storage_error or self.writes is None:
            # the crawl is closing; the items still in flight are fetched again next time
            raise DropItem("not stored: the archive cannot be written", log_level="DEBUG")
        try:
            stored = await asyncio.wrap_future(self.writes.submit(item))
        except WriterUnavailable as error:
            # A full disk, a file made read-only or damaged under the crawl: going on
            # would only fail again, page after page. Stop, and say why.
            if not self.storage_error:
                self._unwritable(str(error))
                deferred_from_coro(self.crawler.engine.close_spider_async(reason=UNWRITABLE))
            raise DropItem("not stored: the archive cannot be written",
                           log_level="DEBUG") from error
        except ItemNotStored as error:
            raise DropItem(str(error), log_level="ERROR") from error
        for key in stored.counts:
            self.stats.inc_value(f"pdarchive/{key}")
        if stored.record is None:
            raise DropItem(f"stored: {type(item).__name__}", log_level="DEBUG")
        return stored.record

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
        if self.writes is None:
            return
        site = self.site_verdict(reason) if self.run_id is not None else ""
        failed = ""
        if self.storage_error:
            failed = self.storage_error
            self.stats.set_value("pdarchive/failure", "unwritable")
        elif site and reason in ("finished", BLOCKED):
            failed = site
            self.stats.set_value("pdarchive/failure", "site")
        complete = [column for column in self.spider.job.scope.columns
                    if self.spider.walk_complete.get(column)]
        requests = int(self.stats.get_value("downloader/request_count") or 0)
        status, message = "failed", failed
        if self.run_id is not None:
            try:
                status, message = self.writes.finish(RunEnd(reason, failed, requests, complete))
            except WriterUnavailable as error:
                self._unwritable(str(error))
                status, message = "failed", self.storage_error
        else:
            self.writes.close()
        self.writes = None
        self.stats.set_value("pdarchive/status", status)
        self.stats.set_value("pdarchive/message", message)

    def _close_writes(self) -> None:
        if self.writes is not None:
            self.writes.close()
            self.writes = None
