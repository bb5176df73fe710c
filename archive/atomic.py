"""Write a file so that readers see the old one or the whole new one, never half."""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def _atomic_file(path: Path, mode: str, **options: Any) -> Iterator[IO[Any]]:
    """A temporary file beside ``path``, renamed over it only when the block succeeds.

    SIGINT and SIGTERM wait while the temporary file is made: one arriving between
    its creation and the moment the clean-up knows its name would leave it behind.
    A signal held meanwhile is raised as the mask is restored, inside the clean-up.
    """
    path = path.resolve()
    temporary: str | None = None
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        try:
            fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part",
                                             dir=path.parent)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        with os.fdopen(fd, mode, **options) as out:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)  # as open() would have made it, not mkstemp's 0600
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise


def atomic_text_file(path: Path, encoding: str = "utf-8", newline: str | None = None
                     ) -> AbstractContextManager[IO[str]]:
    return _atomic_file(path, "w", encoding=encoding, newline=newline)


def atomic_binary_file(path: Path) -> AbstractContextManager[IO[bytes]]:
    return _atomic_file(path, "wb")
