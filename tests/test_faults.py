"""Fault injection: the site misbehaves, URL by URL, and the crawl must cope.

Every test starts from a copy of one archive of the reference mirror (crawled once
per session, with article N missing from the mirror: conftest's baseline_archive),
injects a fault at a known article K and at the missing article N through the replay
proxy, and crawls again with ``--full``, so K is fetched again (a good article a
fault must not spoil) and N for the first time (an article a fault must not turn
into a wrong one). For each fault: the crawl finishes, the right failure is
recorded, no wrong article is stored, and every earlier article row is untouched.
RELIABILITY.md tabulates these.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crawler.parse import ParseRefused, parse_document
from tests.support import checks
from tests.support.cli import pdarchive
from tests.support.reference import EXPECTED_CRAWL, FAULT_CONFIG, SITE, UNSEEN
from tests.support.replay import (
    Body,
    Delay,
    Fault,
    Large,
    Redirect,
    ReplayServer,
    Reset,
    StatusSequence,
    Truncate,
)

pytestmark = pytest.mark.timeout(60)

CONFIG = FAULT_CONFIG
HOST = "http://js.people.com.cn"
#: a known article, fetched again by every fault crawl (UTF-8, rm_txt template)
K = f"{HOST}/n2/2021/0908/c360300-34401096.html"
#: an article missing from the mirror when the baseline was crawled: new to the archive
N = UNSEEN
LIST = f"{HOST}/GB/360300/index.html"
ROBOTS = f"{HOST}/robots.txt"
HTML_UTF8 = {"Content-Type": "text/html; charset=utf-8"}
HTML_GB2312 = {"Content-Type": "text/html; charset=GB2312"}


def expected_articles() -> dict[str, dict[str, Any]]:
    records = json.loads(EXPECTED_CRAWL.read_text("utf-8"))["articles"]
    return {record["url"]: record for record in records}


def mirror_page(url: str) -> bytes:
    return (SITE / url.split("://", 1)[1]).read_bytes()


def crawl(db: Path, server: ReplayServer, *extra: str, columns: tuple[str, ...] = ("360300",)
          ) -> Any:
    options = [option for column in columns for option in ("--column", column)]
    return pdarchive("crawl", "--db", db, *options, "--config", CONFIG, *extra,
                     proxy=server, timeout=50)


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer(SITE) as replay:
        yield replay


def assert_untouched(before: dict[str, dict[str, Any]], db: Path) -> None:
    """Every article the archive held before the fault is byte-for-byte the same row."""
    after = checks.articles(db)
    for article_id, row in before.items():
        assert after.get(article_id) == row, f"article {article_id} changed"


# -- faults that end in a recorded failure ---------------------------------------

def _noise(seed: str, size: int, low: int, high: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(low, high) for _ in range(size))


@dataclass(frozen=True)
class FailingCase:
    """A fault at K and N, the failure it must leave (stage, words of the reason)."""

    faults: dict[str, Fault]
    stage: str
    reason: str


FAILING = {
    "500-forever": FailingCase({K: StatusSequence([500]), N: StatusSequence([503])},
                               "fetch", "HTTP 50"),
    "timeout": FailingCase({K: Delay(30), N: Delay(30)}, "fetch", "timed out after 1.5 s"),
    "connection-reset": FailingCase({K: Reset(), N: Reset()}, "fetch", "connection lost"),
    "truncated-body": FailingCase({K: Truncate(1500), N: Truncate(1500)}, "fetch",
                                  "truncated"),
    "garbage-bytes": FailingCase(
        {url: Body(_noise(url, 30_000, 0, 256)) for url in (K, N)},
        "parse", "not_an_article: binary content"),
    "garbage-in-html": FailingCase(
        {url: Body(b"<html><body><p>" + _noise(url, 20_000, 128, 256) + b"</p></body></html>")
         for url in (K, N)},
        "parse", "extraction_error: bytes do not decode"),
    "20-MB-page": FailingCase({K: Large(20_000_000), N: Large(20_000_000)}, "fetch",
                              "too large: over the 10485760-byte limit"),
    "redirect-loop": FailingCase({K: Redirect(N), N: Redirect(K)}, "fetch", "redirect loop"),
    "redirect-off-site": FailingCase(
        {K: Redirect("http://www.example.com/phishing.html"),
         N: Redirect("https://js.people.com.cn.evil.example/n2/x.html")},
        "fetch", "redirect off the site to"),
}


@pytest.mark.parametrize("case", FAILING.values(), ids=FAILING.keys())
def test_fault_is_recorded_and_nothing_wrong_is_stored(case: FailingCase, baseline_copy: Path,
                                                       server: ReplayServer) -> None:
    before = checks.articles(baseline_copy)
    for url, fault in case.faults.items():
        server.inject(url, fault)

    result = crawl(baseline_copy, server, "--full")

    assert result.returncode == 0, result.stderr  # the crawl finishes; failures recorded
    failures = checks.failures(baseline_copy)
    for url in (K, N):
        assert failures[url]["stage"] == case.stage, failures[url]
        assert case.reason in failures[url]["reason"], failures[url]
    assert_untouched(before, baseline_copy)  # K's row included: the good copy survives
    assert "34401233" not in checks.articles(baseline_copy), "a faulty page became an article"
    assert checks.runs(baseline_copy)[-1]["status"] == "finished"
    assert checks.integrity(baseline_copy) == "ok"


# -- faults the crawl gets past: the article arrives right ---------------------------

def _reencoded(url: str, encoding: str) -> bytes:
    """The page's bytes in another encoding, its declarations left as they were."""
    page = mirror_page(url)
    for original in ("utf-8", "gb18030"):
        try:
            return page.decode(original).encode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError(f"cannot decode {url}")


