"""The ``jiangsu`` spider: column list pages → article pages → items.

Run as ``scrapy crawl jiangsu`` (``-a column=360300 -a edition=big5
-a max_list_pages=3 -a full=1 -a images=0``, ``-s PDARCHIVE_DB=… -s PDARCHIVE_CONFIG=…``) or
as ``pdarchive crawl``; both run this spider with the same settings.

The spider is given a crawl job (crawler/job.py: the scope and the archive's state
it starts from), planned before Scrapy starts, and never opens the archive; started
with spider arguments and no job, it plans one from its settings in ``from_crawler``.
See docs/ARCHITECTURE.md, steps 2 to 7.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.defer import deferred_from_coro
from twisted.python.failure import Failure

from archive.store import FetchedPage, utc_now
from crawler.config import Config, load_config
from crawler.items import (
    ArticleItem,
    FailureItem,
    ListPageItem,
    ParsedPageResult,
    PictureItem,
)
from crawler.job import CrawlJob, ScopeError, plan_job, plan_scope
from crawler.parse import ParsedPage, ParseRefused
from crawler.parse.notices import notice_refusal
from crawler.parse.urls import LAST_UNDATED_DAY, ArticleUrl, parse_article_url, parse_list_url
from crawler.parser_pool import ParserPool, worker_count
from crawler.spiders.base import ConfiguredSpider

#: HTTP statuses that mean "the site will not serve this crawler now"
BLOCKING_STATUSES = (403, 429, 503)
#: the spider's close reason when the site kept refusing it (max_blocked in a row)
BLOCKED = "blocked"
#: the IgnoreRequest message of a request dropped because the crawl is stopping
#: (crawler.middlewares.HaltMiddleware)
HALTED = "not fetched: the crawl is stopping"
#: the crawl's stats the run's verdict is drawn from (crawler/pipelines.py): pages the
#: site answered with a block page (with HTTP 200); pages read (list pages whole,
#: article pages parsed) and requests that in the end failed for the site's sake
#: (unreachable, refused); the refusals in a row that stopped the crawl
BLOCKED_PAGES = "pdarchive/blocked_pages"
PAGES_READ = "pdarchive/pages_read"
SITE_FAILURES = "pdarchive/site_failures"
HALT_STREAK = "pdarchive/blocked_streak"
#: how much of a page's end is searched for its closing tag
_TAIL_BYTES = 4096
#: pictures wait behind list and article pages: a walk is never slowed by them
PICTURE_PRIORITY = -10
#: the crawl's stat of pictures fetched
PICTURES = "pdarchive/pictures"

logger = logging.getLogger(__name__)


def _looks_whole(body: bytes) -> bool:
    """Does an HTML page end as a whole page does, with ``</body>`` or ``</html>``?
    (A page cut off mid-way with no Content-Length arrives as if complete.)"""
    tail = body[-_TAIL_BYTES:].lower()
    return b"</html>" in tail or b"</body>" in tail


def _visible_text(response: Response) -> tuple[str, str]:
    """A page's title and headings, and its body text (scripts and styles left out)."""
    if not isinstance(response, TextResponse):
        return "", ""
    heading = " ".join(response.xpath(
        "//title//text() | //h1//text() | //h2//text() | //h3//text()").getall())
    text = " ".join(response.xpath(
        "//body//text()[not(ancestor::script) and not(ancestor::style)]").getall())
    return " ".join(heading.split()), " ".join(text.split())


def _headers(response: Response) -> dict[str, str]:
    return {
        key.decode("latin-1"): b", ".join(values).decode("latin-1")
        for key, values in response.headers.items()
    }


#: the spider arguments that make the scope
SCOPE_NAMES = ("column", "edition", "max_list_pages", "full", "since", "until",
                "max_articles", "images")


def scope_arguments(*, column: Any = None, edition: Any = None, max_list_pages: Any = None,
                    full: Any = False, since: Any = None, until: Any = None,
                    max_articles: Any = None, images: Any = None) -> dict[str, Any]:
    """The spider arguments (``-a column=…``) as ``plan_scope``'s options: those given."""
    found = {name: value for name, value in (
        ("columns", column), ("editions", edition), ("max_list_pages", max_list_pages),
        ("full", full), ("since", since), ("until", until), ("max_articles", max_articles))
        if value is not None and value is not False and value not in ("", [], ())}
    if images is not None and images != "":  # ``-a images=0`` turns pictures off
        found["images"] = images
    return found


