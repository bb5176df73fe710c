"""Progress of long work (archive/progress.py) and of a crawl (crawler/progress.py)."""

from __future__ import annotations

import io
import logging

from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from archive.progress import LOG_EVERY, ProgressLine
from crawler.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_a_plain_line_a_minute() -> None:
    log = io.StringIO()
    progress = ProgressLine(log)
    progress.count(1, 100, "articles reparsed")
    assert log.getvalue() == "", "a line before a minute has passed"
    progress._logged -= LOG_EVERY
    progress.started -= 10
    progress.count(50, 100, "articles reparsed")
    assert log.getvalue() == "50 of 100 articles reparsed (5/s)\n"
    progress._logged -= LOG_EVERY
    progress.count(70, None, "articles exported")
    assert log.getvalue().endswith("\n70 articles exported (7/s)\n")
    progress.close()
    assert log.getvalue().count("\n") == 2


def test_a_terminal_gets_a_bar_that_is_gone_before_the_summary() -> None:
    terminal = Terminal()
    progress = ProgressLine(terminal)
    progress.count(3, 10, "articles reparsed")
    progress.count(5, 10, "articles reparsed")  # within a tenth of a second: not redrawn
    progress._updated -= 1
    progress.count(7, 10, "articles reparsed")
    progress.close()
    shown = terminal.getvalue()
    assert "articles reparsed" in shown and "7/10" in shown and "5/10" not in shown
    assert shown.endswith("\x1b[1A\x1b[2K"), "the bar is erased (cursor up, erase line)"


# --- the crawl's live line (crawler/progress.py), in-process with Scrapy's get_crawler ---

def _progress(stream: io.StringIO) -> Progress:
    crawler = get_crawler()
    crawler.stats = MemoryStatsCollector(crawler)
    crawler.stats.set_value("response_received_count", 12)
    crawler.stats.set_value("pdarchive/new", 5)
    crawler.stats.set_value("pdarchive/column", "360300")
    return Progress(crawler, 0.5, stream=stream)


def test_a_crawl_logs_a_plain_line_a_minute_whatever_the_log_level() -> None:
    log = io.StringIO()
    progress = _progress(log)
    assert progress.interval == LOG_EVERY
    progress.opened()
    try:
        progress.show()
    finally:
        progress.closed()
    assert log.getvalue().startswith("progress: column 360300 | pages 12 | new 5 |")
    assert log.getvalue().count("\n") == 1


def test_log_lines_go_above_the_live_line_on_a_terminal() -> None:
    terminal = Terminal()
    handler = logging.StreamHandler(terminal)
    root = logging.getLogger()
    root.addHandler(handler)
    progress = _progress(terminal)
    try:
        progress.opened()
        assert handler.stream is not terminal, "the handler writes above the live line"
        progress._tick()
        logging.getLogger("scrapy.core.scraper").warning("a warning from Scrapy")
        progress._tick()
        progress.closed()
        assert handler.stream is terminal
    finally:
        root.removeHandler(handler)
    shown = terminal.getvalue()
    assert "a warning from Scrapy\n" in shown
    warning_at = shown.index("a warning from Scrapy")
    # the warning starts on a cleared line, not on the end of the progress line
    assert shown[:warning_at].endswith(("\x1b[2K", "\n")), repr(shown[warning_at - 40:warning_at])
    assert "pages 12" in shown
