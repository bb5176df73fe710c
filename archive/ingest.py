"""``pdarchive ingest``: the one writer of a distributed crawl.

Workers push finished items to ``pdarchive:items`` (crawler/distributed.py). Ingest
takes them one at a time, oldest first, moving each into ``items:processing``
(BLMOVE); writes it with ItemWriter, the write path of a local crawl, in one SQLite
transaction together with the item's id (table ``ingest_log``, one row); and only
then removes it from ``items:processing``. An ingest stopped between its commit and
that removal finds the item again when it next starts, and the id committed with it
says it is written. So every item is written once, in the order workers finished
them, and nothing a worker pushed is lost.

An item that cannot be read (not an item of this version, a page body that would
inflate beyond the job's ``max_response_bytes``) or cannot be written (a title that is
null: a constraint of the archive, or anything else that concerns that item alone)
goes to the dead letters, ``pdarchive:items:dead``, with the reason; the page it is
about is recorded as failed, so the next job fetches it again; and ingest goes on. A
fault of the archive itself (a full disk) stops ingest instead: the item stays in
``items:processing`` for the next one.

Ingest keeps the run record too: it opens a run in the archive for each job (or
resumes the job's run after a restart), counts in it item by item in the same
transactions, and finishes it once the job has drained: nothing queued, in flight or
waiting to be written. Between items it puts back the requests of dead workers, so a
job resumes when new workers come even if every worker died.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crawler import itemcodec
from crawler.config import Config
from crawler.frontier import DEAD, Frontier, IngestRunning
from crawler.items import FailureItem
from crawler.writer import ItemWriter

from .store import Archive, RunCounts, concerns_the_row, utc_now
from .topics import topics_from_config

logger = logging.getLogger(__name__)

#: the run counters ItemWriter reports, each a column of ``runs``
COUNTERS = ("new", "updated", "unchanged", "failed", "fallback")


@dataclass
class IngestResult:
    """A job ingest saw drain, and its run."""

    job_id: str
    run_id: int
    status: str
    message: str
    counts: RunCounts
    #: items of the job this ingest moved to the dead letters
    dead: int = 0

    def summary(self) -> str:
        counts = self.counts
        line = (f"job {self.job_id} {self.status}: {counts.requests} requests, {counts.new} new, "
                f"{counts.updated} updated, {counts.unchanged} unchanged, {counts.failed} failed"
                f" (run {self.run_id})")
        if self.dead:
            line += (f"; {self.dead} items could not be read or written: moved to the dead "
                     f"letters ({DEAD}), their pages recorded as failed")
        return f"{line}\n{self.message}" if self.message else line


class Ingest:
    #: seconds the ingest lock in Redis lives without a refresh
    LOCK_TTL = 15
    #: seconds to wait for an item before looking at the frontier again
    POLL = 0.1
    #: seconds between refreshing the lock, reading the job, reaping dead workers
    HOUSEKEEPING = 1.0

    def __init__(self, frontier: Frontier, archive: Archive) -> None:
        self.frontier = frontier
        self.archive = archive
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.job: dict[str, Any] | None = None
        self.run_id: int | None = None
        self.writer: ItemWriter | None = None
        self.on_finish: Callable[[IngestResult], None] = lambda result: None
        #: items moved to the dead letters since the job's run was opened here
        self.dead = 0
        with archive.transaction():
            archive.db.execute(
                "CREATE TABLE IF NOT EXISTS ingest_log (id INTEGER PRIMARY KEY CHECK (id = 1), "
                "item_id TEXT NOT NULL, job TEXT, ingested_at TEXT)")

    def run(self, *, drain: bool,
            on_finish: Callable[[IngestResult], None] = lambda result: None) -> None:
        """Write items as they come; with ``drain``, return once the job has drained
        (at once if there is no job, or its run is already finished). ``on_finish`` is
        told of every job whose run it finished."""
        self.on_finish = on_finish
        with self.frontier.ingest_lock(self.owner, self.LOCK_TTL):
            self._sync_job()
            for left in self.frontier.processing():  # by an ingest that stopped
                self._write(left)
            checked = time.monotonic()
            while True:
                if time.monotonic() - checked >= self.HOUSEKEEPING:
                    self._sync_job()
                    checked = time.monotonic()
                data = self.frontier.take_item(self.POLL)
                if data is not None:
                    self._write(data)
                    continue
                if self.job is None or self.run_id is None:
                    if drain:
                        return
                    continue
                if self.frontier.snapshot().drained:
                    self._finish()
                    if drain:
                        return

    # -- the job and its run --------------------------------------------------------

    def _sync_job(self) -> None:
        holder = self.frontier.hold_ingest(self.owner, self.LOCK_TTL)
        if holder is not None:
            raise IngestRunning(f"ingest {holder} took over this frontier's items")
        job = self.frontier.job()
        if job is None:
            return
        self.frontier.reap(float(job["dead_after"]))
        if self.job is not None and job["id"] == self.job["id"]:
            return
        if self.run_id is not None:  # the last job drained, and the next one began
            self._finish()
        self.job = job
        if self.frontier.finished_job() == job["id"]:
            return
        row = self.archive.db.execute(
            "SELECT id, status, requests, new, updated, unchanged, failed, fallback FROM runs "
            "WHERE json_extract(args, '$.redis_job') = ? ORDER BY id DESC LIMIT 1",
            [job["id"]]).fetchone()
        if row and row[1] != "running":  # finished by an ingest that stopped right after
            self.frontier.mark_finished(job["id"])
        else:  # resume the run an ingest that stopped left open, or begin one
            self._open_run(row and (row[0], RunCounts(*row[2:])))

    def _open_run(self, resume: tuple[int, RunCounts] | None = None) -> None:
        job = self.job
        assert job is not None
        if resume:
            self.run_id, counts = resume
        else:
            self.run_id = self.archive.start_run({
                "editions": job["editions"], "max_list_pages": job["max_list_pages"],
                "full": job["full"], "config": job["config"], "redis_job": job["id"],
            }, columns=job["columns"])
            counts = RunCounts()
        # The archive-side settings of seed's configuration: failure backoff, topics.
        self.writer = ItemWriter(
            self.archive, self.run_id, retry_after=job.get("failure_retry_after"),
            retry_max=job.get("failure_retry_max"), on_count=self._bump, counts=counts,
            topics=topics_from_config({"topics": job.get("topics") or {}}))

    def _bump(self, key: str) -> None:
        """Count in the run row, in the item's transaction: counts survive a restart."""
        if key in COUNTERS:
            self.archive.db.execute(f"UPDATE runs SET {key} = {key} + 1 WHERE id = ?",
                                    [self.run_id])

    def _finish(self) -> None:
        job, writer, run_id = self.job, self.writer, self.run_id
        assert job is not None and writer is not None and run_id is not None
        counts = writer.counts
        counts.requests = self.frontier.requests()
        status, message = writer.verdict("finished")
        walks = self.frontier.walks()
        complete = [column for column in job["columns"] if walks.get(column)]
        self.archive.finish_run(run_id, counts, status, message, complete)
        self.frontier.mark_finished(job["id"])
        self.run_id = self.writer = None
        self.on_finish(IngestResult(job["id"], run_id, status, message, counts, self.dead))
        self.dead = 0

    # -- items ----------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self.job is None:
            self._sync_job()
        limit = int((self.job or {}).get("max_response_bytes") or Config.max_response_bytes)
        pictures = int((self.job or {}).get("max_picture_bytes") or Config.max_picture_bytes)
        try:
            envelope = itemcodec.decode(data, max_body_bytes=limit, max_picture_bytes=pictures)
        except itemcodec.UndecodableItem as error:
            self._dead_letter(data, f"cannot be read: {error}")
            return
        if self.job is None:
            self._dead_letter(data, f"an item of job {envelope.job}, but no job in Redis")
            return
        if self.writer is None:  # an item after its job's run was finished
            self._open_run()
        writer = self.writer
        assert writer is not None
        before = writer.state()
        try:
            with self.archive.transaction():
                done = self.archive.db.execute(
                    "SELECT 1 FROM ingest_log WHERE item_id = ?", [envelope.item_id]).fetchone()
                if not done:
                    writer.write(envelope.item)
                    self.archive.db.execute(
                        "INSERT INTO ingest_log (id, item_id, job, ingested_at) "
                        "VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                        "item_id = excluded.item_id, job = excluded.job, "
                        "ingested_at = excluded.ingested_at",
                        [envelope.item_id, envelope.job, utc_now()])
        except Exception as error:
            if not concerns_the_row(error):
                raise  # the archive (a full disk, …): stop; the item stays for the next ingest
            writer.restore(before)  # rolled back: nor do the counts in memory count it
            self._dead_letter(data, f"cannot be written: {type(error).__name__}: {error}")
            return
        self.frontier.ack_item(data)

    def _dead_letter(self, data: bytes, reason: str) -> None:
        """Move an item that cannot be read or written to the dead letters, with why,
        and go on with the others. The page it is about is recorded as failed in the
        archive (stage ``store``), if it can be told: the next job fetches it again,
        and ``pdarchive stats`` lists it."""
        about = itemcodec.describe(data)
        self.dead += 1
        logger.error("item %s (%s) %s: moved to %s", about["id"], about["url"] or "no URL",
                     reason, DEAD)
        if about["url"] and self.writer is not None and about["type"] != "failure":
            item = FailureItem(about["url"], "store", f"ingest: item {reason}", None,
                               about["article_id"], about["column_id"])
            try:
                with self.archive.transaction():
                    self.writer.write(item)
            except Exception as error:
                if not concerns_the_row(error):
                    raise
                logger.error("nor can its failure be recorded: %s", error)
        self.frontier.dead_letter(data, {
            "reason": reason, "at": utc_now(), "ingest": self.owner, "id": about["id"],
            "job": about["job"], "type": about["type"], "url": about["url"]})
