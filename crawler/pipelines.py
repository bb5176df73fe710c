"""The one writer: merge an article's pages and editions, validate, store."""

from __future__ import annotations

from typing import Any, cast

from scrapy import signals
from scrapy.crawler import Crawler

from archive.record import IncompleteArticle, combine_editions, merge_pages
from archive.store import Archive, RunCounts
from crawler.items import ArticleItem, FailureItem, ListPageItem
from crawler.spiders.jiangsu import JiangsuSpider

#: share of article pages parsed by the fallback (or refused) above which a run
#: is reported as a warning: the site's layout has probably changed
LAYOUT_WARNING_SHARE = 0.5


class ArchivePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.counts = RunCounts()
        self.refused = 0
        self.run_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        pipeline = cls(crawler)
        # The close reason ("finished", "shutdown" on Ctrl-C, …) is known only when
        # spider_closed fires, after the pipelines' close_spider.
        crawler.signals.connect(pipeline.finish_run, signal=signals.spider_closed)
        return pipeline

    @property
    def spider(self) -> JiangsuSpider:
        return cast(JiangsuSpider, self.crawler.spider)

    def open_spider(self) -> None:
        spider = self.spider
        self.archive: Archive = spider.archive
        self.run_id = self.archive.start_run({
            "editions": spider.editions, "max_list_pages": spider.max_list_pages,
            "full": spider.full, "config": spider.config.source,
        }, columns=spider.columns)
        self.stats.set_value("pdarchive/run_id", self.run_id)

    def _count(self, key: str) -> None:
        setattr(self.counts, key, getattr(self.counts, key) + 1)
        self.stats.inc_value(f"pdarchive/{key}")

    def process_item(self, item: Any) -> Any:
        if isinstance(item, ArticleItem):
            self._store_article(item)
        elif isinstance(item, FailureItem):
            self._store_failure(item)
        elif isinstance(item, ListPageItem):
            self.archive.save_list_page(item.fetched, self.run_id)
        return item

    def _store_article(self, item: ArticleItem) -> None:
        try:
            merged = {edition: merge_pages([page.record for page in pages])
                      for edition, pages in item.editions.items()}
        except IncompleteArticle as error:
            first = next(iter(item.editions.values()))[0]
            self._store_failure(FailureItem(first.fetched.url, "store", str(error), None,
                                            item.article_id, item.column_id))
            return
        article = combine_editions(merged)
        pages = [page.fetched for edition_pages in item.editions.values()
                 for page in edition_pages]
        if any(page.extractor == "fallback" for page in pages):
            self._count("fallback")
        self._count(self.archive.save_article(article, pages, self.run_id))

    def _store_failure(self, item: FailureItem) -> None:
        if item.stage == "parse":
            self.refused += 1
        self._count("failed")
        self.archive.record_failure(
            item.url, stage=item.stage, reason=item.reason, http_status=item.http_status,
            run_id=self.run_id, article_id=item.article_id, column_id=item.column_id)

    def finish_run(self, reason: str) -> None:
        self.counts.requests = int(self.stats.get_value("downloader/request_count") or 0)
        stored = self.counts.new + self.counts.updated + self.counts.unchanged
        suspicious = self.counts.fallback + self.refused
        message = ""
        if reason != "finished":
            status = "interrupted"
            message = f"stopped: {reason}"
        elif suspicious and suspicious > LAYOUT_WARNING_SHARE * (stored + self.refused):
            status = "warning"
            message = (f"{suspicious} of {stored + self.refused} article pages were refused "
                       "or parsed by the generic fallback: the site's layout may have changed")
        else:
            status = "finished"
        self.stats.set_value("pdarchive/status", status)
        self.stats.set_value("pdarchive/message", message)
        complete = [column for column in self.spider.columns
                    if self.spider.walk_complete.get(column)]
        if self.run_id is not None:
            self.archive.finish_run(self.run_id, self.counts, status, message,
                                    complete if status != "interrupted" else [])
        self.archive.close()  # the spider opened it; the run's last write is this one
