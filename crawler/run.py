"""Run the ``jiangsu`` spider in this process, one crawl per archive at a time."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.ossignal import install_shutdown_handlers

from archive.locking import crawl_lock
from archive.store import Archive
from crawler.config import load_config
from crawler.job import plan_scope, read_job
from crawler.spiders.jiangsu import JiangsuSpider

#: seconds a crawl stopping on Ctrl-C or SIGTERM waits for the pages in flight before
#: it stops without them: each article is committed whole or not at all, so the
#: next crawl fetches again what was in flight and nothing is lost
STOP_GRACE = 1.0


def _stop_on_signals(process: CrawlerProcess) -> None:
    """Ctrl-C and SIGTERM stop the crawl within ``STOP_GRACE`` seconds.

    Scrapy's own handlers wait for every download in flight (a slow site: a
    timeout's worth) and then for the politeness delay; a second signal forces
    the stop. Here the first signal starts Scrapy's graceful stop, which records
    the run, and forces it once the grace period is over.
    """
    from twisted.internet import reactor as installed

    # The installed reactor: twisted types the module attribute as one interface
    # at a time (IReactorCore has no callLater, IReactorTime no stop).
    reactor: Any = installed

    def force() -> None:
        if reactor.running:
            reactor.stop()

    def again(signum: int, frame: Any) -> None:
        install_shutdown_handlers(signal.SIG_IGN)
        reactor.callFromThread(force)

    def first(signum: int, frame: Any) -> None:
        install_shutdown_handlers(again)
        reactor.callFromThread(process.stop)
        reactor.callFromThread(reactor.callLater, STOP_GRACE, force)

    reactor.addSystemEventTrigger("after", "startup", install_shutdown_handlers, first)


@dataclass
class CrawlResult:
    status: str
    message: str
    stats: dict[str, Any]

    def summary(self) -> str:
        value = lambda key: int(self.stats.get(key) or 0)  # noqa: E731
        line = (f"crawl {self.status}: {value('downloader/request_count')} requests, "
                f"{value('pdarchive/new')} new, {value('pdarchive/updated')} updated, "
                f"{value('pdarchive/unchanged')} unchanged, {value('pdarchive/failed')} failed")
        if value("pdarchive/pictures"):
            line += f", {value('pdarchive/pictures')} pictures"
        if self.stats.get("pdarchive/run_id") is not None:  # None: not even the run recorded
            line += f" (run {self.stats['pdarchive/run_id']})"
        if self.stats.get("pdarchive/failure") == "site":
            # one line, the cause first: "could not reach js.people.com.cn: DNS lookup …"
            return f"pdarchive: error: {self.message} [{line}]"
        return f"{line}\n{self.message}" if self.message else line


def crawl_settings(db: Path, config_path: Path | None, log_level: str = "INFO") -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("PDARCHIVE_DB", str(db), priority="cmdline")
    if config_path is not None:
        settings.set("PDARCHIVE_CONFIG", str(config_path), priority="cmdline")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    return settings


def run_crawl(*, db: Path, config_path: Path | None, columns: list[str] | None,
              editions: list[str] | None, max_list_pages: int | None, full: bool,
              log_level: str = "WARNING", since: str | None = None, until: str | None = None,
              max_articles: int | None = None, images: bool | None = None) -> CrawlResult:
    # A bad config or scope is a usage error before anything starts (ConfigError).
    scope = plan_scope(load_config(config_path), columns=columns, editions=editions,
                       max_list_pages=max_list_pages, full=full, since=since, until=until,
                       max_articles=max_articles, images=images)
    with crawl_lock(db):
        # Likewise an unusable archive (damaged, read-only); creates a new one. Read
        # whole once, then what the crawl starts from (the job) is read from it.
        archive = Archive(db)
        try:
            archive.check_integrity()
            job = read_job(archive, scope)
        finally:
            archive.close()
        process = CrawlerProcess(crawl_settings(db, config_path, log_level))
        crawler = process.create_crawler(JiangsuSpider)
        process.crawl(crawler, job=job)
        _stop_on_signals(process)
        process.start(install_signal_handlers=False)
        stats = crawler.stats.get_stats() if crawler.stats else {}
        if "pdarchive/status" not in stats and stats.get("pdarchive/run_id") is not None:
            # Stopped before the spider closed (the grace period ran out): the run
            # could not record its end itself.
            stats["pdarchive/message"] = (f"stopped by a signal after {STOP_GRACE:g} s "
                                          "without waiting for the pages in flight")
            archive = Archive(db)
            try:
                archive.interrupt_run(int(stats["pdarchive/run_id"]), stats["pdarchive/message"])
            finally:
                archive.close()
    return CrawlResult(str(stats.get("pdarchive/status", "interrupted")),
                       str(stats.get("pdarchive/message", "")), stats)
