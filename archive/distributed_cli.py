"""The distributed crawl's commands: ``crawl --redis``, ``seed``, ``ingest``, ``status``.

``seed`` starts a job in the shared frontier, ``crawl --redis`` runs a worker (as many
as wanted, on any machines), ``ingest`` writes what workers finish into the archive
(exactly one, beside the archive), ``status`` shows the frontier. See
crawler/distributed.py and archive/ingest.py; docs/ARCHITECTURE.md (*The distributed
crawl*) explains why.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_LOCKED, EXIT_OK, EXIT_WARNING
from .errors import UsageError

if TYPE_CHECKING:
    from crawler.frontier import Frontier

FRONTIER = "the shared frontier: redis://HOST:PORT/DB"
EXTRA = "distributed crawling needs the redis extra: pip install 'pdarchive[redis]'"


def _redis_url(value: str) -> str:
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise argparse.ArgumentTypeError(f"not a Redis URL (redis://HOST:PORT/DB): {value!r}")
    return value


def _frontier(url: str) -> Frontier:
    """The frontier at ``url``; UsageError when the extra is missing or Redis is not there."""
    try:
        from crawler.frontier import Frontier, FrontierError
    except ImportError as error:
        raise UsageError(EXTRA) from error
    try:
        return Frontier.connect(url)
    except FrontierError as error:
        raise UsageError(str(error)) from error


# -- crawl --redis ------------------------------------------------------------------

def crawl_worker(args: argparse.Namespace) -> int:
    if (args.column or args.edition or args.max_list_pages is not None or args.full
            or args.since or args.until or args.images is False):
        raise UsageError("with --redis, what to crawl (columns, editions, --max-list-pages, "
                         "--full, --since, --until, --no-images) is the job's: give it to "
                         "`pdarchive seed`")
    if args.max_articles is not None:
        raise UsageError("--max-articles is for a crawl in one process: a distributed job "
                         "has no count of articles shared by its workers")
    if args.idle_timeout < 0:
        raise UsageError("--idle-timeout cannot be negative")
    _frontier(args.redis)
    try:
        from crawler.distributed import run_worker
    except ImportError as error:
        raise UsageError(EXTRA) from error

    result = run_worker(redis_url=args.redis, config_path=args.config,
                        idle_timeout=args.idle_timeout, log_level=args.log_level)
    print(result.summary(), file=sys.stderr)
    return {"finished": EXIT_OK, "failed": EXIT_FAILED}.get(result.status, EXIT_INTERRUPTED)


# -- seed ---------------------------------------------------------------------------

def cmd_seed(args: argparse.Namespace) -> int:
    _frontier(args.redis)
    try:
        from crawler.distributed import seed
    except ImportError as error:
        raise UsageError(EXTRA) from error
    from crawler.frontier import JobRunning

    if args.dead_after <= 0:
        raise UsageError("--dead-after must be positive")
    try:
        result = seed(redis_url=args.redis, db=args.db, config_path=args.config,
                      columns=args.column, editions=args.edition,
                      max_list_pages=args.max_list_pages, full=args.full,
                      since=args.since, until=args.until, dead_after=args.dead_after,
                      images=args.images)
    except JobRunning as error:
        print(f"pdarchive: {error}", file=sys.stderr)
        return EXIT_LOCKED
    except ValueError as error:  # a scope that cannot be crawled (ScopeError)
        raise UsageError(str(error)) from error
    print(result.summary(), file=sys.stderr)
    return EXIT_OK


# -- ingest -------------------------------------------------------------------------

def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGINT and SIGTERM stop ingest as Ctrl-C does: between two items, cleanly.

    Set explicitly because a process started in the background of a script inherits
    SIGINT ignored (Python then installs no handler for it), and a service manager
    stops with SIGTERM, which would otherwise end the process on the spot.
    """
    previous = {number: signal.signal(number, _raise_interrupt)
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def cmd_ingest(args: argparse.Namespace) -> int:
    import sqlite3

    frontier = _frontier(args.redis)
    from crawler.frontier import IngestRunning

    from .ingest import Ingest, IngestResult
    from .locking import crawl_lock
    from .store import Archive, storage_problem

    statuses: list[str] = []

    def report(result: IngestResult) -> None:
        statuses.append(result.status)
        print(result.summary(), file=sys.stderr, flush=True)

    try:
        with crawl_lock(args.db, "ingest"), _stopped_by_signals():
            archive = Archive(args.db)
            try:
                archive.check_integrity()
                Ingest(frontier, archive).run(drain=args.drain, on_finish=report)
            finally:
                archive.close()
    except IngestRunning as error:  # (a crawl holding the archive: main() says so)
        print(f"pdarchive: {error}", file=sys.stderr)
        return EXIT_LOCKED
    except sqlite3.Error as error:
        print(f"pdarchive: {storage_problem(error, args.db)}; the item stays in Redis for the "
              "next ingest", file=sys.stderr)
        return EXIT_FAILED
    if not statuses:
        job = frontier.job()
        print("ingest: " + ("no job in the frontier (start one with `pdarchive seed`)"
                            if job is None else f"job {job['id']} was already finished"),
              file=sys.stderr)
    return EXIT_WARNING if "warning" in statuses else EXIT_OK


# -- status -------------------------------------------------------------------------

def status_report(frontier: Frontier) -> dict[str, Any]:
    snapshot = frontier.snapshot()
    job = frontier.job()
    return {
        "job": job and {key: job.get(key) for key in (
            "id", "seeded_at", "columns", "editions", "max_list_pages", "full", "since",
            "until", "dead_after")},
        "finished": job is not None and frontier.finished_job() == job["id"],
        "drained": snapshot.drained,
        "queued": snapshot.queued, "in_flight": snapshot.in_flight, "seen": snapshot.seen,
        "items_waiting": snapshot.items, "items_processing": snapshot.processing,
        "items_dead": snapshot.dead,
        "ingest": frontier.ingester(),
        "workers": frontier.workers(),
    }


def _scope(job: dict[str, Any]) -> str:
    since, until = job.get("since"), job.get("until")
    return "".join([f"; since {since}" if since else "", f"; until {until}" if until else ""])


def _render(report: dict[str, Any], dead_after: float) -> str:
    job = report["job"]
    if job is None:
        return "no job in the frontier (start one with `pdarchive seed`)" + (
            f"\nitems: {report['items_dead']} dead letters (`redis-cli LRANGE "
            "pdarchive:items:dead 0 -1` says why)" if report["items_dead"] else "")
    state = ("finished" if report["finished"] else "drained, waiting for ingest to finish it"
             if report["drained"] else "running")
    lines = [
        f"job {job['id']} ({state}), seeded {job['seeded_at']}: columns "
        f"{', '.join(job['columns'])}; editions {', '.join(job['editions'])}"
        f"{'; full' if job['full'] else ''}{_scope(job)}",
        f"frontier: {report['queued']} requests queued, {report['in_flight']} in flight, "
        f"{report['seen']} distinct requests in this job",
        f"items: {report['items_waiting']} waiting for ingest, {report['items_processing']} "
        f"being written, {report['items_dead']} dead letters"
        + (" (items ingest could not read or write: `redis-cli LRANGE pdarchive:items:dead "
           "0 -1` says why)" if report["items_dead"] else ""),
        f"ingest: {report['ingest'] or 'none running'}",
        f"workers seen: {len(report['workers'])}",
    ]
    for worker in report["workers"]:
        state = worker.get("state", "?")
        if state in ("working", "idle") and worker["age"] > dead_after:
            state = "silent (will be reaped)"
        requeued = f", {worker['requeued']} requeued" if worker.get("requeued") else ""
        lines.append(
            f"  {worker['id']}  {state}: {worker['in_flight']} in flight, "
            f"{worker.get('requests', 0)} requests, {worker.get('articles', 0)} articles"
            f"{requeued}; last seen {worker['age']:.1f} s ago")
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    frontier = _frontier(args.redis)
    report = status_report(frontier)
    if args.format == "json":
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        job = report["job"]
        print(_render(report, float(job["dead_after"]) if job else 30.0))
    return EXIT_OK


# -- the parsers --------------------------------------------------------------------

def add_commands(commands: Any, crawl: argparse.ArgumentParser, *,
                 seed_parents: list[argparse.ArgumentParser]) -> None:
    """``crawl``'s --redis options, and the ``seed``, ``ingest`` and ``status`` commands.

    ``seed_parents``: the archive option, then the configuration and the crawl's
    scope and date options (a job covers what a crawl in one process would); ingest
    and status take the first alone."""
    common = seed_parents[0]
    crawl.add_argument("--redis", type=_redis_url, metavar="URL",
                       help="work for the shared frontier at URL (redis://HOST:PORT/DB) "
                            "instead of crawling into --db; `pdarchive seed` starts the job")
    crawl.add_argument("--idle-timeout", type=float, default=30.0, metavar="S",
                       help="with --redis: leave once the frontier has been empty, with "
                            "nothing in flight, for S seconds (default 30; 0: stay)")

    seed = commands.add_parser(
        "seed", parents=seed_parents,
        help="start a distributed crawl: the columns' first pages into the shared frontier")
    seed.add_argument("--redis", type=_redis_url, metavar="URL", required=True, help=FRONTIER)
    seed.add_argument("--dead-after", type=float, default=30.0, metavar="S",
                      help="a worker silent for S seconds is dead: what it held is fetched "
                           "again by others (default 30)")
    seed.set_defaults(handler=cmd_seed)

    ingest = commands.add_parser(
        "ingest", parents=[common],
        help="write what workers crawled into the archive (the one writer of a job)")
    ingest.add_argument("--redis", type=_redis_url, metavar="URL", required=True, help=FRONTIER)
    ingest.add_argument("--drain", action="store_true",
                        help="exit once the job has drained (default: keep waiting for jobs)")
    ingest.set_defaults(handler=cmd_ingest)

    status = commands.add_parser("status", parents=[common],
                                 help="the shared frontier: job, queue, workers, items")
    status.add_argument("--redis", type=_redis_url, metavar="URL", required=True, help=FRONTIER)
    status.add_argument("--format", choices=["text", "json"], default="text",
                        help="text (default) or json: the job, the queue, items, workers")
    status.set_defaults(handler=cmd_status)
