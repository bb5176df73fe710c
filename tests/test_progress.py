"""The progress of long work outside a crawl (archive/progress.py)."""

from __future__ import annotations

import io

from archive.progress import LOG_EVERY, ProgressLine


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
