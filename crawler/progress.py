"""Live progress of a crawl: one refreshed line on a terminal, log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time

from scrapy import signals
from scrapy.crawler import Crawler
from twisted.internet import task

logger = logging.getLogger(__name__)


class Progress:
    """Shows pages fetched, new, updated, failed, the rate and the current column."""

    def __init__(self, crawler: Crawler, interval: float, stream=sys.stderr) -> None:  # type: ignore[no-untyped-def]
        self.crawler = crawler
        self.stream = stream
        self.interactive = stream.isatty()
        self.interval = interval if self.interactive else max(interval, 10.0)
        self.started = time.monotonic()
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        extension = cls(crawler, crawler.settings.getfloat("PDARCHIVE_PROGRESS_INTERVAL", 0.5))
        crawler.signals.connect(extension.opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.closed, signal=signals.spider_closed)
        return extension

    def line(self) -> str:
        stats = self.crawler.stats
        value = lambda key: int(stats.get_value(key) or 0)  # noqa: E731
        pages = value("response_received_count")
        elapsed = max(time.monotonic() - self.started, 1e-6)
        column = stats.get_value("pdarchive/column") or "-"
        return (f"column {column} | pages {pages} | new {value('pdarchive/new')} | "
                f"updated {value('pdarchive/updated')} | "
                f"unchanged {value('pdarchive/unchanged')} | failed {value('pdarchive/failed')}"
                f" | {pages / elapsed:.1f} pages/s")

    def show(self) -> None:
        if self.interactive:
            self.stream.write("\r\x1b[K" + self.line())
            self.stream.flush()
        else:
            logger.info("progress: %s", self.line())

    def opened(self) -> None:
        self.started = time.monotonic()
        self.loop = task.LoopingCall(self.show)
        self.loop.start(self.interval, now=False)

    def closed(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if self.interactive:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
