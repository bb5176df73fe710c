"""The downloader middlewares (crawler/middlewares.py), in this process: the crawl's own
chain of downloader middlewares, built by Scrapy from the project's settings and the
test configuration, fed real Requests and answered with real Responses by a small
site in a dict in place of the network. No engine, no reactor: each download runs on
an asyncio loop, as Scrapy runs it without a reactor.

The subprocess crawls (test_faults.py, test_walk_faults.py) prove the same behaviour
together with the spider's failure records and the run's verdict."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request, signals
from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.test import get_crawler

import crawler.settings
from crawler.config import load_config
from crawler.job import CrawlJob, plan_scope
from crawler.spiders.jiangsu import HALTED, JiangsuSpider

HOST = "http://js.people.com.cn"
LIST = f"{HOST}/GB/360300/index.html"
ARTICLE = f"{HOST}/n2/2021/0908/c360300-34401096.html"
OTHER = f"{HOST}/n2/2020/1019/c360300-34359164.html"
ROBOTS = f"{HOST}/robots.txt"
#: the pause before the first retry; the second waits twice as long
BACKOFF = 0.2
CONFIG_TEXT = f"""\
[crawl]
delay = 0
autothrottle = false
backoff_base = {BACKOFF}
retries = 2
parse_workers = 0
"""
#: a robots.txt that lets the crawler read list pages only
ROBOTS_TXT = b"User-agent: *\nDisallow: /n2/\n"

Answer = Callable[[Request], Response]


@dataclass
class Site:
    """What the network would answer, URL by URL (404 elsewhere), and what was asked.
    robots.txt takes ``robots_delay`` seconds, so that other requests arrive while
    it downloads, as they do at the start of a crawl."""

    answers: dict[str, Answer] = field(default_factory=dict)
    robots: bytes = b""
    robots_delay: float = 0.1
    asked: Counter[str] = field(default_factory=Counter)

    async def download(self, request: Request) -> Response:
        self.asked[request.url] += 1
        if request.url == ROBOTS:
            await asyncio.sleep(self.robots_delay)
            return TextResponse(ROBOTS, body=self.robots, request=request)
        answer = self.answers.get(request.url)
        return answer(request) if answer else HtmlResponse(request.url, status=404,
                                                           request=request)


def page(status: int = 200, headers: Mapping[str, str] | None = None) -> Answer:
    return lambda request: HtmlResponse(request.url, status=status, headers=headers,
                                        body=b"<html><body></body></html>", request=request)


def redirect(location: str, status: int = 302) -> Answer:
    return page(status, {"Location": location})


def fail(error: type[Exception]) -> Answer:
    def answer(request: Request) -> Response:
        raise error(f"{request.url}: as the downloader raises it")
    return answer


class Chain:
    """The crawl's downloader middlewares, from the project's settings, around ``site``;
    the engine's part (robots.txt fetched through the same chain) played by ``site``."""

    def __init__(self, site: Site, config: Path) -> None:
        project = {name: getattr(crawler.settings, name) for name in dir(crawler.settings)
                   if name.isupper()}
        self.crawler: Crawler = get_crawler(JiangsuSpider, {**project,
                                                            "PDARCHIVE_CONFIG": str(config)})
        spider_config = load_config(config)
        self.spider = JiangsuSpider.from_crawler(
            self.crawler, job=CrawlJob(plan_scope(spider_config)), config=spider_config)
        self.crawler.spider = self.spider
        self.site = site
        self.manager = DownloaderMiddlewareManager.from_crawler(self.crawler)
        self.crawler.engine = SimpleNamespace(  # type: ignore[assignment]
            download_async=lambda request: self.fetch(request))
        self.opened = False

    async def fetch(self, request: Request) -> Response | Request:
        return await self.manager.download_async(self.site.download, request)

    def get(self, *requests: Request) -> list[Response | Request | BaseException]:
        """Download ``requests`` at once, on a fresh event loop; each one's outcome."""
        async def run() -> list[Any]:
            if not self.opened:
                await self.crawler.signals.send_catch_log_async(signals.spider_opened,
                                                                spider=self.spider)
                self.opened = True
            return await asyncio.gather(*(self.fetch(request) for request in requests),
                                        return_exceptions=True)
        return asyncio.run(run())

    def timed(self, request: Request) -> tuple[Response | Request | BaseException, float]:
        started = time.monotonic()
        [outcome] = self.get(request)
        return outcome, time.monotonic() - started


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "crawl.toml"
    path.write_text(CONFIG_TEXT)
    return path


@pytest.fixture
def site() -> Site:
    return Site()


@pytest.fixture
def chain(site: Site, config: Path) -> Chain:
    return Chain(site, config)


def ignored(outcome: object, reason: str) -> bool:
    return isinstance(outcome, IgnoreRequest) and reason in str(outcome)


# -- robots.txt --------------------------------------------------------------------------

