"""A local crawl's archive writes, in a process of their own.

Storing and indexing an article costs about as much CPU as downloading it; on the
crawl's reactor thread that work stalled the downloads (a writer *thread* gains
nothing: the GIL). So the pipeline hands each item to a writer process, which
stores it with ``ItemWriter``, the write path ``pdarchive ingest`` uses, and
answers when it is committed.

Commits are grouped: the writer keeps one transaction open for up to
``BATCH_ITEMS`` items or ``BATCH_SECONDS`` (``Archive.begin_batch``), each item in
it whole or not at all, with its pages and its counts in the run row: an item that
fails halfway rolls the batch back, and the batch's other items are written again.
The full-text index then writes one segment per batch instead of one per article,
and merges far less. An
item counts as stored (in the crawl's stats, the progress line, a feed) only once
its batch is committed, and items are committed in the order the spider yielded
them, so what the archive holds is always a prefix of the crawl: a ``kill -9`` costs
at most the last batch, which the next crawl fetches again (its run is left
``running``, so it walks every column to the end).

The pipes are the process's lifeline: the writer stops, rolling back the open
batch, as soon as the crawl's end of its pipe closes (the crawl died), and ignores
Ctrl-C and SIGTERM, which the crawl turns into an orderly finish. The crawl learns
that the writer died from its own pipe's end of file.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import sqlite3
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from archive.export import export_record
from archive.group_commit import GroupCommit
from archive.store import Archive, ArchiveError, RunCounts, storage_problem
from archive.topics import topics_from_config
from crawler.config import load_config
from crawler.helper_process import become_helper
from crawler.items import ArticleItem, FailureItem, ListPageItem, PictureItem
from crawler.writer import ItemWriter

#: items written in one transaction at most
BATCH_ITEMS = 64
#: seconds a transaction stays open at most, however few items it holds
BATCH_SECONDS = 0.25
#: seconds the crawl waits for the writer to open the archive, or to finish the run
ANSWER_TIMEOUT = 120.0

#: how the writer answers for a message: done (with its result), this item not
#: stored, or nothing can be written (for every item, when its sequence is None)
DONE, NOT_STORED, UNWRITABLE = "done", "not stored", "unwritable"

logger = logging.getLogger(__name__)


class WriterUnavailable(Exception):
    """The archive cannot be written (its reason, one line), or the writer is gone."""


class ItemNotStored(Exception):
    """This item could not be stored (a bug in writing it); the others are."""


@dataclass(frozen=True)
class Stored:
    """A committed item: the counts it took, and for an article its exported record
    (the stored article, or None when nothing is stored under its id)."""

    counts: tuple[str, ...]
    record: dict[str, Any] | None


@dataclass(frozen=True)
class RunEnd:
    """How the crawl ended, as the crawl process knows it; the writer adds what it
    knows (the run's verdict from what it wrote) and records the run."""

    reason: str
    #: why the run failed, when the crawl decided it (the site could not be reached)
    failed: str
    requests: int
    complete_columns: list[str]


class WriterProcess:
    """The crawl's side of the writer process.

    ``start`` opens the archive and the run (blocking); ``submit`` queues an item and
    returns a Future of its ``Stored``; ``finish`` records the run's end and returns
    its status and message; ``close`` ends the process without recording the end (a
    forced stop: what was written is committed first).
    """

    def __init__(self, db: str | Path, config_path: str | None) -> None:
        self.db = str(db)
        self.config_path = config_path
        context = multiprocessing.get_context("spawn")  # a fork would copy the reactor
        # (a one-way Pipe is its reading end, then its writing end)
        items_end, self._items = context.Pipe(duplex=False)
        self._answers, answers_end = context.Pipe(duplex=False)
        self._process = context.Process(
            target=serve, args=(items_end, answers_end, self.db, config_path),
            name="pdarchive-writer", daemon=True)
        self._process.start()
        items_end.close()  # ours closed: the writer sees end of file when we die
        answers_end.close()
        self._lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._sequence = 0
        #: why nothing more can be written, once known
        self.unavailable = ""
        self._outbox: list[tuple[Any, ...] | None] = []
        self._outbox_ready = threading.Condition()
        threading.Thread(target=self._send_loop, name="pdarchive-writer-send",
                         daemon=True).start()
        threading.Thread(target=self._receive_loop, name="pdarchive-writer-receive",
                         daemon=True).start()

    # -- the two pipes --------------------------------------------------------------

    def _send_loop(self) -> None:
        """Send what is queued, in order, all that waits in one message. A thread of
        its own: a send blocks while the writer is busy with a transaction, which must
        never stall the reactor."""
        while True:
            with self._outbox_ready:
                while not self._outbox:
                    self._outbox_ready.wait()
                batch, self._outbox = self._outbox, []
            last = batch[-1] is None
            try:
                self._items.send([message for message in batch if message is not None])
            except OSError:  # the writer is gone; the receiving side says why
                return
            if last:
                self._items.close()
                return

    def _receive_loop(self) -> None:
        while True:
            try:
                answers = self._answers.recv()
            except (EOFError, OSError):
                # (its exit code is not read here: only the thread that started it
                # may reap it)
                self._fail_all(self.unavailable
                               or "the archive's writer process ended unexpectedly")
                return
            for sequence, outcome, value in answers:
                if outcome == UNWRITABLE and sequence is None:  # every item from now on
                    self._fail_all(value)
                    continue
                with self._lock:
                    future = self._pending.pop(sequence, None)
                if future is None:
                    continue
                if outcome == DONE:
                    future.set_result(value)
                else:
                    future.set_exception(ItemNotStored(value) if outcome == NOT_STORED
                                         else WriterUnavailable(value))

    def _fail_all(self, reason: str) -> None:
        with self._lock:
            self.unavailable = self.unavailable or reason
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(WriterUnavailable(self.unavailable))

    def _ask(self, kind: str, payload: Any, *, even_if_unwritable: bool = False
             ) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self.unavailable and not (even_if_unwritable and self._process.is_alive()):
                future.set_exception(WriterUnavailable(self.unavailable))
                return future
            self._sequence += 1
            self._pending[self._sequence] = future
            message = (kind, self._sequence, payload)
        with self._outbox_ready:
            self._outbox.append(message)
            self._outbox_ready.notify()
        return future

    # -- what the pipeline asks -----------------------------------------------------

    def start(self, run_args: dict[str, Any], columns: list[str]) -> int:
        """Open the archive and start a run in it: the run's id."""
        return int(self._ask("start", (run_args, columns)).result(ANSWER_TIMEOUT))

    def submit(self, item: object) -> Future[Stored]:
        return self._ask("item", item)

    def finish(self, end: RunEnd) -> tuple[str, str]:
        """Commit what is left, record the run's end: its status and message."""
        try:
            status, message = self._ask("finish", end, even_if_unwritable=True).result(
                ANSWER_TIMEOUT)
        finally:
            self._end(ask_to_close=False)
        return status, message

    def close(self) -> None:
        """Let the writer commit what it holds and end, without recording the run's
        end (a forced stop), and wait for it."""
        self._end(ask_to_close=True)

    def _end(self, *, ask_to_close: bool, timeout: float = ANSWER_TIMEOUT) -> None:
        with self._outbox_ready:
            if ask_to_close:
                self._outbox.append(("close", 0, None))
            self._outbox.append(None)
            self._outbox_ready.notify()
        self._process.join(timeout)
        if self._process.is_alive():
            logger.error("the archive's writer did not end in %g s; killed", timeout)
            self._process.kill()
            self._process.join()


# -- the writer process ---------------------------------------------------------------

class _Writer:
    """The writer process's state: the archive, the run's ItemWriter and the open
    batch (GroupCommit), whose answers wait for its commit."""

    def __init__(self, answers: Connection, db: str, config_path: str | None) -> None:
        self.answers = answers
        self.db = db
        self.config = load_config(config_path)
        self.archive: Archive | None = None
        self.writer: ItemWriter | None = None
        self.group: GroupCommit[tuple[int, object]] | None = None
        self.deadline = 0.0
        self.counted: list[str] = []
        #: answers not sent yet
        self.outgoing: list[tuple[int | None, str, Any]] = []
        #: why the archive cannot be written, once it could not
        self.broken = ""

    @property
    def in_batch(self) -> bool:
        return self.archive is not None and self.archive.in_batch

    def answer(self, answer: tuple[int | None, str, Any]) -> None:
        self.outgoing.append(answer)

    def send_answers(self) -> None:
        """The answers so far, in one message (a batch's all at once: one wake-up of
        the crawl's reader rather than one an item)."""
        if self.outgoing:
            self.answers.send(self.outgoing)
            self.outgoing = []

    def start(self, sequence: int, run_args: dict[str, Any], columns: list[str]) -> None:
        self.archive = Archive(self.db)
        run_id = self.archive.start_run(run_args, columns)
        writer = self.writer = ItemWriter(self.archive, run_id,
                                          retry_after=self.config.failure_retry_after,
                                          retry_max=self.config.failure_retry_max,
                                          on_count=self.counted.append,
                                          topics=topics_from_config(self.config.extra))
        self.group = GroupCommit(self.archive, size=BATCH_ITEMS, on_commit=self._stored,
                                 on_failure=self._not_stored, snapshot=writer.state,
                                 restore=writer.restore)
        self.answer((sequence, DONE, run_id))

    def write(self, sequence: int, item: object) -> None:
        assert self.group is not None, "started first"
        if self.broken:
            self.answer((sequence, UNWRITABLE, self.broken))
            return
        if not self.in_batch:
            self.deadline = time.monotonic() + BATCH_SECONDS
        self.group.write((sequence, item), partial(self._store, item))

    def _store(self, item: object) -> Stored:
        archive, writer = self.archive, self.writer
        assert archive is not None and writer is not None
        self.counted.clear()
        writer.write(item)
        for key in self.counted:
            archive.count_in_run(writer.run_id, key)
        stored = archive.article(item.article_id) if isinstance(item, ArticleItem) else None
        return Stored(tuple(self.counted), export_record(stored) if stored else None)

    def _stored(self, key: tuple[int, object], stored: Stored) -> None:
        self.answer((key[0], DONE, stored))

    def _not_stored(self, key: tuple[int, object], error: Exception) -> None:
        """An item that cannot be stored for a reason of its own (a bug, a value the
        archive refuses): the crawl goes on, and its page is recorded as failed, so
        the next crawl fetches it again."""
        sequence, item = key
        reason = f"cannot be stored: {type(error).__name__}: {error}"
        logger.error("%s %s", type(item).__name__, reason)
        self.answer((sequence, NOT_STORED, f"not stored: {reason}"))
        about = _fetched_url(item)
        if about is not None and self.group is not None and self.writer is not None:
            failure = FailureItem(about, "store", reason, None,
                                  getattr(item, "article_id", None),
                                  getattr(item, "column_id", None))
            self.group.write((0, failure), partial(self.writer.write, failure))

    def commit(self) -> None:
        """Commit the batch, then tell the crawl which items it held."""
        if self.group is not None:
            self.group.commit()

    def rollback(self) -> None:
        if self.group is not None and self.in_batch:
            self.group.rollback()

    def unwritable(self, error: sqlite3.Error) -> None:
        """The archive failed under us (a full disk, a file made read-only): what the
        batch held is lost to this crawl, and fetched again by the next one."""
        self.rollback()
        self.broken = storage_problem(error, Path(self.db))
        self.answer((None, UNWRITABLE, self.broken))

    def finish(self, sequence: int, end: RunEnd) -> None:
        archive, writer = self.archive, self.writer
        assert archive is not None and writer is not None, "started first"
        try:
            self.commit()
        except sqlite3.Error as error:
            self.unwritable(error)
        status, message = "failed", end.failed or self.broken
        if not message:
            status, message = writer.verdict(end.reason)
        counts: RunCounts = writer.counts
        counts.requests = end.requests
        try:
            archive.finish_run(writer.run_id or 0, counts, status, message,
                               end.complete_columns if status in ("finished", "warning")
                               else [])
        except sqlite3.Error as error:
            # With the disk full even this may fail: the next crawl marks the run
            # interrupted. What was committed before is whole either way.
            if not self.broken:
                self.broken = storage_problem(error, Path(self.db))
            status, message = "failed", self.broken
        self.answer((sequence, DONE, (status, message)))

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()


def _fetched_url(item: object) -> str | None:
    """The URL an item is about (an article's first page), None for a failure."""
    if isinstance(item, ArticleItem):
        pages = next(iter(item.editions.values()), [])
        return pages[0].fetched.url if pages else None
    if isinstance(item, ListPageItem | PictureItem):
        return item.fetched.url
    return None


def serve(items: Connection, answers: Connection, db: str, config_path: str | None) -> None:
    """The writer process: write what arrives until told to finish or to close, or
    until the crawl's end of the pipe closes (the crawl died: the open batch is rolled
    back, and fetched again by the next crawl)."""
    become_helper("pdarchive-write")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    state = _Writer(answers, db, config_path)
    kind = ""
    try:
        while True:
            try:
                # (when the deadline is past, what arrived comes first: the crawl's
                # end of file among it, after which nothing may be committed)
                wait = max(0.0, state.deadline - time.monotonic())
                if state.in_batch and not items.poll(wait):
                    kind = "commit"
                    state.commit()
                    state.send_answers()
                    continue
                for kind, sequence, payload in items.recv():
                    if kind == "start":
                        state.start(sequence, *payload)
                    elif kind == "item":
                        state.write(sequence, payload)
                    elif kind == "finish":
                        state.finish(sequence, payload)
                        state.send_answers()
                        return
                    elif kind == "close":  # a forced stop: every item received is whole
                        state.commit()
                        return
            except (sqlite3.Error, ArchiveError) as error:
                if kind == "start":
                    answers.send([(sequence, UNWRITABLE, str(error) if isinstance(
                        error, ArchiveError) else storage_problem(error, Path(db)))])
                    return
                assert isinstance(error, sqlite3.Error)
                state.unwritable(error)
            state.send_answers()
    except (EOFError, OSError):  # the crawl is gone (its end of a pipe closed)
        state.rollback()
    finally:
        state.close()