class JiangsuSpider(ConfiguredSpider):
    name = "jiangsu"
    parser: ParserPool

    #: what this crawl takes and what the archive held when it was planned
    job: CrawlJob
    #: the configuration (PDARCHIVE_CONFIG): the site, how to treat refusals, parsers
    config: Config
    allowed_domains: list[str]

    def __init__(self, job: CrawlJob | None = None, column: Any = None, edition: Any = None,
                 max_list_pages: Any = None, full: Any = False, since: Any = None,
                 until: Any = None, max_articles: Any = None, images: Any = None, *,
                 config: Config | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if job is not None:
            if not isinstance(job, CrawlJob):  # ``-a job=…``: spider arguments are text
                raise ScopeError("job is planned, not given as a spider argument: give "
                                 "the scope (-a column=…, -a edition=…) instead")
            self.job = job
        if config is not None:
            self.use_config(config)
        #: the scope asked for as spider arguments (``scrapy crawl jiangsu -a …``),
        #: planned in from_crawler when no job is given
        self.scope_arguments = scope_arguments(
            column=column, edition=edition, max_list_pages=max_list_pages, full=full,
            since=since, until=until, max_articles=max_articles, images=images)
        #: the article ids this crawl has asked for
        self.scheduled: set[str] = set()
        #: the picture URLs this crawl has asked for
        self.pictures_scheduled: set[str] = set()
        #: column → its list walk reached the end or the known articles
        self.walk_complete: dict[str, bool] = {}
        #: (column, walk) → the article ids the walk's list pages listed so far (walk
        #: True: from page 1, stopping at known articles; False: a resumed one): a list
        #: page that adds none ends the walk (a pager that repeats itself)
        self.listed: dict[tuple[str, bool], set[str]] = {}
        #: blocked answers in a row (HTTP 403/429/503, block pages)
        self.block_streak = 0
        #: the crawl is stopping (the site kept refusing it): nothing more is fetched
        self.halted = False

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> JiangsuSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if not hasattr(spider, "config"):
            spider.use_config(load_config(crawler.settings.get("PDARCHIVE_CONFIG")))
        if not hasattr(spider, "job"):
            spider.plan(crawler)
        spider.parser = ParserPool(worker_count(spider.config.parse_workers))
        crawler.signals.connect(spider.parser.close, signal=signals.spider_closed)
        return spider

    @classmethod
    def check_arguments(cls, settings: BaseSettings, arguments: dict[str, Any]) -> None:
        """Check the configuration and the scope that ``scrapy crawl jiangsu -a …`` asks
        for before the crawl starts (crawler/commands/crawl.py): a ConfigError, else
        Scrapy reports it from inside the crawl, as a traceback."""
        known = {name: value for name, value in arguments.items() if name in SCOPE_NAMES}
        plan_scope(load_config(settings.get("PDARCHIVE_CONFIG")), **scope_arguments(**known))

    def use_config(self, config: Config) -> None:
        self.config = config
        self.allowed_domains = [config.base_url.split("://", 1)[-1].split("/", 1)[0]]

    def plan(self, crawler: Crawler) -> None:
        """Started with no job (``scrapy crawl jiangsu -a column=…``): plan one from
        the spider arguments and the archive the settings name, as ``pdarchive crawl``
        does before it starts Scrapy."""
        self.job = plan_job(self.config, crawler.settings.get("PDARCHIVE_DB") or "archive.db",
                            **self.scope_arguments)

    # -- the job, read-only ---------------------------------------------------------

    @property
    def columns(self) -> tuple[str, ...]:
        return self.job.scope.columns

    @property
    def editions(self) -> tuple[str, ...]:
        return self.job.scope.editions

    @property
    def max_list_pages(self) -> int:
        return self.job.scope.max_list_pages

    @property
    def full(self) -> bool:
        return self.job.scope.full

    @property
    def since(self) -> str | None:
        return self.job.scope.since

    @property
    def until(self) -> str | None:
        return self.job.scope.until

    @property
    def max_articles(self) -> int:
        return self.job.scope.max_articles

    # -- list pages ---------------------------------------------------------------

    def list_url(self, column: str, page: int) -> str:
        name = "index.html" if page == 1 else f"index{page}.html"
        return f"{self.config.base_url}/GB/{column}/{name}"

    def first_requests(self) -> Iterator[scrapy.Request]:
        """Each column's first list page, the list page where its last walk stopped
        early (resumed without stopping at known articles), then the failed article
        pages that are due again."""
        for column in self.columns:
            yield self._list_request(column, 1)
            for page in self.job.resume_pages.get(column, ()):
                # past an unfinished walk nothing was read: no stopping at known articles
                yield self._list_request(column, page, stop_early=False)
        for url in self.job.retries:
            parsed = parse_article_url(url)
            if parsed:
                yield from self._article_requests(parsed, retry=True)
        if self.job.scope.images:
            for picture, article_id, shown_in in self.job.picture_retries:
                yield from self._picture_request(picture, article_id, shown_in, retry=True)

    async def start(self) -> AsyncIterator[Any]:
        for request in self.first_requests():
            yield request

    def _list_request(self, column: str, page: int, stop_early: bool = True) -> scrapy.Request:
        return scrapy.Request(self.list_url(column, page), callback=self.parse_list,
                              errback=self.failed,
                              cb_kwargs={"column": column, "page": page,
                                         "stop_early": stop_early},
                              meta={"column": column}, dont_filter=True)

    def _walk_ended(self, column: str, complete: bool) -> None:
        """One walk down a column's list pages ended: ``complete`` when everything up
        to where it stopped was read whole, or where it stopped is a recorded failure
        (the next crawl resumes there); not when it was cut short (``--since``,
        ``--max-list-pages``, ``--max-articles``). Several walks of one column (page 1
        and a resumed one) make it complete only if all are."""
        if complete:
            self.walk_complete.setdefault(column, True)
        else:
            self.walk_complete[column] = False

    def _list_problem(self, response: Response, column: str, page: int,
                      listed: list[ArticleUrl]) -> tuple[str, str] | None:
        """Why ``response`` does not count as list page ``page`` of ``column`` read
        whole: ``(kind, reason)``, or None when it does."""
        resume = "; the walk stops here and the next crawl resumes at this page"
        if not isinstance(response, TextResponse):
            return "not_a_list", "the list page is not an HTML page" + resume
        if not _looks_whole(response.body):
            return "truncated", ("truncated: the list page ends before </body></html> (cut "
                                 "off mid-page)" + resume)
        if listed:
            return None
        refusal = notice_refusal(*_visible_text(response))
        if refusal is not None:
            return refusal.kind, refusal.reason + resume
        if page == 1:
            if not self.job.column_counts.get(column):
                return None  # a column with nothing in it yet
            # A column that had articles now lists none: the list layout changed or
            # the site serves a stub. Say so loudly, and keep the last good list page.
            return "not_a_list", (
                f"the list page links to no article (the archive holds "
                f"{self.job.column_counts[column]} of column {column}): the list layout may "
                "have changed")
        return "not_a_list", (f"list page {page} links to no article of column {column}: "
                              "not a list page" + resume)

    def parse_list(self, response: Response, column: str, page: int,
                   stop_early: bool = True) -> Iterator[Any]:
        self.crawler.stats.set_value("pdarchive/column", column)
        links = ([urljoin(response.url, href.strip())
                  for href in response.css("a::attr(href)").getall()]
                 if isinstance(response, TextResponse) else [])
        listed = [
            parsed for link in links
            if (parsed := parse_article_url(link))
            and parsed.edition == "gb" and parsed.page == 1 and parsed.column_id in self.columns
        ]
        url = self._asked_for(response.request) if response.request else response.url
        problem = self._list_problem(response, column, page, listed)
        if problem is not None:
            kind, reason = problem
            if kind == "blocked":
                self._count(BLOCKED_PAGES)
                self._count(SITE_FAILURES)
                self._blocked()
            self._walk_ended(column, True)  # recorded: resumed there by the next crawl
            yield FailureItem(url, "list", reason, response.status, None, column, kind=kind)
            return
        self.block_streak = 0
        self._count(PAGES_READ)
        seen = self.listed.setdefault((column, stop_early), set())
        new_ids = {article.article_id for article in listed} - seen
        if listed and not new_ids - self.listed.get((column, not stop_early), set()):
            if new_ids:  # the other walk of this column has been here: it goes on
                self._walk_ended(column, True)
                return
            # Only articles this walk already listed: a pager that repeats itself (or
            # articles pushed down while we walked). Stop, and resume here next time.
            self._walk_ended(column, True)
            yield FailureItem(
                url, "list", f"list page {page} lists only articles of earlier list pages: "
                "the pager repeats itself; the walk stops here and the next crawl resumes "
                "at this page", response.status, None, column, kind="repeat")
            return
        seen |= new_ids
        yield ListPageItem(column, FetchedPage(
            url=response.url, status=response.status, headers=_headers(response),
            body=response.body, fetched_at=utc_now(), kind="list"))
        seen_known = False
        for parsed in listed:
            if parsed.article_id in self.job.known:
                seen_known = True
                if not self.full and not self._lacks_edition(parsed.article_id):
                    continue
            if parsed.article_id in self.job.backing_off or not self._in_scope(parsed):
                continue
            yield from self._article_requests(parsed)

        if seen_known and stop_early and self.job.may_stop_early.get(column):
            self._walk_ended(column, True)
            return
        if self._scope_exhausted(listed):
            self._walk_ended(column, False)  # a bounded crawl: the walk is not complete
            return
        next_page = page + 1
        pager_pages = {
            found[1] for link in links
            if (found := parse_list_url(link)) and found[0] == column
        }
        if next_page not in pager_pages:
            self._walk_ended(column, True)
            return
        if self.max_list_pages and next_page > self.max_list_pages:
            logger.warning(
                "column %s: stopped at max_list_pages (%d); older list pages were not "
                "walked (raise max_list_pages or give --max-list-pages N to go further)",
                column, self.max_list_pages)
            self.crawler.stats.set_value(f"pdarchive/list_cap/{column}", self.max_list_pages)
            self._walk_ended(column, False)
            return
        yield self._list_request(column, next_page, stop_early)

    def _lacks_edition(self, article_id: str) -> bool:
        """Does an archived article lack an edition this crawl asks for (and was not
        found missing there)? Then it is fetched again, without ``--full``."""
        held = self.job.held_editions.get(article_id)
        return held is not None and bool(set(self.editions) - held)

    def _in_scope(self, article: ArticleUrl) -> bool:
        if article.date is None:  # a URL from before 2013
            return not self.since or self.since <= LAST_UNDATED_DAY
        return ((not self.since or article.date >= self.since)
                and (not self.until or article.date <= self.until[:10]))

    def _scope_exhausted(self, listed: list[ArticleUrl]) -> bool:
        """Should the walk of this column stop after this list page?

        List pages run newest first, so once a page reaches back past ``--since``
        the next one lies entirely before it and is not requested. (An article
        listed out of order on a later page is left to an unbounded crawl.)
        """
        if self.max_articles and len(self.scheduled) >= self.max_articles:
            return True
        earliest = min((a.date or LAST_UNDATED_DAY for a in listed), default=None)
        return bool(self.since and earliest and earliest < self.since)

    # -- articles -----------------------------------------------------------------

    def _article_requests(self, article: ArticleUrl, retry: bool = False) -> Iterator[Any]:
        if article.article_id in self.scheduled:
            return
        if self.max_articles and len(self.scheduled) >= self.max_articles and not retry:
            return
        self.scheduled.add(article.article_id)
        item = ArticleItem(article.article_id, article.column_id)
        yield self._page_request(item, article, self.editions[0], 1, dont_filter=retry)

    def _page_request(self, item: ArticleItem, article: ArticleUrl, edition: str, page: int,
                      dont_filter: bool = False) -> scrapy.Request:
        url = article.page_url(page) if edition == article.edition else parse_article_url(
            article.in_edition(edition)).page_url(page)  # type: ignore[union-attr]
        return scrapy.Request(
            url, callback=self.parse_article, errback=self.failed, dont_filter=dont_filter,
            cb_kwargs={"item": item, "article": article, "edition": edition, "page": page},
            meta={"article_id": article.article_id, "column": article.column_id},
        )

    async def parse_article(self, response: Response, item: ArticleItem, article: ArticleUrl,
                            edition: str, page: int) -> AsyncIterator[Any]:
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1") or None
        fetched = FetchedPage(
            url=response.url, status=response.status, headers=_headers(response),
            body=response.body, fetched_at=utc_now(), article_id=article.article_id,
            edition=edition, page=page)
        url = self._asked_for(response.request) if response.request else response.url
        redirects = self._redirects(response.request) if response.request else []
        head = response.body[:_TAIL_BYTES].lower()
        if (b"<html" in head or b"<body" in head) and not _looks_whole(response.body):
            # cut off with no Content-Length to tell: never parsed as if whole
            for output in self._give_up(item, article, edition, FailureItem(
                    url, "fetch", "truncated: the page ends before </body></html> (cut off "
                    "mid-page)", response.status, article.article_id, article.column_id,
                    kind="truncated", redirects=redirects)):
                yield output
            return
        try:
            parsed = await self.parser.parse(response.body, response.url, content_type)
        except ParseRefused as refusal:
            if refusal.kind == "blocked":
                self._count(BLOCKED_PAGES)
                self._count(SITE_FAILURES)
                self._blocked()
            for output in self._give_up(item, article, edition, FailureItem(
                    url, "parse", f"{refusal.kind}: {refusal.reason}",
                    response.status, article.article_id, article.column_id,
                    kind=refusal.kind, redirects=redirects)):
                yield output
            return
        self.block_streak = 0
        self._count(PAGES_READ)
        if parsed.record["article_id"] != article.article_id:
            for output in self._give_up(item, article, edition, FailureItem(
                    url, "parse", f"page says article {parsed.record['article_id']}"
                    + (f" (redirected to {response.url})" if redirects else ""),
                    response.status, article.article_id, article.column_id,
                    kind="not_an_article", redirects=redirects)):
                yield output
            return
        for output in self._accept(item, article, edition, page, fetched, parsed):
            yield output

    def _accept(self, item: ArticleItem, article: ArticleUrl, edition: str, page: int,
                fetched: FetchedPage, parsed: ParsedPage) -> Iterator[Any]:
        fetched.encoding, fetched.extractor = parsed.encoding, parsed.extractor
        pages = item.editions.setdefault(edition, [])
        pages.append(ParsedPageResult(fetched, parsed.record))
        if page < parsed.record["page_count"]:
            yield self._page_request(item, article, edition, page + 1)
            return
        yield from self._next_edition(item, article, edition)

    def _next_edition(self, item: ArticleItem, article: ArticleUrl, done: str) -> Iterator[Any]:
        position = self.editions.index(done)
        if position + 1 < len(self.editions):
            yield self._page_request(item, article, self.editions[position + 1], 1)
        elif item.editions:
            yield item
            yield from self._picture_requests(item)

    # -- pictures -----------------------------------------------------------------

    def _picture_requests(self, item: ArticleItem) -> Iterator[scrapy.Request]:
        """The pictures an article shows (``images[].src`` of every page of every
        edition), each asked for once: not those the archive holds or that still wait
        out their backoff, nor those this crawl asked for already (shared by articles)."""
        if not self.job.scope.images:
            return
        for pages in item.editions.values():
            for page in pages:
                for image in page.record.get("images") or []:
                    src = image.get("src") if isinstance(image, dict) else None
                    if isinstance(src, str) and src.startswith(("http://", "https://")):
                        yield from self._picture_request(src, item.article_id, item.column_id)

    def _picture_request(self, url: str, article_id: str | None, column: str | None,
                         retry: bool = False) -> Iterator[scrapy.Request]:
        if url in self.pictures_scheduled or (url in self.job.known_pictures and not retry):
            return
        host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
        if not any(host == domain or host.endswith("." + domain)
                   for domain in self.allowed_domains):
            return  # another site's picture: not this crawl's to fetch
        self.pictures_scheduled.add(url)
        yield scrapy.Request(
            url, callback=self.parse_picture, errback=self.failed, priority=PICTURE_PRIORITY,
            dont_filter=retry,
            cb_kwargs={"article_id": article_id, "column": column},
            meta={"picture": True, "article_id": article_id, "column": column,
                  "download_maxsize": self.config.max_picture_bytes})

    def parse_picture(self, response: Response, article_id: str | None,
                      column: str | None) -> Iterator[Any]:
        """A picture as fetched, kept as a capture of its own kind; an HTML page where
        a picture should be (an error or block page served with 200) is a failure."""
        url = self._asked_for(response.request) if response.request else response.url
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        head = response.body[:512].lstrip().lower()
        if content_type.lower().startswith("text/html") or head.startswith(
                (b"<!doctype html", b"<html")):
            refusal = notice_refusal(*_visible_text(response))
            kind = refusal.kind if refusal is not None else "not_a_picture"
            yield FailureItem(
                url, "picture", f"{kind}: the site answered with an HTML page, not a picture "
                f"({content_type or 'no Content-Type'})", response.status, article_id, column,
                kind=kind, redirects=self._redirects(response.request)
                if response.request else [])
            return
        self._count(PICTURES)
        yield PictureItem(column, FetchedPage(
            url=response.url, status=response.status, headers=_headers(response),
            body=response.body, fetched_at=utc_now(), kind="picture", article_id=article_id))

    def _give_up(self, item: ArticleItem, article: ArticleUrl, edition: str,
                 failure: FailureItem) -> Iterator[Any]:
        """An edition could not be had whole: record why. Without its first edition
        the article is given up (the other edition alone would replace the stored
        article); without another one, the rest is kept for a new article only
        (``partial``), unless the article simply has no page in that edition."""
        item.editions.pop(edition, None)
        yield failure
        if edition == self.editions[0]:
            return
        if failure.kind != "missing_edition":
            item.partial = True
        yield from self._next_edition(item, article, edition)

    @staticmethod
    def _asked_for(request: scrapy.Request) -> str:
        """The URL the crawl asked for, before any redirect."""
        return str(request.meta.get("redirect_urls", [request.url])[0])

    @staticmethod
    def _redirects(request: scrapy.Request) -> list[str]:
        """Where redirects sent ``request`` from the URL asked for, in order."""
        chain = list(request.meta.get("redirect_urls", []))
        return [*chain[1:], request.url] if chain else []

    def _count(self, key: str) -> None:
        self.crawler.stats.inc_value(key)

    def _blocked(self) -> None:
        """The site refused a page: slow down, and after ``max_blocked`` refusals in a
        row stop the run (hammering a site that is blocking us only prolongs the ban)."""
        self.block_streak += 1
        config = self.config
        if config.max_blocked and self.block_streak >= config.max_blocked:
            if not self.halted:
                self.halted = True
                logger.info("the site refused %d pages in a row: stopping the crawl",
                            self.block_streak)
                self.crawler.stats.set_value(HALT_STREAK, self.block_streak)
                self._drop_queued_downloads()
                deferred_from_coro(self.crawler.engine.close_spider_async(reason=BLOCKED))
            return
        pause = min(config.blocked_pause * 2 ** (self.block_streak - 1), config.blocked_pause_max)
        engine = self.crawler.engine
        downloader = getattr(engine, "downloader", None) if engine else None
        for slot in getattr(downloader, "slots", {}).values():
            slot.delay = max(slot.delay, pause)
        logger.info("the site refused a page (%d in a row): waiting %.1f s between "
                    "requests", self.block_streak, pause)

    def _drop_queued_downloads(self) -> None:
        """Requests waiting in the downloader's slots (behind the pause between requests)
        passed HaltMiddleware before the crawl halted: fail them as it fails the rest
        (``IgnoreRequest(HALTED)``: never asked for), rather than ask them of a site that
        is refusing us. (The slots' queues are Scrapy's private API; only here.)"""
        downloader = getattr(self.crawler.engine, "downloader", None)
        for slot in getattr(downloader, "slots", {}).values():
            queue = getattr(slot, "queue", None)
            while queue:
                _, waiting = queue.popleft()
                waiting.errback(IgnoreRequest(HALTED))

    def _fetch_reason(self, failure: Failure) -> tuple[str, str]:
        """What went wrong, in words a person reading ``pdarchive stats`` can act on.

        Matched on exception class names as well as classes: Scrapy's download
        errors were renamed across versions (twisted's TimeoutError, _DataLoss, …).
        """
        settings = self.crawler.settings
        message = failure.getErrorMessage()
        names = {cls.__name__ for cls in type(failure.value).__mro__}
        if failure.check(IgnoreRequest):
            if "robots.txt" in message.lower():
                return "robots", "forbidden by robots.txt"
            if "max redirections" in message:
                return "redirect", (f"too many redirects (more than "
                                    f"{settings.getint('REDIRECT_MAX_TIMES')}): a redirect loop")
            if message.startswith(("redirect loop", "redirect off the site")):
                return "redirect", message
            return "ignored", message or "ignored"
        if names & {"TimeoutError", "DownloadTimeoutError", "TCPTimedOutError"}:
            return "timeout", f"timed out after {settings.getfloat('DOWNLOAD_TIMEOUT'):g} s"
        if "ResponseDataLossError" in names or "DataLoss" in message:
            return "truncated", ("truncated: the connection closed before the announced "
                                 "Content-Length")
        if "max size" in message:
            return "too_large", (f"too large: over the {settings.getint('DOWNLOAD_MAXSIZE')}"
                                 "-byte limit (max_response_bytes); not downloaded")
        if "DNSLookupError" in names or "CannotResolveHostError" in names:
            return "dns", f"DNS lookup failed: {message}"
        if "ConnectionRefusedError" in names or "DownloadConnectionRefusedError" in names:
            return "connection", "connection refused"
        if names & {"ConnectionLost", "ResponseNeverReceived", "DownloadFailedError",
                    "ConnectionDone", "ResponseFailed", "ConnectError"}:
            return "connection", ("connection lost: the server closed or reset it before a "
                                  "whole answer")
        return "error", f"{failure.type.__name__}: {message}"

    def failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        if failure.check(IgnoreRequest) and failure.getErrorMessage() == HALTED:
            return  # never asked for: the next crawl's walk finds it again
        status = None
        if failure.check(HttpError):
            response = failure.value.response
            status = response.status
            reason = f"HTTP {status}"
            kind = "blocked" if status in BLOCKING_STATUSES else "http"
        else:
            kind, reason = self._fetch_reason(failure)
        kwargs = request.cb_kwargs
        if request.meta.get("picture"):
            # A picture's failure is its own, never its article's: recorded (retried by
            # later crawls with the backoff of pages), and nothing said of the site.
            if kind == "too_large":
                reason = (f"too large: over the {self.config.max_picture_bytes}-byte limit "
                          "(max_picture_bytes); not downloaded")
            yield FailureItem(self._asked_for(request), "picture", reason, status,
                              request.meta.get("article_id"), request.meta.get("column"),
                              kind=kind, redirects=self._redirects(request))
            return
        if kind in ("blocked", "dns", "connection", "timeout"):
            self._count(SITE_FAILURES)
        if kind == "blocked":
            self._blocked()
        # Recorded under the URL the crawl asked for, not where redirects led it.
        url = self._asked_for(request)
        failure_item = FailureItem(url, "fetch", reason, status,
                                   request.meta.get("article_id"), request.meta.get("column"),
                                   kind=kind, redirects=self._redirects(request))
        if "item" in kwargs:
            edition = kwargs["edition"]
            if status in (404, 410) and edition != self.editions[0] and kwargs["page"] == 1:
                # The article has no page in this edition (most have no BIG5 one): a
                # fact about the article, recorded once, not a failure to retry.
                failure_item.stage, failure_item.kind = "edition", "missing_edition"
                failure_item.edition = edition
            yield from self._give_up(kwargs["item"], kwargs["article"], edition, failure_item)
        else:
            yield failure_item
            column = kwargs.get("column")
            if column:
                failure_item.stage = "list"
                # recorded: the next crawl resumes the walk at this list page
                self._walk_ended(column, True)
