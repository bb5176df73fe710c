"""``pdarchive schedule``: run crawls on a timetable, in the foreground.

For containers and tmux, where there is no cron. Each crawl runs in a fresh
``python -m archive.cli crawl`` process: Scrapy's reactor cannot be restarted in
one process, and a crawl that crashes must not take the schedule with it. Every
run logs one line with its exit status; a failed run is logged and the schedule
goes on. Ctrl-C lets a running crawl stop cleanly and exits 130; SIGTERM (``docker
stop``, systemd) does the same and exits 0.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType

from croniter import croniter

#: the default jitter: this share of the period, but never more than MAX_JITTER
JITTER_SHARE = 0.05
MAX_JITTER = 600.0

#: what ``pdarchive crawl``'s exit codes mean, for the log line
EXIT_MEANINGS = {
    0: "ok", 1: "failed", 2: "usage error or unusable archive",
    3: "warning: a walk stopped early or the site's layout may have changed",
    4: "locked: another crawl is running",
    5: "the archive could not be written",
    6: "the site could not be reached or refused the crawl", 130: "interrupted",
}


class ScheduleError(ValueError):
    """A timetable that cannot be used (a bad cron expression, a zero period)."""


class _Terminated(Exception):
    """SIGTERM arrived while no crawl was running: stop at once."""


def now() -> datetime:
    return datetime.now().astimezone()


@dataclass
class Timetable:
    """When runs are due: every ``every`` seconds from the start, or at the times of
    the cron expression ``cron`` (local time); each plus a random delay of up to
    ``jitter`` seconds, so that many archives do not hit the site in the same second.
    """

    every: float | None = None
    cron: str | None = None
    jitter: float | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise ScheduleError("give either --every or --cron")
        if self.every is not None and self.every <= 0:
            raise ScheduleError("--every needs a period longer than zero")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ScheduleError(f"not a cron expression: {self.cron!r} (e.g. \"0 * * * *\")")
        if self.jitter is None:
            self.jitter = min(JITTER_SHARE * self.period(), MAX_JITTER)

    def period(self) -> float:
        """Seconds between runs (for cron: between its next two times)."""
        if self.every is not None:
            return self.every
        times = croniter(self.cron, now())
        first = times.get_next(datetime)
        return (times.get_next(datetime) - first).total_seconds()

    def _delay(self) -> timedelta:
        return timedelta(seconds=self.rng.uniform(0, self.jitter or 0))

    def first(self, start: datetime) -> tuple[datetime, datetime]:
        """(slot, run time) of the first run: at once for --every (someone just
        started it), the next cron time otherwise."""
        if self.every is not None:
            return start, start
        slot = croniter(self.cron, start).get_next(datetime)
        return slot, slot + self._delay()

    def following(self, slot: datetime, finished: datetime) -> tuple[datetime, datetime]:
        """(slot, run time) of the run after the one of ``slot``, which ended at
        ``finished``. Slots a long crawl overran are skipped, not caught up on."""
        if self.every is not None:
            step = timedelta(seconds=self.every)
            slot += step
            while slot <= finished:
                slot += step
        else:
            slot = croniter(self.cron, max(slot, finished)).get_next(datetime)
        return slot, slot + self._delay()


@dataclass
class Scheduler:
    """Runs ``pdarchive crawl`` with ``crawl_args`` on ``timetable``."""

    timetable: Timetable
    crawl_args: Sequence[str]
    max_runs: int | None = None
    log: Callable[[str], None] = field(
        default=lambda line: print(line, file=sys.stdout, flush=True))
    _terminating: bool = field(default=False, init=False)
    _child: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def _say(self, message: str) -> None:
        self.log(f"{now().isoformat(timespec='seconds')} pdarchive schedule: {message}")

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        # Only plain assignments and raising here: a handler that takes a lock can
        # deadlock with the main thread it interrupts.
        self._terminating = True
        child = self._child
        if child is None or child.returncode is not None:
            raise _Terminated
        child.send_signal(signal.SIGINT)  # the crawl's own clean shutdown; then stop

    def _crawl(self) -> tuple[int, bool]:
        """Run one crawl; (its exit code, whether Ctrl-C arrived meanwhile).

        The crawl runs in a session of its own, so Ctrl-C on the terminal reaches
        only this process, which passes each one on: the first stops the crawl
        cleanly, a second forces it, as when the crawl runs by itself.
        """
        command = [sys.executable, "-m", "archive.cli", "crawl", *self.crawl_args]
        self._child = subprocess.Popen(command, start_new_session=True)
        interrupted = False
        try:
            while True:
                try:
                    return self._child.wait(), interrupted
                except KeyboardInterrupt:
                    interrupted = True
                    self._child.send_signal(signal.SIGINT)
        finally:
            self._child = None

    def run(self) -> int:
        """Run until Ctrl-C (130), SIGTERM (0) or ``max_runs`` runs (0)."""
        previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            return self._loop()
        except KeyboardInterrupt:
            self._say("interrupted, stopping")
            return 130
        except _Terminated:
            self._say("stopped (SIGTERM)")
            return 0
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _loop(self) -> int:
        runs = 0
        slot, due = self.timetable.first(now())
        while True:
            if due > now():
                self._say(f"next run at {due.isoformat(timespec='seconds')}")
                time.sleep(max((due - now()).total_seconds(), 0))
            runs += 1
            started = now()
            self._say(f"run {runs} started")
            code, interrupted = self._crawl()
            finished = now()
            meaning = (f"killed by signal {-code}" if code < 0
                       else EXIT_MEANINGS.get(code, "crashed"))
            self._say(f"run {runs} exited {code} ({meaning}) after "
                      f"{(finished - started).total_seconds():.1f} s")
            if interrupted:
                self._say("interrupted, stopping")
                return 130
            if self._terminating:
                self._say("stopped (SIGTERM)")
                return 0
            if self.max_runs is not None and runs >= self.max_runs:
                return 0
            slot, due = self.timetable.following(slot, finished)
