"""``scrapy crawl`` with the spider's arguments checked before the crawl starts.

Scrapy makes the spider inside the crawl, so a bad argument (``-a edition=gbk``) or a
bad configuration surfaced as a Twisted traceback. A spider with a
``check_arguments(settings, arguments)`` class method has them checked first: a
``ConfigError`` is one line and exit code 2, as ``pdarchive crawl`` gives.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawl

from crawler.config import ConfigError


class Command(ScrapyCrawl):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.crawler_process is not None
        if len(args) == 1:
            spider = self.crawler_process.spider_loader.load(args[0])
            check = getattr(spider, "check_arguments", None)
            if check is not None:
                try:
                    check(self.settings, opts.spargs)
                except ConfigError as error:
                    print(f"scrapy: error: {error}", file=sys.stderr)
                    self.exitcode = 2
                    return
        super().run(args, opts)
