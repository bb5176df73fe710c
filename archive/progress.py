"""Progress of long work on standard error: ``reparse``, ``reindex``, ``export``.

On a terminal, a rich progress bar (what, how many of how many, the rate, the time
left) refreshed in place and gone before the summary line. Otherwise (a log file,
cron mail) a plain line a minute, so a log shows the work alive without filling up.
The crawl's live line (crawler/progress.py) follows the same rules.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

#: seconds between two lines when standard error is not a terminal
LOG_EVERY = 60.0
#: seconds between two updates of the bar (rich redraws it ten times a second)
BAR_EVERY = 0.1


class ProgressLine:
    def __init__(self, stream: TextIO = sys.stderr, log_every: float = LOG_EVERY) -> None:
        self.stream = stream
        self.interactive = stream.isatty()
        self.log_every = log_every
        self.started = time.monotonic()
        self._logged = self.started
        self._updated = 0.0
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def count(self, done: int, total: int | None, what: str) -> None:
        """``done`` of ``total`` (None: not known) ``what`` so far."""
        now = time.monotonic()
        if self.interactive:
            if now - self._updated >= BAR_EVERY or done == total:
                self._updated = now
                self._show(done, total, what)
            return
        if now - self._logged < self.log_every:
            return
        self._logged = now
        rate = done / max(now - self.started, 1e-6)
        of = f" of {total}" if total is not None else ""
        self.stream.write(f"{done}{of} {what} ({rate:.0f}/s)\n")
        self.stream.flush()

    def _show(self, done: int, total: int | None, what: str) -> None:
        if self._bar is None:
            # imported here: rich costs 25 ms of start-up that a log never needs
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                console=Console(file=self.stream), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(what, total=total, rate="")
        assert self._task is not None
        rate = done / max(time.monotonic() - self.started, 1e-6)
        self._bar.update(self._task, completed=done, total=total, description=what,
                         rate=f"{rate:.0f}/s")

    def close(self) -> None:
        """Take the bar off the terminal before the summary is printed."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
