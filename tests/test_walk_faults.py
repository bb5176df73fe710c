"""Faults that used to lose articles for good or hide a failed run (issue 13).

The list walk: a block page or a page cut off as list page 2, pagers that never end;
the site as a whole: unreachable, refusing every page, blocking after a while;
article pages that are block pages; redirects; a traditional-script edition that
does not exist. Each over the loopback replay proxy with real ``pdarchive crawl``
processes. RELIABILITY.md tabulates these.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.support import checks
from tests.support.cli import pdarchive
from tests.support.mirror import add_articles, build_mirror
from tests.support.old_schemas import as_schema_3
from tests.support.ports import free_port
from tests.support.reference import FAULT_CONFIG, SITE, UNSEEN
from tests.support.replay import Body, Cut, Redirect, ReplayServer, StatusSequence

pytestmark = pytest.mark.timeout(90)

HOST = "http://js.people.com.cn"
LIST = f"{HOST}/GB/360300/index.html"
LIST2 = f"{HOST}/GB/360300/index2.html"
LIST3 = f"{HOST}/GB/360300/index3.html"
#: a known article (UTF-8, rm_txt template) and the seed article (GB2312, text_title)
K = f"{HOST}/n2/2021/0908/c360300-34401096.html"
SEED = f"{HOST}/n2/2020/1019/c360300-34359164.html"
N = UNSEEN
MULTI_3 = f"{HOST}/n2/2022/0701/c360300-40012345-3.html"
#: articles of the reference column (the 404 and the 500 excepted)
ALL = 19
HTML_UTF8 = {"Content-Type": "text/html; charset=utf-8"}
BLOCK_PAGE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>访问过于频繁</title>"
              "</head><body><div class='box'><h1>访问过于频繁</h1><p>您的访问过于频繁，请稍后"
              "再试。</p></div></body></html>").encode()
#: a deletion notice in the site's own article layout
DELETED_PAGE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>人民网</title></head>"
                "<body><div class='col-1'><h1>该文章已删除</h1><div class='rm_txt_con'>"
                "<p>对不起，该文章已删除。</p></div></div></body></html>").encode()

#: the fault tests' configuration, stopping after 6 refusals in a row
CONFIG_TEXT = FAULT_CONFIG.read_text("utf-8") + "max_blocked = 6\n"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "walk.toml"
    path.write_text(CONFIG_TEXT)
    return path


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer(SITE) as replay:
        yield replay


def crawl(db: Path, server: ReplayServer | None, config: Path, *extra: str) -> Any:
    return pdarchive("crawl", "--db", db, "--column", "360300", "--config", config, *extra,
                     proxy=server, timeout=80)


def mirror_page(url: str) -> bytes:
    return (SITE / url.split("://", 1)[1]).read_bytes()


def stats_json(db: Path) -> dict[str, Any]:
    return json.loads(pdarchive("stats", "--db", db, "--format", "json", check=True).stdout)


# -- the list walk ------------------------------------------------------------------

@pytest.mark.parametrize("fault", [Body(BLOCK_PAGE, HTML_UTF8), Cut(1200),
                                   StatusSequence([500])],
                         ids=["block-page-200", "cut-off-no-content-length", "http-500"])
def test_a_bad_list_page_2_is_a_failure_and_the_next_crawl_archives_everything(
        fault: Any, tmp_path: Path, server: ReplayServer, config: Path) -> None:
    db = tmp_path / "archive.db"
    server.inject(LIST2, fault)

    result = crawl(db, server, config)

    assert result.returncode == 3, result.stderr  # a warning: the walk stopped early
    failure = checks.failures(db)[LIST2]
    assert failure["stage"] == "list"
    assert failure["kind"] == {Body: "blocked", Cut: "truncated",
                               StatusSequence: "http"}[type(fault)], failure
    run = checks.runs(db)[-1]
    assert run["status"] == "warning" and "index2.html" in run["message"]
    assert checks.article_count(db) < ALL
    assert checks.page_row(db, LIST2) is None, "a bad list page was kept as the list page"

    # The site is healthy again: the next crawl resumes the walk at page 2.
    server.clear_faults()
    server.reset_log()
    result = crawl(db, server, config)
    assert result.returncode == 0, result.stderr
    assert checks.article_count(db) == ALL
    assert LIST2 not in checks.failures(db)
    assert checks.runs(db)[-1]["status"] == "finished"
    # and one after that stops at the first known article again
    server.reset_log()
    assert crawl(db, server, config).returncode == 0
    assert server.count(LIST2) == 0 and server.count(LIST) == 1


def test_a_block_page_as_list_page_2_of_a_complete_archive_loses_nothing_later(
        tmp_path: Path, config: Path) -> None:
    """The archive was complete; 15 articles are published (10 on page 1, 5 pushing
    into page 2), and the walk meets a block page at page 2: the next crawl stops at
    page 1's known articles, yet resumes at page 2 and archives the 5."""
    site = build_mirror(tmp_path / "site", 40, per_list_page=10)
    db = tmp_path / "archive.db"
    with ReplayServer(site) as server:
        assert crawl(db, server, config).returncode == 0
        assert checks.article_count(db) == 40
        add_articles(site, 15)
        server.reload()
        server.inject(f"{HOST}/GB/360300/index2.html", Body(BLOCK_PAGE, HTML_UTF8))
        assert crawl(db, server, config).returncode == 3
        assert checks.article_count(db) == 50
        server.clear_faults()
        result = crawl(db, server, config)
        assert result.returncode == 0, result.stderr
        assert checks.article_count(db) == 55

        # Again, and 20 more are published before the healthy crawl: its walk from page
        # 1 meets the resumed one at page 2 and leaves the rest to it, no false repeat.
        add_articles(site, 15)
        server.reload()
        server.inject(f"{HOST}/GB/360300/index2.html", Body(BLOCK_PAGE, HTML_UTF8))
        assert crawl(db, server, config).returncode == 3
        server.clear_faults()
        add_articles(site, 20)
        server.reload()
        result = crawl(db, server, config)
        assert result.returncode == 0, result.stderr
        assert checks.failures(db) == {}
    assert checks.article_count(db) == 90