RECOVERED: dict[str, dict[str, Fault]] = {
    "500-then-503-then-ok": {K: StatusSequence([500, 503, 200]),
                             N: StatusSequence([503, 500, 200])},
    "timeout-then-ok": {},  # see test_slow_answer_then_success
    "utf8-declared-gb2312": {url: Body(mirror_page(url), HTML_GB2312) for url in (K, N)},
    "gb18030-declared-utf8": {url: Body(_reencoded(url, "gb18030"), HTML_UTF8)
                              for url in (K, N)},
}
del RECOVERED["timeout-then-ok"]


@pytest.mark.parametrize("faults", RECOVERED.values(), ids=RECOVERED.keys())
def test_fault_the_crawl_gets_past_stores_the_right_article(
        faults: dict[str, Fault], baseline_copy: Path, server: ReplayServer) -> None:
    before = checks.articles(baseline_copy)
    for url, fault in faults.items():
        server.inject(url, fault)

    result = crawl(baseline_copy, server, "--full")

    assert result.returncode == 0, result.stderr
    assert "1 new" in result.stderr and "0 updated" in result.stderr, result.stderr
    failures = checks.failures(baseline_copy)
    assert K not in failures and N not in failures, "a page that succeeded stays a failure"
    assert_untouched(before, baseline_copy)  # K decoded to the very same text: no new version
    checks.assert_article_is(checks.articles(baseline_copy)["34401233"], expected_articles()[N])


def test_big5_bytes_declared_gb2312_decode_as_big5_not_mojibake() -> None:
    """BIG5 read as GB18030 "decodes" into kana and private-use characters; the
    parser must see through the declaration (or refuse), never return that text."""
    url = f"{HOST}/BIG5/n2/2020/1019/c360300-34359164.html"
    page = mirror_page(url)
    parsed = parse_document(page, url, "text/html; charset=GB2312")
    assert parsed.encoding == "big5hkscs"
    assert parsed.record["title"] == "江蘇住建行業黨委從“建起來”走向“強起來”"
    # declared GB2312 in the page itself as well: still BIG5, or a refusal
    relabelled = page.replace(b"charset=big5", b"charset=gb2312").replace(
        b"charset=BIG5", b"charset=GB2312")
    try:
        record = parse_document(relabelled, url, "text/html; charset=GB2312").record
    except ParseRefused:
        return
    assert record["title"] == "江蘇住建行業黨委從“建起來”走向“強起來”"


# -- list pages and robots.txt ----------------------------------------------------

def test_list_page_that_suddenly_lists_nothing_is_a_warning(baseline_copy: Path,
                                                            server: ReplayServer) -> None:
    before = checks.articles(baseline_copy)
    good_list = checks.page_row(baseline_copy, LIST)
    stub = ("<html><head><meta charset='utf-8'><title>政治--人民网</title></head><body>"
            "<div class='ej_list'><ul></ul></div><p>系统维护中</p></body></html>").encode()
    server.add_page(LIST, stub, headers=HTML_UTF8)

    result = crawl(baseline_copy, server)

    assert result.returncode == 3, result.stderr
    assert "links to no article" in result.stderr
    failure = checks.failures(baseline_copy)[LIST]
    assert failure["stage"] == "list" and "layout may have changed" in failure["reason"]
    run = checks.runs(baseline_copy)[-1]
    assert run["status"] == "warning" and "links to no article" in run["message"]
    assert_untouched(before, baseline_copy)
    assert checks.page_row(baseline_copy, LIST) == good_list, "the last good list page was replaced"

    # The site is back: the next run is clean and the failure is closed.
    server.add_page(LIST, mirror_page(LIST), headers={"Content-Type": "text/html"})
    result = crawl(baseline_copy, server)
    assert result.returncode == 0, result.stderr
    assert LIST not in checks.failures(baseline_copy)
    assert checks.runs(baseline_copy)[-1]["status"] == "finished"


def test_robots_txt_disallowing_the_column_is_recorded(baseline_copy: Path,
                                                       server: ReplayServer) -> None:
    before = checks.articles(baseline_copy)
    server.add_page(ROBOTS, b"User-agent: *\nDisallow: /GB/\n",
                    headers={"Content-Type": "text/plain"})

    # Two columns: their list requests both wait for robots.txt, which Scrapy 2.19
    # checked only for the first of them (see AllRequestsRobotsTxtMiddleware).
    result = crawl(baseline_copy, server, columns=("360300", "360297"))

    assert result.returncode == 0, result.stderr
    for url in (LIST, f"{HOST}/GB/360297/index.html"):
        assert server.count(url) == 0, f"fetched {url}, which robots.txt forbids"
        assert checks.failures(baseline_copy)[url]["reason"] == "forbidden by robots.txt"
    assert_untouched(before, baseline_copy)


def test_robots_txt_disallowing_articles_keeps_the_archived_ones(
        baseline_copy: Path, server: ReplayServer) -> None:
    before = checks.articles(baseline_copy)
    server.add_page(ROBOTS, b"User-agent: *\nDisallow: /n2/2022/\n",
                    headers={"Content-Type": "text/plain"})

    result = crawl(baseline_copy, server, "--full")

    assert result.returncode == 0, result.stderr
    forbidden = [url for url in expected_articles() if "/n2/2022/" in url]
    assert len(forbidden) == 4
    failures = checks.failures(baseline_copy)
    for url in forbidden:
        assert failures[url]["reason"] == "forbidden by robots.txt"
        assert server.count(url) == 0
    assert_untouched(before, baseline_copy)  # three of them archived before: kept as they were
