"""``jiangsu_worker``: the jiangsu spider as one of many workers on a shared frontier.

Run as ``pdarchive crawl --redis redis://HOST:PORT/DB`` or as
``scrapy crawl jiangsu_worker -s REDIS_URL=redis://HOST:PORT/DB`` (both with the same
settings), after ``pdarchive seed`` started a job; see crawler/distributed.py. The
spider's parsing is JiangsuSpider's; what differs is where its job comes from (Redis,
where ``seed`` put its JSON form, not planned here), where requests and items go
(Redis), and that each walk's verdict is reported to Redis too.

Nothing from scrapy-redis or redis is imported at module level: Scrapy imports every
spider module, and a crawl in one process must work without the ``redis`` extra.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

import scrapy
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from crawler.config import load_config
from crawler.job import CrawlJob, ScopeError
from crawler.spiders.jiangsu import SCOPE_NAMES, JiangsuSpider

if TYPE_CHECKING:
    from crawler.distributed import Worker

#: list pages go before articles: each one adds a page of articles to the frontier,
#: so walking the lists first keeps every worker busy
LIST_PRIORITY = 10


class JiangsuWorkerSpider(JiangsuSpider):
    name = "jiangsu_worker"
    worker: Worker
    #: the job whose requests this worker is processing (None before the first)
    job_id: str | None = None
    #: seconds before a silent worker counts as dead; the job's value once it has one
    dead_after: float = 30.0

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """JiangsuSpider's politeness settings, plus the shared frontier's."""
        super().update_settings(settings)
        from crawler import frontier

        settings.setdict({
            # scrapy-redis's scheduler and duplicate filter, the queue popping into the
            # in-flight set (see crawler/distributed.py)
            "SCHEDULER": "crawler.distributed.FrontierScheduler",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_QUEUE_CLASS": "crawler.distributed.InFlightQueue",
            "SCHEDULER_QUEUE_KEY": frontier.REQUESTS,
            "SCHEDULER_DUPEFILTER_KEY": frontier.DUPEFILTER,
            # The frontier outlives every worker: one leaving must not clear it (the
            # scheduler's close() would, without this).
            "SCHEDULER_PERSIST": True,
            "ITEM_PIPELINES": {"crawler.pipelines.ArchivePipeline": None,
                               "crawler.distributed.RedisItemPipeline": 300},
            "EXTENSIONS": {"crawler.progress.Progress": None},
            # Take one request more from the shared queue than this worker fetches at
            # once (the site is one host): the spare waits in this worker's downloader,
            # so the next download starts the moment one ends, not after its page is
            # parsed. More would be hoarding: what one worker holds, others cannot fetch.
            "CONCURRENT_REQUESTS": settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") + 1,
        }, priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> JiangsuWorkerSpider:
        from crawler.distributed import Worker

        spider = cast(JiangsuWorkerSpider, super().from_crawler(crawler, *args, **kwargs))
        spider.worker = Worker.from_crawler(crawler)
        return spider

    @classmethod
    def check_arguments(cls, settings: BaseSettings, arguments: dict[str, Any]) -> None:
        """A worker takes no scope (its job comes from Redis): only the configuration is
        checked before it starts."""
        load_config(settings.get("PDARCHIVE_CONFIG"))
        scope = [name for name in arguments if name in SCOPE_NAMES]
        if scope:
            raise ScopeError(f"a worker crawls what the job says ({', '.join(scope)} given): "
                             "give the crawl's scope to `pdarchive seed`")

    def plan(self, crawler: Crawler) -> None:
        """No planning: a worker never opens the archive (it may be on another
        machine); its job comes from Redis with its first request (``use_job``)."""
        if self.scope_arguments:
            raise ValueError("a worker crawls what the job says: give columns, editions "
                             "and the crawl's scope to `pdarchive seed`")

    def use_job(self, job_id: str | None) -> None:
        """Take job ``job_id`` from Redis, unless already done: called for every
        request taken from the frontier, before Scrapy processes it."""
        if job_id is None or job_id == self.job_id:
            return
        from crawler import frontier

        shared = self.worker.frontier
        job = shared.job()
        if job is None:
            raise RuntimeError(f"a request of job {job_id}, but no job in {shared.url}")
        if job["id"] != job_id:
            self.logger.error("a request of job %s during job %s: crawled as the latter",
                              job_id, job["id"])
        self.job_id = job["id"]
        self.job = CrawlJob.from_json(job, known=shared.members(frontier.KNOWN),
                                      backing_off=shared.members(frontier.BACKING_OFF))
        self.dead_after = float(job["dead_after"])
        self.scheduled = set()
        self.walk_complete = {}
        self.worker.job_started()

    def _walk_ended(self, column: str, complete: bool) -> None:
        """A walk's verdict, also in Redis: one column's list walk passes through many
        workers (page 1 here, page 2 there); ingest records the verdicts in the run, as
        ArchivePipeline does for a local crawl. "Complete" is only ever set where no
        worker has said otherwise; "not complete" always wins."""
        first = column not in self.walk_complete
        super()._walk_ended(column, complete)
        if not complete:
            self.worker.frontier.report_walk(column, False)
        elif first:
            self.worker.frontier.report_walk(column, True, overwrite=False)

    async def start(self) -> AsyncIterator[Any]:
        """Nothing: ``pdarchive seed`` put the job's first requests in the frontier."""
        return
        yield  # an async generator that yields nothing

    def _list_request(self, column: str, page: int, stop_early: bool = True) -> scrapy.Request:
        # Unlike a local crawl's, a list page is subject to the duplicate filter: a list
        # page processed twice (its worker died after fetching the next one) must not
        # start a second walk down the column. The filter is per job (seed clears it).
        return super()._list_request(column, page, stop_early).replace(dont_filter=False,
                                                           priority=LIST_PRIORITY)
