"""The archive's write lock: one writer per archive file at a time.

Taken by every command that writes articles: ``pdarchive crawl``, ``ingest`` (the
writer of a distributed crawl), ``reparse`` and ``reindex``, so that none writes an
archive another is writing.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .store import ArchiveError


class CrawlLocked(RuntimeError):
    """Another command is writing this archive."""


def lock_path(db: Path) -> Path:
    """The lock file of the archive at ``db``: beside the file ``db`` really is."""
    real = Path(os.path.realpath(db))
    return real.with_name(real.name + ".lock")


@contextmanager
def crawl_lock(db: Path, command: str = "crawl") -> Iterator[None]:
    """An exclusive lock beside the archive for the length of a crawl (or of another
    ``pdarchive command`` that writes it); the lock file names the holder.

    ``flock`` is released by the kernel when its process dies, so a lock left by a
    crawl killed with ``kill -9`` is free again at once: nothing to clean up (the
    file stays, naming the last holder, and is reused).

    The lock file sits beside the archive's real path (symlinks resolved): the same
    file reached through a symlink, or through a symlinked directory, is one archive
    with one lock.
    """
    path = lock_path(db)
    try:
        handle = open(path, "a+")  # noqa: SIM115 (held open for the lock's lifetime)
    except OSError as error:
        raise ArchiveError(f"cannot write beside {db}: the lock file {path}: "
                           f"{error.strerror}") from error
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise CrawlLocked(
                f"{db} is being written by {holder}; this {command} exits without starting"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} (pdarchive {command})")
        handle.flush()
        yield
    finally:
        handle.close()