def _list_page(page: int, article_paths: list[str]) -> bytes:
    items = "".join(f"<li><a href='{path}'>文章</a></li>" for path in article_paths)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>政治--人民网</title>"
            f"</head><body><ul class='list_16'>{items}</ul><div class='page_n'>"
            f"<a href='index{page - 1}.html'>上一页</a><span>{page}</span>"
            f"<a href='index{page + 1}.html'>下一页</a></div></body></html>").encode()


@pytest.mark.parametrize("listing", ["repeating", "empty"])
def test_an_endless_pager_stops_within_a_page_of_the_repetition(
        listing: str, tmp_path: Path, server: ReplayServer, config: Path) -> None:
    db = tmp_path / "archive.db"
    page3 = mirror_page(LIST3).decode("gb18030")
    paths = re.findall(r"href='(/n2?/[^']+)'", page3)
    assert len(paths) == 4
    for page in range(3, 60):  # page 3 links on to 4, 5, … forever
        listed = paths if page == 3 or listing == "repeating" else []
        server.add_page(f"{HOST}/GB/360300/index{page}.html", _list_page(page, listed),
                        headers=HTML_UTF8)

    result = crawl(db, server, config)

    assert server.count(f"{HOST}/GB/360300/index4.html") == 1
    assert server.count(f"{HOST}/GB/360300/index5.html") == 0, "walked on past the repetition"
    assert result.returncode == 3, result.stderr
    failure = checks.failures(db)[f"{HOST}/GB/360300/index4.html"]
    assert failure["kind"] == ("repeat" if listing == "repeating" else "not_a_list"), failure
    assert checks.article_count(db) == ALL


def test_max_list_pages_has_a_finite_default_and_reaching_it_is_said(
        tmp_path: Path, server: ReplayServer, config: Path) -> None:
    from crawler.config import load_config

    assert load_config(None).max_list_pages == 1000
    db = tmp_path / "archive.db"
    result = crawl(db, server, config, "--max-list-pages", "2")
    assert result.returncode == 0, result.stderr
    assert "column 360300: stopped at max_list_pages (2)" in result.stderr
    assert server.count(LIST3) == 0
    assert checks.runs(db)[-1]["complete_columns"] == "[]"  # the next crawl walks it all


# -- the site as a whole ----------------------------------------------------------------

def _assert_failed_in_one_line(result: Any, db: Path, cause: str) -> None:
    assert result.returncode == 6, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pdarchive: error: ") and cause in lines[0], lines[0]
    run = checks.runs(db)[-1]
    assert run["status"] == "failed" and cause in run["message"], run


def test_connection_refused_everywhere_fails_the_run_in_one_line(
        tmp_path: Path, config: Path) -> None:
    db = tmp_path / "archive.db"
    proxy = f"http://127.0.0.1:{free_port()}"
    env = dict(os.environ, http_proxy=proxy, https_proxy=proxy, no_proxy="")
    result = subprocess.run(
        [sys.executable, "-m", "archive.cli", "crawl", "--db", str(db), "--column", "360300",
         "--config", str(config)], env=env, capture_output=True, text=True, timeout=80)
    _assert_failed_in_one_line(result, db, "could not reach js.people.com.cn: connection "
                                           "refused for")


