"""``pdarchive columns discover``: columns the channel links to that the config lacks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import CrawlerProcess

from crawler.config import load_config
from crawler.run import crawl_settings
from crawler.spiders.columns import ColumnLink, ColumnsSpider


class NothingRead(Exception):
    """Discovery read no page of the channel: its answer would mean nothing."""


@dataclass
class Proposal:
    column_id: str
    name: str
    #: pages linking to it (navigation, list pages, article links)
    found_on: list[str] = field(default_factory=list)


def discover_columns(config_path: Path | None, log_level: str = "WARNING") -> list[Proposal]:
    """Run the ``columns`` spider; proposals for columns not configured, most linked first."""
    config = load_config(config_path)
    known = {column.id for column in config.columns}
    found: dict[str, Proposal] = {}

    def collect(item: Any) -> None:
        if not isinstance(item, ColumnLink) or item.column_id in known:
            return
        proposal = found.setdefault(item.column_id, Proposal(item.column_id, item.name))
        proposal.name = proposal.name or item.name
        if item.found_on not in proposal.found_on:
            proposal.found_on.append(item.found_on)

    # No archive is written: the settings only carry politeness and the config.
    settings = crawl_settings(Path("unused.db"), config_path, log_level)
    settings.set("ITEM_PIPELINES", {}, priority="cmdline")
    settings.set("EXTENSIONS", {}, priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(ColumnsSpider)
    crawler.signals.connect(collect, signal=signals.item_scraped)
    process.crawl(crawler)
    process.start()
    spider = crawler.spider
    if not isinstance(spider, ColumnsSpider) or spider.pages_read == 0:
        failures = spider.failures if isinstance(spider, ColumnsSpider) else []
        causes = sorted(set(failures))
        host = config.base_url.split("://", 1)[-1].split("/", 1)[0]
        raise NothingRead(f"could not reach {host}: no page of the channel could be read "
                          f"({len(failures)} failed" + (f": {'; '.join(causes[:3])})"
                                                        if causes else ")"))
    return sorted(found.values(), key=lambda p: (-len(p.found_on), p.column_id))
