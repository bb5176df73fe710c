"""The ``columns`` spider: read the channel's navigation and list pages and report
every column they link to, with the name the link gives it.

Run by ``pdarchive columns discover`` through the same settings as a crawl
(robots.txt, User-Agent, delay), so discovery is as polite as crawling.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlparse

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawler.config import Config, load_config
from crawler.parse.text import clean
from crawler.parse.urls import parse_article_url, parse_list_url
from crawler.spiders.base import ConfiguredSpider


@dataclass
class ColumnLink:
    column_id: str
    name: str
    found_on: str


class ColumnsSpider(ConfiguredSpider):
    name = "columns"
    config: Config
    host: str

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ColumnsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.config = load_config(crawler.settings.get("PDARCHIVE_CONFIG"))
        spider.host = urlparse(spider.config.base_url).hostname or ""
        spider.allowed_domains = [spider.host]  # type: ignore[attr-defined]
        return spider

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: pages read, and why each page that could not be read failed
        self.pages_read = 0
        self.failures: list[str] = []

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """The channel's home page, and page 1 of every configured column."""
        yield scrapy.Request(f"{self.config.base_url}/", callback=self.parse_page,
                             errback=self.ignore, dont_filter=True)
        for column in self.config.columns:
            yield scrapy.Request(f"{self.config.base_url}/GB/{column.id}/index.html",
                                 callback=self.parse_page, errback=self.ignore)

    def parse_page(self, response: Response) -> Iterator[Any]:
        self.pages_read += 1
        for link in response.css("a[href]"):
            url = urljoin(response.url, str(link.attrib["href"]).strip())
            if urlparse(url).hostname != self.host:
                continue  # another People's Daily channel or another site
            found = parse_list_url(url)
            if found is not None:
                name = clean(" ".join(link.css("::text").getall()))
                yield ColumnLink(found[0], name, response.url)
                continue
            article = parse_article_url(url)
            if article is not None:  # an article names its column in its URL only
                yield ColumnLink(article.column_id, "", response.url)

    def ignore(self, failure: Any) -> None:
        """A page that could not be read: discovery goes on without it (and says, in
        the end, whether it read anything at all)."""
        response = getattr(failure.value, "response", None)
        reason = (f"HTTP {response.status}" if response is not None
                  else failure.getErrorMessage() or type(failure.value).__name__)
        self.failures.append(reason)
        self.logger.info("discovery: %s", reason)