def test_every_request_waits_for_robots_txt_and_is_checked(site: Site, chain: Chain) -> None:
    """Requests that arrive while robots.txt is downloading are checked against it
    too (Scrapy's own middleware let all but the first through unchecked)."""
    site.robots = ROBOTS_TXT
    site.answers = {LIST: page(), ARTICLE: page(), OTHER: page()}
    outcomes = chain.get(Request(ARTICLE), Request(LIST), Request(OTHER))
    assert ignored(outcomes[0], "Forbidden by robots.txt")
    assert isinstance(outcomes[1], Response) and outcomes[1].status == 200
    assert ignored(outcomes[2], "Forbidden by robots.txt")
    assert site.asked == {ROBOTS: 1, LIST: 1}  # robots.txt once; no disallowed page


def test_a_request_after_robots_txt_arrived_is_checked_too(site: Site, chain: Chain) -> None:
    site.robots = ROBOTS_TXT
    site.answers = {LIST: page(), ARTICLE: page()}
    [first] = chain.get(Request(LIST))
    [later] = chain.get(Request(ARTICLE))
    assert isinstance(first, Response) and ignored(later, "Forbidden by robots.txt")
    assert site.asked == {ROBOTS: 1, LIST: 1}


# -- retries and their backoff -----------------------------------------------------------

def test_a_failing_page_is_retried_after_a_pause_that_doubles(site: Site,
                                                              chain: Chain) -> None:
    site.answers = {ARTICLE: page(503)}
    retry, first_pause = chain.timed(Request(ARTICLE))
    assert isinstance(retry, Request) and retry.meta["retry_times"] == 1
    assert first_pause >= BACKOFF
    again, second_pause = chain.timed(retry)
    assert isinstance(again, Request) and again.meta["retry_times"] == 2
    assert second_pause >= 2 * BACKOFF
    [given_up] = chain.get(again)  # retries = 2: the answer itself
    assert isinstance(given_up, Response) and given_up.status == 503
    assert site.asked[ARTICLE] == 3


def test_a_timeout_is_retried_after_the_pause(site: Site, chain: Chain) -> None:
    site.answers = {ARTICLE: fail(DownloadTimeoutError)}
    retry, pause = chain.timed(Request(ARTICLE))
    assert isinstance(retry, Request) and retry.meta["retry_times"] == 1
    assert pause >= BACKOFF


def test_a_name_that_does_not_resolve_is_not_retried(site: Site, chain: Chain) -> None:
    site.answers = {ARTICLE: fail(CannotResolveHostError)}
    [outcome] = chain.get(Request(ARTICLE))
    assert isinstance(outcome, CannotResolveHostError)  # to the errback: a failure
    assert site.asked[ARTICLE] == 1


def test_a_refusal_is_retried_only_once_the_site_has_answered(site: Site,
                                                              chain: Chain) -> None:
    site.answers = {ARTICLE: fail(DownloadConnectionRefusedError)}
    [refused] = chain.get(Request(ARTICLE))
    assert isinstance(refused, DownloadConnectionRefusedError)  # the site is down
    assert site.asked[ARTICLE] == 1
    stats = chain.crawler.stats
    assert stats is not None
    stats.set_value("response_received_count", 1)  # it answered once this run
    [retry] = chain.get(Request(ARTICLE))
    assert isinstance(retry, Request) and retry.meta["retry_times"] == 1


# -- redirects ---------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["http://www.example.com/phishing.html",
                                    "https://js.people.com.cn.evil.example/n2/x.html",
                                    "//www.example.com/n2/2021/0908/c360300-34401096.html"])
def test_a_redirect_off_the_site_is_refused(target: str, site: Site, chain: Chain) -> None:
    site.answers = {ARTICLE: redirect(target, 301)}
    [outcome] = chain.get(Request(ARTICLE))
    assert ignored(outcome, "redirect off the site to http")  # the errback records it


def test_a_redirect_on_the_site_is_followed_past_the_duplicate_filter(
        site: Site, chain: Chain) -> None:
    site.answers = {ARTICLE: redirect("/n2/2020/1019/c360300-34359164.html")}
    [outcome] = chain.get(Request(ARTICLE))
    assert isinstance(outcome, Request) and outcome.url == OTHER
    assert outcome.meta["redirect_urls"] == [ARTICLE]
    assert outcome.dont_filter  # OTHER may be listed too: the redirect must not vanish


def test_a_redirect_loop_is_refused_with_its_chain(site: Site, chain: Chain) -> None:
    site.answers = {ARTICLE: redirect(OTHER), OTHER: redirect(ARTICLE)}
    [followed] = chain.get(Request(ARTICLE))
    assert isinstance(followed, Request)
    [outcome] = chain.get(followed)
    assert ignored(outcome, f"redirect loop: {ARTICLE} -> {OTHER} -> {ARTICLE}")


# -- stopping ----------------------------------------------------------------------------

def test_nothing_is_fetched_once_the_crawl_is_stopping(site: Site, chain: Chain) -> None:
    site.answers = {ARTICLE: page(), LIST: page()}
    [fetched] = chain.get(Request(LIST))
    assert isinstance(fetched, Response)
    chain.spider.halted = True  # the site kept refusing: the spider decided to stop
    outcomes = chain.get(Request(ARTICLE), Request(LIST))
    assert all(ignored(outcome, HALTED) for outcome in outcomes)
    assert site.asked == {ROBOTS: 1, LIST: 1}