def test_dns_failing_fails_the_run_in_one_line_at_once(tmp_path: Path, config: Path) -> None:
    db = tmp_path / "archive.db"
    config.write_text(CONFIG_TEXT + '\n[site]\nbase_url = "http://js.people.com.cn.invalid"\n')
    result = crawl(db, None, config)
    _assert_failed_in_one_line(
        result, db, "could not reach js.people.com.cn.invalid: DNS lookup failed for")
    assert re.search(r"DNS lookup failed for (\d+) of \1 requests", result.stderr)


def test_403_on_every_page_fails_the_run(tmp_path: Path, server: ReplayServer,
                                         config: Path) -> None:
    db = tmp_path / "archive.db"
    server.inject_everywhere(StatusSequence([403]))
    result = crawl(db, server, config)
    _assert_failed_in_one_line(result, db, "js.people.com.cn refused the crawl: HTTP 403 for")
    assert checks.failures(db)[LIST]["kind"] == "blocked"


def test_repeated_blocks_slow_the_crawl_then_stop_it(tmp_path: Path, server: ReplayServer,
                                                     config: Path) -> None:
    db = tmp_path / "archive.db"
    # one page at a time, no retries: the refusals arrive one after the other
    config.write_text(CONFIG_TEXT.replace("concurrent_per_host = 4", "concurrent_per_host = 1")
                      .replace("retries = 2", "retries = 0")
                      .replace("blocked_pause = 0.01", "blocked_pause = 0.1")
                      .replace("blocked_pause_max = 0.05", "blocked_pause_max = 0.4"))
    server.inject_everywhere(StatusSequence([429]))
    for url in (f"{HOST}/robots.txt", LIST, LIST2, LIST3):
        server.inject(url, StatusSequence([200]))

    result = crawl(db, server, config)

    _assert_failed_in_one_line(result, db, "js.people.com.cn is refusing this crawler")
    blocked = [f for f in checks.failures(db).values() if f["kind"] == "blocked"]
    # (the one or two downloads already under way when the sixth refusal was read end)
    assert 6 <= len(blocked) <= 8, "did not stop after max_blocked refusals in a row"
    articles = [url for _, url in server.requests if "/n" in url]
    assert len(articles) == len(blocked), f"went on asking after the stop: {articles}"
    # The ban is lifted: the next crawl once they are due archives everything.
    server.inject_everywhere(None)
    server.clear_faults()
    _sleep_until_due(db, max(blocked, key=lambda f: f["next_attempt_at"])["url"])
    result = crawl(db, server, config)
    assert result.returncode == 0, result.stderr
    assert checks.article_count(db) == ALL


# -- article pages ----------------------------------------------------------------------

@pytest.mark.parametrize("status", [200, 403, 429, 503])
def test_a_block_at_an_article_url_is_never_archived(
        status: int, baseline_copy: Path, server: ReplayServer, config: Path) -> None:
    db = baseline_copy
    before = checks.articles(db)
    for url in (K, N):
        server.inject(url, Body(BLOCK_PAGE, HTML_UTF8, status))

    result = crawl(db, server, config, "--full")

    assert result.returncode == 0, result.stderr
    after = checks.articles(db)
    assert after == before, "a block page changed the archive"
    assert not any("访问过于频繁" in row["body"] or "访问过于频繁" in row["title"]
                   for row in after.values())
    failures = checks.failures(db)
    for url in (K, N):
        assert failures[url]["kind"] == "blocked", failures[url]
    kinds = {row["kind"]: row["count"] for row in stats_json(db)["failures_by_kind"]}
    assert kinds["blocked"] == 2
    server.clear_faults()
    _sleep_until_due(db, N)  # (2 s in the test configuration, 1 h by default)
    assert crawl(db, server, config).returncode == 0
    assert "34401233" in checks.articles(db)
    assert N not in checks.failures(db)


