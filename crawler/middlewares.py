"""Downloader middlewares that Scrapy's own do not cover."""

from __future__ import annotations

import logging
from urllib.parse import urljoin, urlparse

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.robotstxt import RobotParser
from scrapy.utils.asyncio import sleep
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from crawler.spiders.jiangsu import HALTED


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, with a growing pause before each retry.

    RetryMiddleware re-queues a failed request at once; a server answering 5xx or
    timing out is better given time. The pause is taken inside the download slot,
    so the whole host slows down, which is what politeness asks for.
    """

    def __init__(self, settings, backoff_base: float) -> None:  # type: ignore[no-untyped-def]
        super().__init__(settings)
        self.backoff_base = backoff_base

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        middleware = cls(crawler.settings, crawler.settings.getfloat("RETRY_BACKOFF_BASE"))
        middleware.crawler = crawler
        return middleware

    async def _pause(self, retry: Request | Response | None) -> None:
        if isinstance(retry, Request) and self.backoff_base > 0:
            attempt = int(retry.meta.get("retry_times", 1))
            delay = self.backoff_base * 2 ** (attempt - 1)
            await sleep(delay)  # on the crawl's event loop (Scrapy's sleep: asyncio or reactor)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        result = super().process_response(request, response)
        await self._pause(result)
        return result

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        if _is_dns_failure(exception) or (
                _is_refusal(exception)
                and not self.crawler.stats.get_value("response_received_count")):
            # A name that does not resolve now will not in the next seconds, and a
            # site that has refused every connection of this run so far is down:
            # retrying only froze the crawl for the whole backoff (14 s a request with
            # the defaults). Once the site has answered, a refusal is retried.
            return None
        result = super().process_exception(request, exception)
        await self._pause(result)
        return result


class HaltMiddleware:
    """Once the spider has decided to stop (the site kept refusing it: ``halted``),
    requests already handed to the downloader are dropped instead of fetched: closing
    the spider only empties the scheduler, and up to CONCURRENT_REQUESTS more pages
    would otherwise be asked of a site that is blocking us. Those already waiting in a
    downloader slot passed here before the halt: the spider drops them as it halts
    (``JiangsuSpider._drop_queued_downloads``)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HaltMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if getattr(self.crawler.spider, "halted", False):
            raise IgnoreRequest(HALTED)


def _is_refusal(exception: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exception).__mro__}
    return bool(names & {"ConnectionRefusedError", "DownloadConnectionRefusedError"})


def _is_dns_failure(exception: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exception).__mro__}
    return bool(names & {"DNSLookupError", "CannotResolveHostError"})


class OffsiteRedirectMiddleware:
    """Refuse redirects that leave the channel's host or go round in a loop, and
    keep every other redirect from vanishing.

    An archive of js.people.com.cn must not store another site's page under its
    URL. Scrapy's OffsiteMiddleware drops the redirected request when it is
    scheduled, without calling the original request's errback, so the page would
    vanish without a recorded failure; raising here (process_response runs before
    RedirectMiddleware's, 610 > 600) sends IgnoreRequest to the errback instead.

    The duplicate filter would silently drop a redirect to a URL already requested
    (the other half of a loop, another listed article) in the same way, so the
    request is marked ``dont_filter`` before RedirectMiddleware copies it: a
    redirect then either arrives, or ends in REDIRECT_MAX_TIMES' IgnoreRequest.
    """

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Response:
        location = response.headers.get(b"Location")
        if response.status in (301, 302, 303, 307, 308) and location:
            target = urljoin(request.url, location.decode("latin-1"))
            if urlparse(target).hostname != urlparse(request.url).hostname:
                raise IgnoreRequest(f"redirect off the site to {target}")
            chain = [*request.meta.get("redirect_urls", []), request.url]
            if target in chain:
                raise IgnoreRequest("redirect loop: " + " -> ".join([*chain, target]))
            request.dont_filter = True
        return response


class AllRequestsRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's RobotsTxtMiddleware, with every request checked against robots.txt.

    Requests that arrive while robots.txt is still downloading all await one shared
    Deferred; in Scrapy 2.19 the first awaiter's callback consumes its result, so
    every later one gets None, "no robots.txt", and goes through unchecked: at the
    start of a crawl, that is every column but one and every failure retried.
    Once the Deferred has fired the parser is stored, so read it from there.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        robots_logger = logging.getLogger("scrapy.downloadermiddlewares.robotstxt")
        if not any(isinstance(f, _QuietRobotsErrors) for f in robots_logger.filters):
            robots_logger.addFilter(_QuietRobotsErrors())

    async def robot_parser(self, request: Request) -> RobotParser | None:
        parser = await super().robot_parser(request)
        stored = self._parsers.get(urlparse_cached(request).netloc)
        return parser if stored is None or isinstance(stored, Deferred) else stored


class _QuietRobotsErrors(logging.Filter):
    """robots.txt that cannot be downloaded (the site unreachable) is logged by
    Scrapy at ERROR with a 70-line traceback. The pages that follow fail the same way
    and are recorded, and the run's verdict names the cause in one line: keep this
    one line, at INFO, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.levelno >= logging.ERROR:
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True
