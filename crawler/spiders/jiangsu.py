"""The ``jiangsu`` spider: column list pages → article pages → items.

Run as ``scrapy crawl jiangsu`` (``-a column=360300 -a edition=big5
-a max_list_pages=3 -a full=1``, ``-s PDARCHIVE_DB=… -s PDARCHIVE_CONFIG=…``) or
as ``pdarchive crawl``; both run this spider with the same settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from archive.store import Archive, FetchedPage, utc_now
from crawler.config import Config, load_config
from crawler.items import ArticleItem, FailureItem, ListPageItem, ParsedPageResult
from crawler.parse import ParsedPage, ParseRefused
from crawler.parse.urls import LAST_UNDATED_DAY, ArticleUrl, parse_article_url, parse_list_url
from crawler.parser_pool import ParserPool, worker_count
from crawler.spiders.base import ConfiguredSpider


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _headers(response: Response) -> dict[str, str]:
    return {
        key.decode("latin-1"): b", ".join(values).decode("latin-1")
        for key, values in response.headers.items()
    }


class JiangsuSpider(ConfiguredSpider):
    name = "jiangsu"
    parser: ParserPool

    def __init__(self, column: Any = None, edition: Any = None, max_list_pages: Any = None,
                 full: Any = False, since: str | None = None, until: str | None = None,
                 max_articles: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._column_arg = _split(column)
        self._edition_arg = _split(edition)
        self._max_list_pages_arg = max_list_pages
        self.full = str(full).lower() in ("1", "true", "yes", "on")
        #: publication days (YYYY-MM-DD) outside which articles are not fetched
        self.since = since or None
        self.until = until or None
        self.max_articles = int(max_articles) if max_articles not in (None, "") else 0

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> JiangsuSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider._configure(load_config(crawler.settings.get("PDARCHIVE_CONFIG")),
                          crawler.settings.get("PDARCHIVE_DB"))
        spider.parser = ParserPool(worker_count(spider.config.parse_workers))
        crawler.signals.connect(spider.parser.close, signal=signals.spider_closed)
        return spider

    def _configure(self, config: Config, db_path: str) -> None:
        self.config = config
        self.columns = self._column_arg or [column.id for column in config.default_columns()]
        if not self.columns:
            raise ValueError("no column to crawl: give --column or mark one default in config")
        self.editions = self._edition_arg or list(config.editions)
        unknown = set(self.editions) - {"gb", "big5"}
        if unknown:
            raise ValueError(f"unknown edition {sorted(unknown)}: use gb or big5")
        limit = self._max_list_pages_arg
        self.max_list_pages = int(limit) if limit not in (None, "") else config.max_list_pages
        self.archive = Archive(db_path)
        self.known = self.archive.known_article_ids()
        self.column_counts = self.archive.column_article_counts()
        self.scheduled: set[str] = set()
        #: articles whose failed pages still wait out their backoff: the list walk
        #: leaves them alone (start() asks for them once they are due), unless --full
        due = {failure["url"] for failure in self.archive.failures_due()}
        self.backing_off = set() if self.full else {
            failure["article_id"] for failure in self.archive.failures()
            if failure["article_id"] and failure["url"] not in due}
        #: may a column stop at the first list page holding a known article?
        self.may_stop_early = {
            column: not self.full and self.archive.column_walk_completed(column)
            for column in self.columns
        }
        #: column → its list walk reached the end or the known articles
        self.walk_complete: dict[str, bool] = {}
        host = config.base_url.split("://", 1)[-1].split("/", 1)[0]
        self.allowed_domains = [host]

    # -- list pages ---------------------------------------------------------------

    def list_url(self, column: str, page: int) -> str:
        name = "index.html" if page == 1 else f"index{page}.html"
        return f"{self.config.base_url}/GB/{column}/{name}"

    async def start(self) -> AsyncIterator[Any]:
        for column in self.columns:
            yield self._list_request(column, 1)
        for failure in self.archive.failures_due():
            parsed = parse_article_url(failure["url"])
            if parsed and parsed.column_id in self.columns:
                for request in self._article_requests(parsed, retry=True):
                    yield request

    def _list_request(self, column: str, page: int) -> scrapy.Request:
        return scrapy.Request(self.list_url(column, page), callback=self.parse_list,
                              errback=self.failed, cb_kwargs={"column": column, "page": page},
                              meta={"column": column}, dont_filter=True)

    def parse_list(self, response: Response, column: str, page: int) -> Iterator[Any]:
        self.crawler.stats.set_value("pdarchive/column", column)
        links = [urljoin(response.url, href.strip())
                 for href in response.css("a::attr(href)").getall()]
        listed = [
            parsed for link in links
            if (parsed := parse_article_url(link))
            and parsed.edition == "gb" and parsed.page == 1 and parsed.column_id in self.columns
        ]
        if page == 1 and not listed and self.column_counts.get(column):
            # A column that had articles now lists none: the list layout changed or
            # the site serves a stub. Say so loudly, and keep the last good list page.
            self.walk_complete[column] = False
            yield FailureItem(
                response.url, "list",
                f"the list page links to no article (the archive holds "
                f"{self.column_counts[column]} of column {column}): the list layout may have "
                "changed",
                response.status, None, column)
            return
        yield ListPageItem(column, FetchedPage(
            url=response.url, status=response.status, headers=_headers(response),
            body=response.body, fetched_at=utc_now(), kind="list"))
        seen_known = False
        for parsed in listed:
            if parsed.article_id in self.known:
                seen_known = True
                if not self.full:
                    continue
            if parsed.article_id in self.backing_off or not self._in_scope(parsed):
                continue
            yield from self._article_requests(parsed)

        if seen_known and self.may_stop_early[column]:
            self.walk_complete[column] = True
            return
        if self._scope_exhausted(listed):
            return  # a bounded crawl: the column's walk is not complete
        next_page = page + 1
        if self.max_list_pages and next_page > self.max_list_pages:
            self.walk_complete.setdefault(column, False)
            return
        pager_pages = {
            found[1] for link in links
            if (found := parse_list_url(link)) and found[0] == column
        }
        if next_page in pager_pages:
            yield self._list_request(column, next_page)
        else:
            self.walk_complete[column] = True

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
        try:
            parsed = await self.parser.parse(response.body, response.url, content_type)
        except ParseRefused as refusal:
            for output in self._give_up(item, article, edition, FailureItem(
                    response.url, "parse", f"{refusal.kind}: {refusal.reason}",
                    response.status, article.article_id, article.column_id)):
                yield output
            return
        for output in self._accept(item, article, edition, page, fetched, parsed):
            yield output

    def _accept(self, item: ArticleItem, article: ArticleUrl, edition: str, page: int,
                fetched: FetchedPage, parsed: ParsedPage) -> Iterator[Any]:
        fetched.encoding, fetched.extractor = parsed.encoding, parsed.extractor
        if parsed.record["article_id"] != article.article_id:
            yield from self._give_up(item, article, edition, FailureItem(
                fetched.url, "parse", f"page says article {parsed.record['article_id']}",
                fetched.status, article.article_id, article.column_id))
            return
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

    def _give_up(self, item: ArticleItem, article: ArticleUrl, edition: str,
                 failure: FailureItem) -> Iterator[Any]:
        """An edition could not be had whole: record why, keep the other edition."""
        item.editions.pop(edition, None)
        yield failure
        yield from self._next_edition(item, article, edition)

    def _fetch_reason(self, failure: Failure) -> str:
        """What went wrong, in words a person reading ``pdarchive stats`` can act on.

        Matched on exception class names as well as classes: Scrapy's download
        errors were renamed across versions (twisted's TimeoutError, _DataLoss, …).
        """
        settings = self.crawler.settings
        message = failure.getErrorMessage()
        names = {cls.__name__ for cls in type(failure.value).__mro__}
        if failure.check(IgnoreRequest):
            if "robots.txt" in message.lower():
                return "forbidden by robots.txt"
            if "max redirections" in message:
                return (f"too many redirects (more than {settings.getint('REDIRECT_MAX_TIMES')})"
                        ": a redirect loop")
            return message or "ignored"
        if names & {"TimeoutError", "DownloadTimeoutError"}:
            return f"timed out after {settings.getfloat('DOWNLOAD_TIMEOUT'):g} s"
        if "ResponseDataLossError" in names or "DataLoss" in message:
            return "truncated: the connection closed before the announced Content-Length"
        if "max size" in message:
            return (f"too large: over the {settings.getint('DOWNLOAD_MAXSIZE')}-byte limit "
                    "(max_response_bytes); not downloaded")
        if "ConnectionRefusedError" in names or "DownloadConnectionRefusedError" in names:
            return "connection refused"
        if names & {"ConnectionLost", "ResponseNeverReceived", "DownloadFailedError",
                    "ConnectionDone", "ResponseFailed"}:
            return "connection lost: the server closed or reset it before a whole answer"
        return f"{failure.type.__name__}: {message}"

    def failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        status = None
        if failure.check(HttpError):
            response = failure.value.response
            status = response.status
            reason = f"HTTP {status}"
        else:
            reason = self._fetch_reason(failure)
        kwargs = request.cb_kwargs
        # Recorded under the URL the crawl asked for, not where redirects led it.
        url = request.meta.get("redirect_urls", [request.url])[0]
        failure_item = FailureItem(url, "fetch", reason, status,
                                   request.meta.get("article_id"), request.meta.get("column"))
        if "item" in kwargs:
            yield from self._give_up(kwargs["item"], kwargs["article"], kwargs["edition"],
                                     failure_item)
        else:
            yield failure_item
            column = kwargs.get("column")
            if column:
                self.walk_complete[column] = False
