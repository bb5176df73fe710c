"""The crawl job, the spider given one, the pipeline and the store's write path, in
this process: no Scrapy engine, no network, a fresh archive in the test's directory.
The subprocess crawls (test_crawl.py and others) prove the same pieces together."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from archive.store import Archive, FetchedPage, RunCounts, utc_now
from crawler.config import Config, ConfigError, load_config
from crawler.items import ArticleItem, FailureItem, ParsedPageResult
from crawler.job import CrawlJob, ScopeError, plan_job, plan_scope, read_job
from crawler.parse import parse_document
from crawler.pipelines import ArchivePipeline
from crawler.spiders.jiangsu import (
    BLOCKED,
    BLOCKED_PAGES,
    HALT_STREAK,
    PAGES_READ,
    SITE_FAILURES,
    JiangsuSpider,
)
from crawler.writer import ItemWriter
from tests.support.reference import CRAWL_CONFIG, SITE

CONFIG = load_config(CRAWL_CONFIG)
ARTICLE = "34359164"
ARTICLE_URL = f"http://js.people.com.cn/n2/2020/1019/c360300-{ARTICLE}.html"
#: an article of the column whose page failed, due again
DUE_URL = "http://js.people.com.cn/n2/2020/1018/c360300-34350001.html"
#: and one whose page failed recently: it waits out its backoff
WAITING_URL = "http://js.people.com.cn/n2/2020/1017/c360300-34350002.html"
#: where the column's last walk stopped at a recorded failure
STOPPED_LIST = "http://js.people.com.cn/GB/360300/index3.html"


def article_item() -> ArticleItem:
    """The reference article's one GB page, as the spider hands it to the pipeline."""
    body = (SITE / "js.people.com.cn/n2/2020/1019" / f"c360300-{ARTICLE}.html").read_bytes()
    parsed = parse_document(body, ARTICLE_URL, "text/html")
    fetched = FetchedPage(url=ARTICLE_URL, status=200, headers={"Content-Type": "text/html"},
                          body=body, fetched_at=utc_now(), article_id=ARTICLE, edition="gb",
                          page=1, encoding=parsed.encoding, extractor=parsed.extractor)
    return ArticleItem(ARTICLE, "360300", {"gb": [ParsedPageResult(fetched, parsed.record)]})


def settings(db: Path) -> dict[str, Any]:
    return {"PDARCHIVE_DB": str(db), "PDARCHIVE_CONFIG": str(CRAWL_CONFIG)}


@pytest.fixture
def crawled_db(fresh_db: Archive) -> Archive:
    """An archive after one finished crawl of column 360300: one article, a failed
    page due again, one backing off, and a walk that stopped at list page 3."""
    run_id = fresh_db.start_run({}, columns=["360300"])
    writer = ItemWriter(fresh_db, run_id)
    writer.write(article_item())
    fresh_db.record_failure(DUE_URL, stage="fetch", reason="HTTP 500", http_status=500,
                            run_id=run_id, article_id="34350001", column_id="360300",
                            retry_after=-60)
    fresh_db.record_failure(WAITING_URL, stage="fetch", reason="HTTP 500", http_status=500,
                            run_id=run_id, article_id="34350002", column_id="360300",
                            retry_after=3600)
    writer.write(FailureItem(STOPPED_LIST, "list", "truncated", 200, None, "360300",
                             kind="truncated"))
    fresh_db.finish_run(run_id, writer.counts, "finished", "", ["360300"])
    return fresh_db


# -- the scope ------------------------------------------------------------------------

def test_the_scope_defaults_to_the_configuration() -> None:
    scope = plan_scope(CONFIG)
    assert scope.columns == tuple(column.id for column in CONFIG.default_columns())
    assert scope.editions == CONFIG.editions
    assert scope.max_list_pages == CONFIG.max_list_pages
    assert (scope.full, scope.since, scope.until, scope.max_articles) == (False, None, None, 0)


