"""A distributed crawl: workers on scrapy-redis's shared frontier, one ingest writing.

``pdarchive seed`` starts a job: it plans it as a local crawl does (crawler/job.py:
known articles, failures due, which column walks may stop early), and puts its JSON
form and its first requests (each column's first list page, failed pages due again)
into Redis.
``pdarchive crawl --redis URL`` runs a worker: the ``jiangsu_worker`` spider with
scrapy-redis's scheduler and duplicate filter, so every worker takes requests from,
and adds requests to, the same queue, and no URL is requested twice in a job. Workers
never open the archive; their pipeline pushes finished items to Redis, and
``pdarchive ingest`` writes them (archive/ingest.py).

Nothing is lost when a worker dies. scrapy-redis pops a request out of Redis and
forgets it: a worker killed with it in hand would lose it, and the duplicate filter
would keep anyone from asking for it again. Here ``InFlightQueue`` moves the request
into the worker's entry of ``pdarchive:inflight`` in the same Lua script that pops it,
and the worker acknowledges it only once Scrapy's engine is done with it (its
follow-up requests are in the queue, its items in Redis). A worker whose heartbeat
stops is dead; any worker or the ingest puts what it held back into the queue (see
crawler/frontier.py). A multi-page article travels with its requests (the pages read
so far ride in the next page's request, in ``cb_kwargs``), so another worker picks it
up where the dead one stopped.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import redis
from scrapy import Request, signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.exceptions import DontCloseSpider, ScrapyDeprecationWarning
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from archive.store import Archive, utc_now
from crawler import frontier as keys
from crawler import itemcodec
from crawler.config import load_config
from crawler.frontier import Frontier, JobRunning
from crawler.items import ArticleItem
from crawler.job import CrawlJob, plan_scope, read_job

if TYPE_CHECKING:
    from crawler.spiders.worker import JiangsuWorkerSpider

logger = logging.getLogger(__name__)
# scrapy-redis 0.9 still calls what Scrapy 2.13 deprecated (Spider.log, stats calls with
# a spider argument): warnings for its maintainers, noise for a user.
warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module=r"scrapy_redis\.")

#: seconds without a heartbeat after which a worker counts as dead (``seed --dead-after``)
DEFAULT_DEAD_AFTER = 30.0
#: seconds a worker waits, with the frontier empty and nothing in flight, before leaving
DEFAULT_IDLE_TIMEOUT = 30.0
#: the close reason of a worker that could not write to Redis
REDIS_FAILED = "redis_error"


class FrontierScheduler(Scheduler):
    """scrapy-redis's scheduler, stopping the worker when Redis refuses a request.

    The request's parent is acknowledged once its callback ends, so a request that
    did not reach the frontier would be lost: the worker holds everything instead.
    """

    #: mark the fingerprint seen and queue the request in one step: a worker killed
    #: between the two would leave a request seen but never queued, and the requeued
    #: parent that yields it again would then have it filtered away (a lost article)
    _SEEN_AND_PUSH = """
    if ARGV[1] == '1' or redis.call('SADD', KEYS[1], ARGV[2]) == 1 then
      redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
      return 1
    end
    return 0
    """

    def enqueue_request(self, request: Request) -> bool:
        queue = cast(InFlightQueue, self.queue)
        score, data = queue.entry(request)
        try:
            added = self.server.eval(
                self._SEEN_AND_PUSH, 2, self.df.key, queue.key,
                "1" if request.dont_filter else "0", self.df.request_fingerprint(request),
                score, data)
        except redis.RedisError:
            cast("JiangsuWorkerSpider", self.spider).worker.fail(
                "cannot add a request to the frontier")
            raise
        if not added:
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis", spider=self.spider)
        return True

    def has_pending_requests(self) -> bool:
        try:
            return bool(super().has_pending_requests())
        except redis.RedisError as error:
            cast("JiangsuWorkerSpider", self.spider).worker.lost_redis(error)
            return False


class InFlightQueue(PriorityQueue):
    """scrapy-redis's priority queue, but a popped request stays in Redis, in this
    worker's in-flight set, until the worker is done with it."""

    @property
    def worker(self) -> Worker:
        return cast("JiangsuWorkerSpider", self.spider).worker

    def entry(self, request: Request) -> tuple[float, bytes]:
        """``(score, member)`` of ``request`` in the queue's sorted set."""
        request.meta.setdefault("job", self.spider.job_id)
        return -request.priority, self._encode_request(request)

    def push(self, request: Request) -> None:
        score, data = self.entry(request)
        self.server.zadd(self.key, {data: score})

    def pop(self, timeout: int = 0) -> Request | None:
        worker = self.worker
        token = worker.new_token()
        try:
            data = worker.frontier.pop(worker.id, token)
        except redis.RedisError as error:
            worker.lost_redis(error)
            return None
        if data is None:
            return None
        try:
            request = self._decode_request(data)
            cast("JiangsuWorkerSpider", self.spider).use_job(request.meta.get("job"))
        except Exception:
            # Not a request this version can run (another version's pickle, a job gone
            # from Redis): it would only fail again on every worker. Drop it, loudly.
            logger.exception("dropped a request this worker cannot use")
            worker.frontier.ack(worker.id, [token])
            self.spider.crawler.stats.inc_value("pdarchive/dropped")
            return None
        worker.hold(token, request)
        return request


