"""``jiangsu_worker``: the jiangsu spider as one of many workers on a shared frontier.

Run as ``pdarchive crawl --redis redis://HOST:PORT/DB`` or as
``scrapy crawl jiangsu_worker -s REDIS_URL=redis://HOST:PORT/DB`` (both with the same
settings), after ``pdarchive seed`` started a job; see crawler/distributed.py. The
spider's parsing is JiangsuSpider's; what differs is where its state comes from (the
job in Redis, not the archive) and where requests and items go (Redis).

Nothing from scrapy-redis or redis is imported at module level: Scrapy imports every
spider module, and a crawl in one process must work without the ``redis`` extra.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

import scrapy
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from crawler.config import Config
from crawler.spiders.jiangsu import JiangsuSpider

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
        if (spider._column_arg or spider._edition_arg or spider._max_list_pages_arg
                or spider.full or spider.since or spider.until or spider.max_articles):
            raise ValueError("a worker crawls what the job says: give columns, editions "
                             "and the crawl's scope to `pdarchive seed`")
        spider.worker = Worker.from_crawler(crawler)
        return spider

    def _configure(self, config: Config, db_path: str) -> None:
        """A worker's part of JiangsuSpider._configure: no archive (it may be on another
        machine); the rest comes with the job (``use_job``)."""
        self.config = config
        host = config.base_url.split("://", 1)[-1].split("/", 1)[0]
        self.allowed_domains = [host]

    def use_job(self, job_id: str | None) -> None:
        """Take the state of job ``job_id`` from Redis, unless already done: called for
        every request taken from the frontier, before Scrapy processes it."""
        if job_id is None or job_id == self.job_id:
            return
        from crawler import distributed, frontier

        shared = self.worker.frontier
        job = shared.job()
        if job is None:
            raise RuntimeError(f"a request of job {job_id}, but no job in {shared.url}")
        if job["id"] != job_id:
            self.logger.error("a request of job %s during job %s: crawled as the latter",
                              job_id, job["id"])
        self.job_id = job["id"]
        for name in distributed.JOB_FIELDS:
            setattr(self, name, job[name])
        self.dead_after = float(job["dead_after"])
        self.known = shared.members(frontier.KNOWN)
        self.backing_off = shared.members(frontier.BACKING_OFF)
        self.scheduled = set()
        self.walk_complete = distributed.WalkReport(shared)
        self.worker.job_started()

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