def test_an_article_page_cut_off_with_no_content_length_is_never_parsed(
        baseline_copy: Path, server: ReplayServer, config: Path) -> None:
    db = baseline_copy
    before = checks.articles(db)
    for url in (K, N):
        server.inject(url, Cut(len(mirror_page(url)) * 2 // 3))
    assert crawl(db, server, config, "--full").returncode == 0
    assert checks.articles(db) == before
    failures = checks.failures(db)
    for url in (K, N):
        assert failures[url]["kind"] == "truncated", failures[url]


def _sleep_until_due(db: Path, url: str) -> None:
    due = datetime.fromisoformat(checks.failures(db)[url]["next_attempt_at"])
    time.sleep(max((due - datetime.now(timezone.utc)).total_seconds(), 0) + 1.1)


def test_a_blocked_last_page_leaves_a_multi_page_article_unstored(
        tmp_path: Path, server: ReplayServer, config: Path) -> None:
    db = tmp_path / "archive.db"
    server.inject(MULTI_3, Body(BLOCK_PAGE, HTML_UTF8))
    assert crawl(db, server, config).returncode == 0
    assert "40012345" not in checks.articles(db)
    assert checks.failures(db)[MULTI_3]["kind"] == "blocked"
    server.clear_faults()
    _sleep_until_due(db, MULTI_3)
    assert crawl(db, server, config).returncode == 0
    assert json.loads(checks.articles(db)["40012345"]["pages"])[-1] == MULTI_3


def test_a_deletion_notice_never_replaces_the_stored_article(
        baseline_copy: Path, server: ReplayServer, config: Path) -> None:
    db = baseline_copy
    before = checks.articles(db)
    server.inject(K, Body(DELETED_PAGE, HTML_UTF8))
    assert crawl(db, server, config, "--full").returncode == 0
    assert checks.articles(db)["34401096"] == before["34401096"]
    assert checks.failures(db)[K]["kind"] == "deleted"


def test_a_fallback_parse_never_replaces_a_template_parse(
        baseline_copy: Path, server: ReplayServer, config: Path) -> None:
    """The same article with every class and id of the template gone: the generic
    fallback may read it, but the stored template-read version stays."""
    db = baseline_copy
    before = checks.articles(db)
    page = mirror_page(K).decode("utf-8")
    stripped = re.sub(r'\s(?:class|id)="[^"]*"', "", page)
    stripped = stripped.replace("徐州城管", "徐州市城管")  # a new version, were it taken
    server.add_page(K, stripped.encode(), headers=HTML_UTF8)
    result = crawl(db, server, config, "--full")
    assert result.returncode in (0, 3), result.stderr
    assert checks.articles(db)["34401096"] == before["34401096"]


def test_a_redirect_failure_is_recorded_under_the_url_asked_for(
        baseline_copy: Path, server: ReplayServer, config: Path) -> None:
    db = baseline_copy
    before = checks.articles(db)
    server.inject(K, Redirect(SEED))  # K now answers with another article's page

    result = crawl(db, server, config, "--full")

    assert result.returncode == 0, result.stderr
    failures = checks.failures(db)
    assert K in failures and SEED not in failures, failures
    assert json.loads(failures[K]["redirects"]) == [SEED]
    assert "34359164" in failures[K]["reason"]
    after = checks.articles(db)
    assert after["34401096"] == before["34401096"]
    assert after["34359164"]["url"] == SEED


# -- editions ---------------------------------------------------------------------------

def test_a_missing_big5_edition_is_a_fact_not_a_failure(
        reference_copy: Path, server: ReplayServer, config: Path) -> None:
    db = reference_copy  # GB only
    assert checks.articles(db)["34359164"]["editions"] is None

    # --edition big5 added to an existing archive: effective without --full
    result = crawl(db, server, config, "--edition", "gb", "--edition", "big5")

    assert result.returncode == 0, result.stderr
    assert json.loads(checks.articles(db)["34359164"]["editions"]) == ["big5", "gb"]
    failures = checks.failures(db)
    assert not [url for url in failures if "/BIG5/" in url], "a missing edition is a failure"
    stats = stats_json(db)
    assert stats["missing_editions"] == {"big5": ALL - 1}
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM missing_editions").fetchone()[0] == 18

    # the next crawl asks for none of them again
    server.reset_log()
    assert crawl(db, server, config, "--edition", "gb", "--edition", "big5").returncode == 0
    assert not [url for _, url in server.requests if "/BIG5/" in url]


def test_an_old_archive_s_big5_404_failures_become_missing_editions(tmp_path: Path) -> None:
    """An archive of schema 3, where older crawls left a BIG5 404 as an open failure."""
    from archive.store import Archive

    db = tmp_path / "archive.db"
    Archive(db).close()
    big5 = f"{HOST}/BIG5/n2/2021/0908/c360300-34401096.html"
    as_schema_3(db)  # as an older pdarchive left it
    with sqlite3.connect(db) as connection:
        connection.execute(
            "INSERT INTO failures (url, article_id, column_id, stage, reason, http_status, "
            "attempts, first_seen_at, last_seen_at, next_attempt_at, run_id) VALUES "
            "(?, '34401096', '360300', 'fetch', 'HTTP 404', 404, 5, 'x', 'y', 'z', 1)", [big5])
    connection.close()

    archive = Archive(db)
    try:
        assert archive.failures() == []
        assert [(row["article_id"], row["edition"], row["url"])
                for row in archive.missing_editions()] == [("34401096", "big5", big5)]
    finally:
        archive.close()


def test_a_robots_txt_answering_503_is_no_failed_run(reference_copy: Path,
                                                     server: ReplayServer,
                                                     config: Path) -> None:
    """Its retries outnumber the healthy pages of an incremental crawl: still no alarm."""
    db = reference_copy
    server.inject(f"{HOST}/robots.txt", StatusSequence([503]))
    result = crawl(db, server, config)
    assert result.returncode == 0, result.stderr
    assert checks.runs(db)[-1]["status"] == "finished"