class Worker:
    """This process as one worker: its name, its heartbeat, the requests it holds."""

    #: seconds between ticks: acknowledge finished requests, wake the engine
    TICK = 0.1
    HEARTBEAT = 1.0
    REAP = 2.0

    def __init__(self, crawler: Crawler, frontier: Frontier, idle_timeout: float) -> None:
        self.crawler = crawler
        self.frontier = frontier
        self.idle_timeout = idle_timeout
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"
        self.started_at = utc_now()
        self.failure = ""
        self._tokens = itertools.count(1)
        self._items = itertools.count(1)
        self._holding: dict[str, Request] = {}
        #: the process's download count when its current job began, and when it last
        #: acknowledged requests
        self._requests_before_job = self._requests_acked = 0
        self._idle_since: float | None = None
        self._last_beat = self._last_reap = 0.0
        #: when Redis stopped answering (None: it answers)
        self._unreachable_since: float | None = None
        #: made when the spider opens: the reactor is not installed before that
        self._loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Worker:
        settings = crawler.settings
        worker = cls(crawler, Frontier.connect(settings.get("REDIS_URL") or
                                               "redis://localhost:6379/0"),
                     settings.getfloat("PDARCHIVE_IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT))
        crawler.signals.connect(worker.opened, signal=signals.spider_opened)
        crawler.signals.connect(worker.idle, signal=signals.spider_idle)
        crawler.signals.connect(worker.closed, signal=signals.spider_closed)
        return worker

    @property
    def spider(self) -> JiangsuWorkerSpider:
        return cast("JiangsuWorkerSpider", self.crawler.spider)

    def new_token(self) -> str:
        return str(next(self._tokens))

    def new_item_id(self) -> str:
        return f"{self.id}:{next(self._items)}"

    def _downloads(self) -> int:
        return int(self.crawler.stats.get_value("downloader/request_count") or 0)

    def job_started(self) -> None:
        self._requests_before_job = self._requests_acked = self._downloads()

    def hold(self, token: str, request: Request) -> None:
        self._holding[token] = request
        self._idle_since = None

    def _in_progress(self) -> set[Request] | None:
        """The requests Scrapy's engine is not done with, or None once it has closed.

        Private API: the engine's slot keeps a request in ``inprogress`` from the
        moment the scheduler hands it out until its callback's requests are scheduled
        and its items are through the pipelines, which is exactly when this worker may
        let go of it. Scrapy offers no public equivalent (written against 2.19).
        """
        slot = self.crawler.engine._slot if self.crawler.engine else None
        return None if slot is None else cast(set[Request], slot.inprogress)

    def settle(self) -> None:
        """Acknowledge the requests the engine has finished with."""
        in_progress = self._in_progress()
        if self.failure or in_progress is None:
            return
        done = [token for token, request in self._holding.items()
                if request not in in_progress]
        if done:
            downloads = self._downloads()
            self.frontier.ack(self.id, done, downloads - self._requests_acked)
            self._requests_acked = downloads
            for token in done:
                del self._holding[token]

    def fail(self, reason: str) -> None:
        """Redis refused a write: acknowledge nothing more, stop. What this worker
        holds goes back to the queue when it leaves, or when its heartbeat stops."""
        if not self.failure:
            self.failure = reason
            logger.error("%s: this worker stops; what it held will be fetched again", reason)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=REDIS_FAILED))

    def lost_redis(self, error: redis.RedisError) -> None:
        """Redis did not answer. Keep trying while the others would still wait for this
        worker; past ``dead_after`` they have put back what it held, so stop."""
        now = time.monotonic()
        if self._unreachable_since is None:
            logger.warning("Redis does not answer (%s): trying again for %.0f s", error,
                           self.spider.dead_after)
            self._unreachable_since = now
        elif now - self._unreachable_since > self.spider.dead_after:
            self.fail(f"Redis unreachable for {now - self._unreachable_since:.0f} s")

    def info(self, state: str) -> dict[str, Any]:
        stats = self.crawler.stats
        value = lambda key: int(stats.get_value(key) or 0)  # noqa: E731
        return {"host": socket.gethostname(), "pid": os.getpid(), "started_at": self.started_at,
                "state": state, "job": self.spider.job_id, "in_flight": len(self._holding),
                "requests": self._downloads() - self._requests_before_job,
                "items": value("pdarchive/pushed"), "articles": value("pdarchive/articles")}

    def beat(self, state: str | None = None) -> None:
        self.frontier.heartbeat(self.id, self.info(state or (
            "working" if self._holding else "idle")))
        self._last_beat = time.monotonic()
        self._unreachable_since = None

    def _tick(self) -> None:
        try:
            self.settle()
            now = time.monotonic()
            if now - self._last_beat >= self.HEARTBEAT:
                self.beat()
            if now - self._last_reap >= self.REAP:
                self._last_reap = now
                for dead, requeued in self.frontier.reap(self.spider.dead_after).items():
                    logger.warning("worker %s stopped answering: %d of its requests are back "
                                   "in the queue", dead, requeued)
        except redis.RedisError as error:
            self.lost_redis(error)
        # Scrapy's engine asks an empty scheduler again only every 5 s; requests other
        # workers add should start sooner than that. Private API, like _in_progress.
        slot = self.crawler.engine._slot if self.crawler.engine else None
        if slot is not None and slot.closing is None:
            slot.nextcall.schedule()

    def opened(self) -> None:
        self.crawler.stats.set_value("pdarchive/worker", self.id)
        self.beat("idle")
        self._loop = task.LoopingCall(self._tick)
        self._loop.start(self.TICK, now=False)
        logger.info("worker %s on %s", self.id, self.frontier.url)

    def idle(self) -> None:
        """Scrapy found nothing to do here: leave once the whole frontier has been
        empty, with nothing in flight anywhere, for ``idle_timeout`` seconds."""
        try:
            self.settle()
            snapshot = self.frontier.snapshot()
        except redis.RedisError as error:
            self.lost_redis(error)
            if self.failure:
                return
            raise DontCloseSpider from error
        if self.failure:
            return
        if self._holding or snapshot.queued or snapshot.in_flight or not self.idle_timeout:
            self._idle_since = None
            raise DontCloseSpider
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        if now - self._idle_since < self.idle_timeout:
            raise DontCloseSpider

    def closed(self, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        try:
            self.settle()
            self.beat("exited")
            requeued = self.frontier.release(self.id)
        except redis.RedisError as error:
            logger.error("could not sign off (%s): the others will requeue what this worker "
                         "held once its heartbeat is %.0f s old", error, self.spider.dead_after)
            return
        if requeued:
            logger.warning("%d unfinished requests went back to the queue", requeued)


class RedisItemPipeline:
    """A worker's pipeline: finished items go to Redis, for ``pdarchive ingest``."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisItemPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        spider = cast("JiangsuWorkerSpider", self.crawler.spider)
        worker = spider.worker
        data = itemcodec.encode(item, item_id=worker.new_item_id(), job=spider.job_id or "")
        try:
            worker.frontier.push_item(data)
        except redis.RedisError:
            worker.fail("cannot push an item to Redis")
            raise
        self.crawler.stats.inc_value("pdarchive/pushed")
        if isinstance(item, ArticleItem):
            self.crawler.stats.inc_value("pdarchive/articles")
        return item


# -- seed -------------------------------------------------------------------------

@dataclass
class SeedResult:
    job: dict[str, Any]
    requests: int
    known: int

    def summary(self) -> str:
        job = self.job
        retries = self.requests - len(job["columns"])
        return (f"seeded job {job['id']}: columns {', '.join(job['columns'])}; editions "
                f"{', '.join(job['editions'])}; {self.requests} requests "
                f"({retries} failed pages due again); workers skip {self.known} archived "
                f"articles{' (none: --full)' if job['full'] else ''}")


def seed(*, redis_url: str, db: Path, config_path: Path | None, columns: list[str] | None,
         editions: list[str] | None, max_list_pages: int | None, full: bool,
         since: str | None = None, until: str | None = None,
         dead_after: float = DEFAULT_DEAD_AFTER, images: bool | None = None) -> SeedResult:
    """Start a job on the frontier at ``redis_url`` for the archive at ``db``.

    The job is planned as a local crawl of ``db`` plans it (``plan_job``), and its
    first requests are the ones a local crawl starts with, made by the worker spider
    (given the job) so that their callbacks are its own. In Redis: the job's JSON form
    (its scope and what walks decide by, plus what ingest needs), its known and
    backing-off articles as sets. Raises ScopeError on a scope that cannot be
    crawled, JobRunning while the previous job has work left.
    """
    from crawler.spiders.worker import JiangsuWorkerSpider

    config = load_config(config_path)
    scope = plan_scope(config, columns=columns, editions=editions,
                       max_list_pages=max_list_pages, full=full, since=since, until=until,
                       images=images)
    frontier = Frontier.connect(redis_url)
    if frontier.job() is not None and not frontier.snapshot().drained:
        raise JobRunning(frontier._busy_message())  # the message start_job gives
    archive = Archive(db)
    try:
        crawl_job = read_job(archive, scope)
    finally:
        archive.close()
    job = {"id": secrets.token_hex(6), "seeded_at": utc_now(), "config": config.source,
           "dead_after": dead_after, "failure_retry_after": config.failure_retry_after,
           "failure_retry_max": config.failure_retry_max,
           # the largest page body ingest inflates: what a worker may download
           "max_response_bytes": config.max_response_bytes,
           # and the largest picture body
           "max_picture_bytes": config.max_picture_bytes,
           "topics": config.extra.get("topics") or {},
           **crawl_job.to_json(state=CrawlJob.FRONTIER_FIELDS)}
    spider = JiangsuWorkerSpider(job=crawl_job, config=config)
    spider.job_id = job["id"]
    requests = list(spider.first_requests())
    queue = InFlightQueue(frontier.client, spider, keys.REQUESTS)
    fingerprints = RFPDupeFilter(frontier.client, keys.DUPEFILTER)
    frontier.start_job(job, [queue.entry(request) for request in requests],
                       [fingerprints.request_fingerprint(request) for request in requests],
                       crawl_job.known, crawl_job.backing_off)
    return SeedResult(job, len(requests), 0 if full else len(crawl_job.known))


# -- a worker ---------------------------------------------------------------------

@dataclass
class WorkerResult:
    reason: str
    stats: dict[str, Any]

    @property
    def status(self) -> str:
        if self.reason == "finished":
            return "finished"
        return "failed" if self.reason == REDIS_FAILED else "interrupted"

    def summary(self) -> str:
        value = lambda key: int(self.stats.get(key) or 0)  # noqa: E731
        return (f"worker {self.stats.get('pdarchive/worker', '?')} {self.reason}: "
                f"{value('downloader/request_count')} requests, "
                f"{value('pdarchive/articles')} articles and {value('pdarchive/pushed')} "
                "items pushed to Redis")


def worker_settings(redis_url: str, config_path: Path | None, idle_timeout: float,
                    log_level: str) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("REDIS_URL", redis_url, priority="cmdline")
    settings.set("PDARCHIVE_IDLE_TIMEOUT", idle_timeout, priority="cmdline")
    if config_path is not None:
        settings.set("PDARCHIVE_CONFIG", str(config_path), priority="cmdline")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    return settings


def run_worker(*, redis_url: str, config_path: Path | None,
               idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
               log_level: str = "WARNING") -> WorkerResult:
    """Work for the frontier at ``redis_url`` until it has been idle ``idle_timeout``
    seconds (0: until stopped)."""
    from crawler.spiders.worker import JiangsuWorkerSpider

    load_config(config_path)  # a bad config, or
    Frontier.connect(redis_url)  # an unreachable Redis: a usage error before Scrapy starts
    process = CrawlerProcess(worker_settings(redis_url, config_path, idle_timeout, log_level))
    crawler = process.create_crawler(JiangsuWorkerSpider)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    return WorkerResult(str(stats.get("finish_reason", "shutdown")), stats)

