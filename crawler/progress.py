"""Live progress of a crawl: one refreshed line on a terminal, a line a minute otherwise.

On a terminal rich keeps the line at the bottom, and Scrapy's own log lines (warnings,
errors) are printed above it rather than onto its end. With standard error
redirected (cron, a systemd journal) a plain line a minute shows the crawl alive,
whatever the log level: the same rule as archive/progress.py.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from rich.console import Console
from rich.file_proxy import FileProxy
from rich.live import Live
from rich.text import Text
from scrapy import signals
from scrapy.crawler import Crawler
from twisted.internet import task

from archive.progress import LOG_EVERY


class Progress:
    """Shows pages fetched, new, updated, failed, the rate and the current column."""

    def __init__(self, crawler: Crawler, interval: float, stream: TextIO = sys.stderr,
                 log_every: float = LOG_EVERY) -> None:
        self.crawler = crawler
        self.stream = stream
        self.interactive = stream.isatty()
        self.interval = interval if self.interactive else log_every
        self.started = time.monotonic()
        self.loop: task.LoopingCall | None = None
        self.live: Live | None = None
        #: log handlers moved above the live line, with the stream each had
        self._moved: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        extension = cls(crawler, crawler.settings.getfloat("PDARCHIVE_PROGRESS_INTERVAL", 0.5))
        crawler.signals.connect(extension.opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.closed, signal=signals.spider_closed)
        return extension

    def line(self) -> str:
        stats = self.crawler.stats
        assert stats is not None
        value = lambda key: int(stats.get_value(key) or 0)  # noqa: E731
        pages = value("response_received_count")
        elapsed = max(time.monotonic() - self.started, 1e-6)
        column = stats.get_value("pdarchive/column") or "-"
        return (f"column {column} | pages {pages} | new {value('pdarchive/new')} | "
                f"updated {value('pdarchive/updated')} | "
                f"unchanged {value('pdarchive/unchanged')} | failed {value('pdarchive/failed')}"
                f" | {pages / elapsed:.1f} pages/s")

    def show(self) -> None:
        if self.live is not None:
            self.live.update(Text(self.line(), no_wrap=True, overflow="ellipsis"))
        else:
            self.stream.write(f"progress: {self.line()}\n")
            self.stream.flush()

    def opened(self) -> None:
        self.started = time.monotonic()
        if self.interactive:
            console = Console(file=self.stream)
            self.live = Live(Text(self.line()), console=console, transient=True,
                             auto_refresh=False, redirect_stdout=False, redirect_stderr=False)
            self.live.start()
            above = FileProxy(console, self.stream)
            for handler in logging.getLogger().handlers:
                if (isinstance(handler, logging.StreamHandler)
                        and handler.stream in (self.stream, sys.__stderr__)):
                    self._moved.append((handler, handler.setStream(above)))  # type: ignore[arg-type]
        self.loop = task.LoopingCall(self._tick)
        self.loop.start(self.interval, now=False)

    def _tick(self) -> None:
        self.show()
        if self.live is not None:
            self.live.refresh()

    def closed(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        for handler, stream in self._moved:
            handler.setStream(stream)
        self._moved.clear()
        if self.live is not None:
            self.live.stop()
            self.live = None
