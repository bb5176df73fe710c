"""The crawl end to end: a real Scrapy crawl over loopback into a real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import crawl, export_jsonl, pdarchive
from tests.support.reference import CRAWL_CONFIG, EXPECTED_CRAWL, SITE
from tests.support.replay import ReplayServer

ROBOTS = "http://js.people.com.cn/robots.txt"
ERROR_500 = "http://js.people.com.cn/n2/2021/0220/c360300-34600777.html"
MISSING_404 = "http://js.people.com.cn/n2/2021/0301/c360300-34600999.html"


def expected() -> dict[str, Any]:
    return json.loads(EXPECTED_CRAWL.read_text("utf-8"))


def assert_archive_matches_expected(db: Path) -> None:
    wanted = expected()["articles"]
    got = export_jsonl(db)
    assert [record["article_id"] for record in got] == [a["article_id"] for a in wanted]
    for want, record in zip(wanted, got, strict=True):
        assert {key: record[key] for key in want} == want, want["url"]
        assert record["pages"][0] == want["url"]
        assert record["fetched_at"] and record["first_seen_at"]


def table_rows(db: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


def test_crawl_archives_exactly_the_expected_articles(tmp_path: Path, replay: ReplayServer
                                                      ) -> None:
    db = tmp_path / "archive.db"
    result = crawl(db, replay)
    assert result.returncode == 0, result.stderr
    assert "19 new" in result.stderr and "2 failed" in result.stderr

    assert_archive_matches_expected(db)
    multi_page = next(r for r in export_jsonl(db) if r["article_id"] == "40012345")
    assert multi_page["pages"] == [
        "http://js.people.com.cn/n2/2022/0701/c360300-40012345.html",
        "http://js.people.com.cn/n2/2022/0701/c360300-40012345-2.html",
        "http://js.people.com.cn/n2/2022/0701/c360300-40012345-3.html",
    ]

    stats = json.loads(pdarchive("stats", "--db", db, "--format", "json", check=True).stdout)
    failures = {failure["url"]: failure for failure in stats["failures"]}
    assert set(failures) == set(expected()["failures"])
    assert failures[MISSING_404]["reason"] == "HTTP 404"
    assert failures[MISSING_404]["http_status"] == 404
    assert failures[ERROR_500]["reason"] == "HTTP 500"
    assert replay.count(ERROR_500) == 3, "the 500 is retried (retries = 2 in the test config)"
    assert replay.count(MISSING_404) == 1, "a 404 is not retried"
    # every article URL was fetched once: no known page twice
    article_requests = [url for _, url in replay.requests if "/n" in url and url != ERROR_500]
    assert len(article_requests) == len(set(article_requests))


def test_second_crawl_fetches_nothing_new_and_changes_no_row(reference_copy: Path,
                                                             replay: ReplayServer) -> None:
    db = reference_copy  # after a first crawl
    tables = ("articles", "pages", "failures", "article_versions")
    before = {table: table_rows(db, table) for table in tables}

    result = crawl(db, replay)
    assert result.returncode == 0, result.stderr
    urls = [url for _, url in replay.requests]
    list_pages = [url for url in urls if "/GB/360300/" in url]
    assert len(list_pages) <= 2
    assert set(urls) - set(list_pages) <= {ROBOTS}, f"fetched an article again: {urls}"
    assert {table: table_rows(db, table) for table in tables} == before


def test_full_crawl_refetches_and_keeps_versions_of_changed_articles(
        reference_copy: Path, replay: ReplayServer) -> None:
    db = reference_copy
    url = "http://js.people.com.cn/n2/2021/0908/c360300-34401096.html"
    page = (replay.site_dir / "js.people.com.cn/n2/2021/0908/c360300-34401096.html").read_bytes()
    changed = page.replace("徐州城管“以案明纪月月谈”常态开展".encode(),
                           "徐州城管“以案明纪”常态开展".encode())
    replay.add_page(url, changed, headers={"Content-Type": "text/html"})

    result = crawl(db, replay, "--full")
    assert result.returncode == 0, result.stderr
    assert "1 updated" in result.stderr
    record = next(r for r in export_jsonl(db) if r["article_id"] == "34401096")
    assert record["title"] == "徐州城管“以案明纪”常态开展"
    versions = table_rows(db, "article_versions")
    assert len(versions) == 1
    assert "以案明纪月月谈" in versions[0][4]


@pytest.mark.parametrize("parse_workers", ['"auto"', "0"], ids=["workers", "in-process"])
def test_reparse_rebuilds_every_article_from_stored_pages(tmp_path: Path, reference_copy: Path,
                                                          parse_workers: str) -> None:
    db = reference_copy
    with sqlite3.connect(db) as connection:  # as an older, buggy parser left them
        connection.execute("UPDATE articles SET title = 'x', body = '[]', content_hash = 'old'")
    config = tmp_path / "reparse.toml"
    config.write_text(f"[crawl]\nparse_workers = {parse_workers}\n")
    result = pdarchive("reparse", "--db", db, "--config", config)
    assert result.returncode == 0, result.stderr
    assert "19 changed" in result.stderr
    assert_archive_matches_expected(db)


def test_big5_edition_is_stored_with_its_article(tmp_path: Path, replay: ReplayServer) -> None:
    db = tmp_path / "archive.db"
    result = crawl(db, replay, "--edition", "gb", "--edition", "big5", "--max-list-pages", "2")
    assert result.returncode == 0, result.stderr
    seed = next(r for r in export_jsonl(db) if r["article_id"] == "34359164")
    assert seed["editions"] == ["big5", "gb"]
    assert seed["title"] == "江苏住建行业党委从“建起来”走向“强起来”"
    assert seed["big5"]["title"] == "江蘇住建行業黨委從“建起來”走向“強起來”"
    assert seed["big5"]["url"] == "http://js.people.com.cn/BIG5/n2/2020/1019/c360300-34359164.html"
    # the mirror has no BIG5 copy of the others: recorded failures, GB text kept
    others = [r for r in export_jsonl(db) if r["article_id"] != "34359164"]
    assert others and all("editions" not in r for r in others)


def test_scrapy_crawl_runs_the_same_spider(tmp_path: Path, replay: ReplayServer) -> None:
    db = tmp_path / "archive.db"
    env = replay.client_env()
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "jiangsu", "-a", "column=360300",
         "-s", f"PDARCHIVE_DB={db}", "-s", f"PDARCHIVE_CONFIG={CRAWL_CONFIG}",
         "-s", "LOG_LEVEL=WARNING"],
        cwd=Path(__file__).parents[1], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert_archive_matches_expected(db)


def _wait_for_articles(db: Path, count: int, process: subprocess.Popen[str],
                       timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"crawl ended before it could be interrupted: {process.stderr.read()}")
        try:
            with sqlite3.connect(db, timeout=1) as connection:
                if connection.execute("SELECT count(*) FROM articles").fetchone()[0] >= count:
                    return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    pytest.fail("crawl stored too few articles in time")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_interrupted_crawl_resumes_with_nothing_lost_or_duplicated(
        tmp_path: Path, how: signal.Signals) -> None:
    db = tmp_path / "archive.db"
    with ReplayServer(SITE, latency=0.15) as slow:
        env = slow.client_env()
        process = subprocess.Popen(
            [sys.executable, "-m", "archive.cli", "crawl", "--db", str(db), "--column", "360300",
             "--config", str(CRAWL_CONFIG)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_articles(db, 4, process)
        process.send_signal(how)
        process.wait(timeout=60)
        if how == signal.SIGINT:
            assert process.returncode == 130, process.stderr.read() if process.stderr else ""
        with sqlite3.connect(db) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            stored = connection.execute("SELECT count(*) FROM articles").fetchone()[0]
        assert 4 <= stored < 19

    with ReplayServer(SITE) as server:
        result = crawl(db, server)
        assert result.returncode == 0, result.stderr
    assert_archive_matches_expected(db)
    stats = json.loads(pdarchive("stats", "--db", db, "--format", "json", check=True).stdout)
    assert stats["last_runs"][1]["status"] == "interrupted"
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_ctrl_c_stops_a_crawl_within_two_seconds_without_a_traceback(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group, parser workers included, while a page
    is in flight on a slow site: the crawl stops within its grace period, says so in
    one line, records the run as interrupted, and the next crawl finishes the job."""
    db = tmp_path / "archive.db"
    config = tmp_path / "crawl.toml"
    config.write_text(CRAWL_CONFIG.read_text("utf-8").replace(
        "[crawl]\n", "[crawl]\nparse_workers = 1\n", 1), "utf-8")
    assert "parse_workers = 1" in config.read_text("utf-8")
    with ReplayServer(SITE, latency=0.15) as slow:
        process = subprocess.Popen(
            [sys.executable, "-m", "archive.cli", "crawl", "--db", str(db), "--column", "360300",
             "--config", str(config)],
            env=slow.client_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        _wait_for_articles(db, 3, process)
        slow.latency = 8.0  # the next answers take longer than the grace period
        time.sleep(0.5)
        started = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        stopped_after = time.monotonic() - started
    assert process.returncode == 130, stderr
    assert stopped_after < 2.5, f"took {stopped_after:.1f} s"
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert stderr.strip().splitlines()[0].startswith("crawl interrupted: ")
    stats = json.loads(pdarchive("stats", "--db", db, "--format", "json", check=True).stdout)
    assert stats["last_runs"][0]["status"] == "interrupted"
    with ReplayServer(SITE) as server:
        assert crawl(db, server).returncode == 0
    assert_archive_matches_expected(db)