def test_spider_arguments_are_read_as_the_options_are() -> None:
    scope = plan_scope(CONFIG, columns="360300, 360301", editions="big5,gb",
                       max_list_pages="0", full="1", since="2020-01-01",
                       until="2020-12-31", max_articles="5")
    assert scope.columns == ("360300", "360301")
    assert scope.editions == ("big5", "gb")
    assert scope.max_list_pages == 0  # 0: every list page, not the default
    assert scope.full and scope.max_articles == 5
    assert (scope.since, scope.until) == ("2020-01-01", "2020-12-31")


@pytest.mark.parametrize(("options", "message"), [
    ({"editions": ["gb", "cp936"]}, "unknown edition ['cp936']: use gb or big5"),
    ({"columns": ["abc"]}, "not a column id"),
    ({"max_list_pages": "-1"}, "max_list_pages needs a whole number of at least 0"),
    ({"max_articles": "many"}, "max_articles needs a whole number"),
    ({"since": "yesterday"}, "since needs a date (YYYY-MM-DD)"),
])
def test_a_scope_that_cannot_be_crawled_is_a_config_error(options: dict[str, Any],
                                                         message: str) -> None:
    with pytest.raises(ScopeError, match=message.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)")) as raised:
        plan_scope(CONFIG, **options)
    assert isinstance(raised.value, ConfigError)  # main(): one line, exit 2


def test_no_column_to_crawl_is_a_scope_error() -> None:
    with pytest.raises(ScopeError, match="no column to crawl"):
        plan_scope(Config(base_url="http://js.people.com.cn", columns=()))


# -- the state read from the archive ---------------------------------------------------

def test_a_fresh_archive_plans_a_first_crawl(fresh_db: Archive) -> None:
    job = read_job(fresh_db, plan_scope(CONFIG))
    assert job.known == frozenset() and job.backing_off == frozenset()
    assert job.may_stop_early == {"360300": False}
    assert (job.resume_pages, job.retries, dict(job.held_editions)) == ({}, (), {})


def test_the_plan_reads_what_the_archive_holds(crawled_db: Archive) -> None:
    job = read_job(crawled_db, plan_scope(CONFIG))
    assert job.known == {ARTICLE}
    assert job.held_editions == {ARTICLE: {"gb"}}
    assert job.column_counts == {"360300": 1}
    assert job.retries == (DUE_URL,)
    assert job.backing_off == {"34350002"}
    assert job.may_stop_early == {"360300": True}
    assert job.resume_pages == {"360300": (3,)}


def test_asking_for_a_new_edition_walks_past_the_known_articles(crawled_db: Archive) -> None:
    job = read_job(crawled_db, plan_scope(CONFIG, editions=["gb", "big5"]))
    assert job.may_stop_early == {"360300": False}
    assert job.resume_pages == {}  # the walk from page 1 passes where the last one stopped


def test_a_full_crawl_neither_stops_early_nor_waits_for_backoff(crawled_db: Archive) -> None:
    job = read_job(crawled_db, plan_scope(CONFIG, full=True))
    assert job.may_stop_early == {"360300": False}
    assert job.backing_off == frozenset() and job.resume_pages == {}
    assert job.retries == (DUE_URL,)


