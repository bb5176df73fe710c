"""Progress of long work outside a crawl (``reparse``, ``reindex``) on standard error.

On a terminal, one line refreshed in place at most every half second; otherwise (a
log file, cron mail) a plain line every ten seconds, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.interactive = stream.isatty()
        self.interval = 0.5 if self.interactive else 10.0
        self.started = time.monotonic()
        self._shown = self.started

    def count(self, done: int, total: int, what: str) -> None:
        """Show ``done`` of ``total`` ``what`` and the rate, if it is time to."""
        now = time.monotonic()
        if now - self._shown < self.interval:
            return
        self._shown = now
        rate = done / max(now - self.started, 1e-6)
        line = f"{done} of {total} {what} ({rate:.0f}/s)"
        if self.interactive:
            self.stream.write("\r\x1b[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Clear the refreshed line before the summary is printed."""
        if self.interactive:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
