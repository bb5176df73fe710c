"""Scrapy settings of the ``crawler`` project.

The politeness settings (delay, concurrency, AutoThrottle, robots.txt, User-Agent,
timeout, size limit, retries) are not set here: they come from the one list of
defaults, ``crawler.config.CRAWL``, and a crawl's TOML configuration overrides them
through ``ConfiguredSpider.update_settings`` (``-s`` still wins over both).
"""

from crawler.config import CRAWL_DEFAULTS as _CRAWL_DEFAULTS
from crawler.config import scrapy_settings as _scrapy_settings

BOT_NAME = "pdarchive"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
# `scrapy crawl` checks the spider's arguments first (crawler/commands/crawl.py)
COMMANDS_MODULE = "crawler.commands"

CONCURRENT_REQUESTS = 16
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
# A body shorter than its Content-Length is an error, not a page (truncated pages
# must never be parsed as if whole).
DOWNLOAD_FAIL_ON_DATALOSS = True
REDIRECT_MAX_TIMES = 5
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# A crawler of ours opens no listening port.
REMOTE_CONTROL_ENABLED = False

RETRY_ENABLED = True
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# RETRY_BACKOFF_BASE (seconds; the n-th retry waits RETRY_BACKOFF_BASE * 2 ** (n - 1))
# is one of the politeness settings below.
# A request given up is recorded as a failure and counted in the run's summary; a
# log line at ERROR for each one only buried that summary.
RETRY_GIVE_UP_LOG_LEVEL = "INFO"

# Scrapy runs each callback's output through CONCURRENT_ITEMS asyncio tasks, made
# anew for every response whatever it yields: the default 100 cost more CPU than
# the download itself (bench/crawl.py). Two: an item waits until the writer process
# has committed it (crawler/writer_process.py), and meanwhile the other task hands
# the callback's requests (a list page's articles and next page, an article's
# pictures) to the scheduler, so the walk never waits for a commit.
CONCURRENT_ITEMS = 2

# Scrapy's defaults we have no use for, each a layer every request or output passes:
# no depth limit (the list walk bounds the crawl), URLs only of the site's own
# patterns, no credentials, and a development-time meta-copying check.
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
}
DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.HaltMiddleware": 50,
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.AllRequestsRobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "crawler.middlewares.OffsiteRedirectMiddleware": 610,
}
ITEM_PIPELINES = {"crawler.pipelines.ArchivePipeline": 300}
EXTENSIONS = {"crawler.progress.Progress": 500}

# Where the archive is, and the configuration file (None: the shipped defaults).
PDARCHIVE_DB = "archive.db"
PDARCHIVE_CONFIG = None

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

# DOWNLOAD_DELAY, CONCURRENT_REQUESTS_PER_DOMAIN, AUTOTHROTTLE_ENABLED,
# AUTOTHROTTLE_START_DELAY, ROBOTSTXT_OBEY, USER_AGENT, DOWNLOAD_TIMEOUT,
# DOWNLOAD_MAXSIZE, RETRY_TIMES, RETRY_BACKOFF_BASE: from crawler/config.py.
globals().update(_scrapy_settings(_CRAWL_DEFAULTS))
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
