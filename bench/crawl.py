"""Crawl throughput: pdarchive's whole pipeline against bare Scrapy fetching.

One run builds a synthetic mirror (bench/mirror.py, default 5,000 articles), serves
it on loopback (tests/replay.py) with no latency, and crawls it three ways, each a
fresh process with the same Scrapy download settings (no delay, same concurrency):

1. bare: a minimal Scrapy spider fetching exactly the URLs our crawl fetched
   (list pages, article pages, robots.txt) and discarding them;
2. pdarchive: ``pdarchive crawl`` into a new archive (parse, merge, store, index);
3. re-crawl: ``pdarchive crawl`` again over the unchanged mirror.

It prints articles per second for 1 and 2, the pipeline's overhead over bare
fetching (target: under 30%), and the requests the no-change re-crawl made.
``--write`` puts the table into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.mirror import build_mirror  # noqa: E402
from bench.report import write_section  # noqa: E402
from tests.replay import ReplayServer  # noqa: E402

CONFIG = """
[crawl]
delay = 0
autothrottle = false
concurrent_per_host = {concurrency}
retries = 1
backoff_base = 0
"""

BARE_SPIDER = textwrap.dedent('''
    import json, sys
    import scrapy
    from scrapy.crawler import CrawlerProcess

    class Bare(scrapy.Spider):
        name = "bare"
        async def start(self):
            for url in json.load(open(sys.argv[1])):
                yield scrapy.Request(url, callback=self.parse, dont_filter=True)
        def parse(self, response):
            pass

    process = CrawlerProcess({
        "ROBOTSTXT_OBEY": True, "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False,
        "CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": int(sys.argv[2]),
        "LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False, "COOKIES_ENABLED": False,
    })
    process.crawl(Bare)
    process.start()
''')


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{command[:4]} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8,
                        help="requests in flight to the mirror (both crawls)")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        print(f"building a mirror of {args.articles} articles …", file=sys.stderr)
        site = build_mirror(scratch / "site", args.articles)
        config = scratch / "bench.toml"
        config.write_text(CONFIG.format(concurrency=args.concurrency))
        db = scratch / "archive.db"
        with ReplayServer(site) as server:
            env = dict(os.environ, http_proxy=server.proxy_url, https_proxy=server.proxy_url)
            crawl = [sys.executable, "-m", "archive.cli", "crawl", "--db", str(db),
                     "--column", "360300", "--config", str(config)]

            ours = timed(crawl, env)
            fetched = [url for _, url in server.requests]
            server.reset_log()

            recrawl = timed(crawl, env)
            recrawl_requests = [url for _, url in server.requests]
            server.reset_log()

            urls = scratch / "urls.json"
            urls.write_text(json.dumps([u for u in fetched if not u.endswith("robots.txt")]))
            spider = scratch / "bare.py"
            spider.write_text(BARE_SPIDER)
            bare = timed([sys.executable, str(spider), str(urls), str(args.concurrency)], env)
            assert len(server.requests) == len(fetched), "bare crawl fetched other URLs"

    overhead = ours / bare - 1
    table = "\n".join([
        f"Synthetic mirror of {args.articles} articles ({len(fetched)} requests), served on "
        f"loopback without latency; {args.concurrency} requests in flight; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {date.today()}.",
        "",
        "| crawl | seconds | articles/s | vs bare |",
        "| --- | ---: | ---: | ---: |",
        f"| bare Scrapy, same URLs | {bare:.1f} | {args.articles / bare:.0f} | 1.00× |",
        f"| `pdarchive crawl` (parse, store, index) | {ours:.1f} | {args.articles / ours:.0f} |"
        f" {ours / bare:.2f}× |",
        "",
        f"Pipeline overhead over bare fetching: **{overhead:.0%}** (target: under 30%).",
        f"A no-change re-crawl made **{len(recrawl_requests)} requests** "
        f"({', '.join(sorted(set(recrawl_requests)))}) in {recrawl:.1f} s.",
        "",
        "Where the difference goes (profiles of a 1,000-article crawl): parsing runs in a "
        "worker process (`parse_workers`), but storing an article (JSON, zlib, the FTS5 "
        "bigram index row, the commit) costs about 2 ms of the crawl process's CPU, and "
        "Scrapy's handling of our asynchronous callbacks and items about as much again as "
        "the fetch itself. On this 2-core machine the crawl process, the parse worker and "
        "the replay server compete for the cores. With the default politeness (one "
        "request a second) the pipeline's cost is invisible; without any delay it is "
        "not, and the 30% target is not met yet.",
    ])
    print(table)
    if args.write:
        write_section("crawl", table, "Crawl: pipeline against bare Scrapy")


if __name__ == "__main__":
    main()