def test_plan_job_checks_the_scope_before_it_opens_the_archive(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    with pytest.raises(ScopeError):
        plan_job(CONFIG, db, editions="gbk")
    assert not db.exists()
    assert plan_job(CONFIG, db, columns="360300").scope.columns == ("360300",)
    assert db.exists()


# -- the JSON form ---------------------------------------------------------------------

def test_the_job_survives_its_json_form(crawled_db: Archive) -> None:
    job = read_job(crawled_db, plan_scope(CONFIG, editions=["gb", "big5"], since="2020-01-01",
                                          max_articles=9))
    assert CrawlJob.from_json(json.loads(json.dumps(job.to_json()))) == job


def test_the_frontier_form_leaves_the_big_sets_to_redis(crawled_db: Archive) -> None:
    job = read_job(crawled_db, plan_scope(CONFIG))
    data = json.loads(json.dumps(job.to_json(state=CrawlJob.FRONTIER_FIELDS)))
    assert "known" not in data and "held_editions" not in data
    # what ingest and `pdarchive status` read, at the top level
    assert {key: data[key] for key in ("columns", "editions", "max_list_pages", "full")} == {
        "columns": ["360300"], "editions": ["gb"], "max_list_pages": CONFIG.max_list_pages,
        "full": False}
    worker = CrawlJob.from_json(data, known=[ARTICLE], backing_off=["34350002"])
    assert worker.scope == job.scope
    assert (worker.known, worker.backing_off) == (job.known, job.backing_off)
    assert (worker.may_stop_early, worker.column_counts) == (job.may_stop_early,
                                                             job.column_counts)


# -- the spider ------------------------------------------------------------------------

def test_a_spider_given_a_job_never_opens_the_archive(crawled_db: Archive,
                                                     tmp_path: Path) -> None:
    job = read_job(crawled_db, plan_scope(CONFIG))
    missing = tmp_path / "nowhere" / "archive.db"
    crawler = get_crawler(JiangsuSpider, settings(missing))
    spider = JiangsuSpider.from_crawler(crawler, job=job)
    try:
        urls = [request.url for request in spider.first_requests()]
    finally:
        spider.parser.close()
    assert urls == ["http://js.people.com.cn/GB/360300/index.html", STOPPED_LIST, DUE_URL]
    assert not missing.parent.exists()


def test_a_spider_started_with_arguments_plans_its_own_job(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    crawler = get_crawler(JiangsuSpider, settings(db))
    spider = JiangsuSpider.from_crawler(crawler, column="360300", edition="big5",
                                        max_list_pages="2")
    spider.parser.close()
    assert spider.job.scope.columns == ("360300",)
    assert spider.job.scope.editions == ("big5",)
    assert spider.max_list_pages == 2
    with pytest.raises(ScopeError, match="unknown edition"):
        JiangsuSpider.from_crawler(get_crawler(JiangsuSpider, settings(db)), edition="gbk")


# -- the pipeline and the write path ----------------------------------------------------

def test_the_pipeline_opens_its_own_archive_and_records_the_run(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    job = plan_job(CONFIG, db, columns="360300")
    crawler = get_crawler(JiangsuSpider, settings(db))
    crawler.spider = JiangsuSpider(job=job, config=CONFIG)
    pipeline = ArchivePipeline.from_crawler(crawler)
    pipeline.open_spider()
    assert pipeline.writes is not None  # the archive is open in the writer process
    record = asyncio.run(pipeline.process_item(article_item()))
    assert record["article_id"] == ARTICLE and record["pages"] == [ARTICLE_URL]
    json.dumps(record)  # the exported form: what a feed writes
    with pytest.raises(DropItem):  # failures stop at the archive
        asyncio.run(pipeline.process_item(FailureItem(
            DUE_URL, "fetch", "HTTP 500", 500, "34350001", "360300", kind="http")))
    crawler.spider.walk_complete["360300"] = True
    pipeline.finish_run("finished")
    assert pipeline.writes is None  # closed with the run
    assert crawler.stats is not None
    assert (crawler.stats.get_value("pdarchive/new"),
            crawler.stats.get_value("pdarchive/failed")) == (1, 1)

    archive = Archive(db, readonly=True)
    try:
        run = archive.runs()[0]
        assert (run["status"], run["new"], run["failed"]) == ("finished", 1, 1)
        assert run["complete_columns"] == ["360300"]
        assert run["args"]["editions"] == ["gb"]
        assert archive.known_article_ids() == {ARTICLE}
    finally:
        archive.close()


def test_the_write_path_stores_an_article_once_and_counts_a_repeat(fresh_db: Archive) -> None:
    writer = ItemWriter(fresh_db, fresh_db.start_run({}, columns=["360300"]))
    writer.write(article_item())
    writer.write(article_item())
    assert (writer.counts.new, writer.counts.unchanged) == (1, 1)
    assert fresh_db.article(ARTICLE)["title"] == "江苏住建行业党委从“建起来”走向“强起来”"  # type: ignore[index]
    writer.write(FailureItem(DUE_URL, "fetch", "HTTP 500", 500, "34350001", "360300",
                             kind="http"))
    assert [(row["url"], row["kind"]) for row in fresh_db.failures()] == [(DUE_URL, "http")]
    assert writer.counts == RunCounts(new=1, unchanged=1, failed=1)


def test_the_sites_verdict_comes_from_the_crawls_stats(tmp_path: Path) -> None:
    crawler = get_crawler(JiangsuSpider, settings(tmp_path / "archive.db"))
    pipeline = ArchivePipeline.from_crawler(crawler)
    stats = crawler.stats
    assert stats is not None
    stats.set_value("downloader/request_count", 10)
    stats.set_value("downloader/exception_type_count/twisted.internet.error.DNSLookupError", 8)
    stats.set_value(SITE_FAILURES, 8)
    stats.set_value(PAGES_READ, 2)
    assert pipeline.site_verdict("finished") == (
        "could not reach js.people.com.cn: DNS lookup failed for 8 of 10 requests")
    stats.set_value(PAGES_READ, 9)  # retries of a few bad pages outnumber the good ones
    assert pipeline.site_verdict("finished") == ""
    stats.set_value(HALT_STREAK, 5)
    stats.set_value(BLOCKED_PAGES, 5)
    assert pipeline.site_verdict(BLOCKED).startswith(
        "js.people.com.cn is refusing this crawler: 5 pages in a row were refused "
        "(a block page for 5 of 10 requests)")


# -- the distributed crawl's side ----------------------------------------------------------

class _Frontier:
    """What a worker spider tells the frontier of its walks, recorded."""

    def __init__(self) -> None:
        self.walks: list[tuple[str, bool, bool]] = []

    def report_walk(self, column: str, complete: bool, *, overwrite: bool = True) -> None:
        self.walks.append((column, complete, overwrite))


def test_a_worker_reports_each_walks_verdict_explicitly() -> None:
    from crawler.spiders.worker import JiangsuWorkerSpider

    spider = JiangsuWorkerSpider(job=CrawlJob(plan_scope(CONFIG)), config=CONFIG)
    frontier = _Frontier()
    spider.worker = SimpleNamespace(frontier=frontier)  # type: ignore[assignment]
    spider._walk_ended("360300", True)
    spider._walk_ended("360300", True)  # said once: another worker may have said "not"
    spider._walk_ended("360300", False)  # "not complete" always wins
    assert frontier.walks == [("360300", True, False), ("360300", False, True)]
    assert spider.walk_complete == {"360300": False}


def test_seed_puts_the_job_in_redis_and_a_worker_reads_the_same_job(crawled_db: Archive,
                                                                   tmp_path: Path) -> None:
    pytest.importorskip("scrapy_redis")
    from crawler import frontier as keys
    from crawler.distributed import seed
    from crawler.frontier import Frontier
    from crawler.spiders.worker import JiangsuWorkerSpider
    from tests.support.redis_server import REDIS_SERVER, RedisServer

    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    planned = read_job(crawled_db, plan_scope(CONFIG))
    with RedisServer(tmp_path / "redis") as server:
        result = seed(redis_url=server.url, db=crawled_db.path, config_path=CRAWL_CONFIG,
                      columns=None, editions=None, max_list_pages=None, full=False)
        assert result.requests == 3  # list page 1, the walk resumed at page 3, one retry
        shared = Frontier.connect(server.url)
        data = shared.job()
        assert data is not None and data["id"] == result.job["id"]
        assert shared.members(keys.KNOWN) == planned.known
        spider = JiangsuWorkerSpider(config=CONFIG)
        spider.worker = SimpleNamespace(  # type: ignore[assignment]
            frontier=shared, job_started=lambda: None)
        spider.use_job(data["id"])
        shared.client.close()
    job = spider.job
    assert job.scope == planned.scope
    assert (job.known, job.backing_off) == (planned.known, planned.backing_off)
    assert (job.may_stop_early, job.column_counts) == (planned.may_stop_early,
                                                       planned.column_counts)
    assert spider.dead_after == 30.0
