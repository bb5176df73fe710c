"""The progress line of long work outside a crawl (archive/progress.py)."""

from __future__ import annotations

import io

from archive.progress import ProgressLine


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_a_plain_line_at_most_every_ten_seconds() -> None:
    log = io.StringIO()
    progress = ProgressLine(log)
    progress.count(1, 100, "articles reparsed")
    assert log.getvalue() == "", "a line before ten seconds have passed"
    progress._shown -= 10
    progress.started -= 10
    progress.count(50, 100, "articles reparsed")
    assert log.getvalue() == "50 of 100 articles reparsed (5/s)\n"
    progress.close()
    assert log.getvalue().count("\n") == 1


def test_a_terminal_gets_one_line_refreshed_in_place_and_cleared() -> None:
    terminal = Terminal()
    progress = ProgressLine(terminal)
    progress._shown -= 1
    progress.count(3, 10, "articles reparsed")
    assert terminal.getvalue().startswith("\r\x1b[K3 of 10 articles reparsed (")
    assert "\n" not in terminal.getvalue()
    progress.close()
    assert terminal.getvalue().endswith("\r\x1b[K")
