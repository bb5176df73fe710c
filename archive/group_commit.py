"""Many writes, one commit: the group commit of a crawl's writer, reparse and import.

Each write is a callable that makes one whole change (an article with its pages,
its index rows and its counts). ``GroupCommit`` runs them inside one transaction
(``Archive.begin_batch``: no savepoint per write, the full-text index written once
per batch) and commits every ``size`` writes, or when told. A write that fails for a
reason of its own (``concerns_the_row``: a constraint, a bug) spoils the batch: it is
rolled back, its other writes run again, and the failed one is reported, not
committed. Any other error (a full disk, a damaged file) rolls the batch back and
propagates: nothing of the batch was committed.

What a write returns is handed to ``on_commit`` once it is committed, never before,
so nothing is reported stored that a crash could still take back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .store import Archive, concerns_the_row

Key = TypeVar("Key")

#: writes per transaction by default
BATCH_SIZE = 64


class GroupCommit(Generic[Key]):
    """``write(key, change)`` runs ``change()`` in the open batch; ``commit()`` ends
    it. ``on_commit(key, result)`` is told of each committed write, ``on_failure(key,
    error)`` of each that failed for its own reason; ``snapshot``/``restore`` save and
    put back what the writes count in memory (an ItemWriter's counts) when a batch is
    replayed."""

    def __init__(self, archive: Archive, *,
                 on_commit: Callable[[Key, Any], None],
                 on_failure: Callable[[Key, Exception], None],
                 size: int = BATCH_SIZE,
                 snapshot: Callable[[], Any] | None = None,
                 restore: Callable[[Any], None] | None = None) -> None:
        self.archive = archive
        self.size = size
        self.on_commit = on_commit
        self.on_failure = on_failure
        self.snapshot = snapshot
        self.restore = restore
        self._writes: list[tuple[Key, Callable[[], Any]]] = []
        self._results: list[tuple[Key, Any]] = []
        self._failures: list[tuple[Key, Exception]] = []
        self._before: Any = None

    @property
    def pending(self) -> int:
        """Writes (and failures) waiting for the commit."""
        return len(self._results) + len(self._failures)

    def write(self, key: Key, change: Callable[[], Any]) -> None:
        if not self.archive.in_batch:
            self.archive.begin_batch()
            self._before = self.snapshot() if self.snapshot is not None else None
        try:
            result = change()
        except Exception as error:
            if not concerns_the_row(error):
                self.rollback()
                raise
            self._replay()
            self._failures.append((key, error))
        else:
            self._writes.append((key, change))
            self._results.append((key, result))
        if self.pending >= self.size:
            self.commit()

    def _replay(self) -> None:
        """The batch without the write that just failed halfway."""
        self.archive.rollback_batch()
        if self.restore is not None:
            self.restore(self._before)
        self.archive.begin_batch()
        self._results = [(key, change()) for key, change in self._writes]

    def commit(self) -> None:
        if self.archive.in_batch:
            try:
                self.archive.commit_batch()
            except BaseException:
                self._forget()
                raise
        results, failures = self._results, self._failures
        self._forget()
        for key, error in failures:
            self.on_failure(key, error)
        for key, result in results:
            self.on_commit(key, result)

    def rollback(self) -> None:
        """Give up the open batch: none of its writes is committed or reported, nor
        counted (``restore``)."""
        self.archive.rollback_batch()
        if self.restore is not None and self._writes:
            self.restore(self._before)
        self._forget()

    def _forget(self) -> None:
        self._writes, self._results, self._failures = [], [], []
