"""Party-building focus over the reference mirror: topic filters change search, export
and stats; crawl scope controls; the column catalogue and its discovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import crawl, export_jsonl, pdarchive
from tests.support.reference import CRAWL_CONFIG, FIXTURES, SITE
from tests.support.replay import ReplayServer

UNRELATED_URL = "http://js.people.com.cn/n2/2023/1205/c360300-39990001.html"
LIST_PAGE_1 = "http://js.people.com.cn/GB/360300/index.html"


@pytest.fixture(scope="module")
def archive_with_unrelated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference column, plus one article about bird watching listed on page 1."""
    db = tmp_path_factory.mktemp("scope") / "archive.db"
    page = (FIXTURES / "unrelated/c360302-39990001.html").read_bytes()
    listing = (SITE / "js.people.com.cn/GB/360300/index.html").read_bytes()
    item = ("<li><a href='/n2/2023/1205/c360300-39990001.html' target=_blank>"
            "玄武湖迎来观鸟季 数千只水鸟越冬</a><em>2023-12-05</em></li>\n").encode("gb18030")
    listing = listing.replace(b"<ul class=\"list_16 mt10\">\n",
                              b"<ul class=\"list_16 mt10\">\n" + item, 1)
    with ReplayServer(SITE) as server:
        server.add_page(UNRELATED_URL, page.replace(b"c360302", b"c360300"),
                        headers={"Content-Type": "text/html"})
        server.add_page(LIST_PAGE_1, listing, headers={"Content-Type": "text/html"})
        result = crawl(db, server)
        assert result.returncode == 0, result.stderr
    return db


def _ids(output: str) -> set[str]:
    return {hit["article_id"] for hit in json.loads(output)}


def test_topic_filter_changes_search_results(archive_with_unrelated: Path) -> None:
    db = archive_with_unrelated
    everything = _ids(pdarchive("search", "--db", db, "湖", "--format", "json",
                                check=True).stdout)
    assert "39990001" in everything
    focused = _ids(pdarchive("search", "--db", db, "湖", "--format", "json",
                             "--topic", "party-building", check=True).stdout)
    assert focused == everything - {"39990001"}
    strict = _ids(pdarchive("search", "--db", db, "党建", "--format", "json",
                            "--min-score", "30", check=True).stdout)
    assert strict and strict < _ids(pdarchive("search", "--db", db, "党建", "--format",
                                              "json", check=True).stdout)


def test_topic_filter_changes_export_and_stats(archive_with_unrelated: Path) -> None:
    db = archive_with_unrelated
    everything = {r["article_id"] for r in export_jsonl(db)}
    focused = {r["article_id"] for r in export_jsonl(db, "--topic", "party-building")}
    assert len(everything) == 20 and focused == everything - {"39990001"}
    stats = json.loads(pdarchive("stats", "--db", db, "--format", "json",
                                 "--topic", "party-building", check=True).stdout)
    assert stats["articles"] == 19
    assert pdarchive("stats", "--db", db, "--topic", "no-such-topic").returncode == 2


def test_explain_shows_the_arithmetic(archive_with_unrelated: Path) -> None:
    out = pdarchive("explain", "--db", archive_with_unrelated, "39990001", check=True).stdout
    assert "score 1.5 (below threshold 6)" in out
    assert "党员: 1 × 1.5 = 1.5" in out
    seed = pdarchive("explain", "--db", archive_with_unrelated, "34359164", check=True).stdout
    assert "at or above threshold" in seed
    assert pdarchive("explain", "--db", archive_with_unrelated, "1").returncode == 2


def test_since_crawl_requests_no_list_page_older_than_the_bound(
        tmp_path: Path, replay: ReplayServer) -> None:
    result = crawl(tmp_path / "archive.db", replay, "--since", "2022-01-01")
    assert result.returncode == 0, result.stderr
    lists = [url for _, url in replay.requests if "/GB/360300/" in url]
    assert lists == [LIST_PAGE_1]  # pages 2 and 3 list only articles before 2022
    dates = [r["published_at"][:10] for r in export_jsonl(tmp_path / "archive.db")]
    assert len(dates) == 7 and min(dates) >= "2022-01-01"


def test_until_and_max_articles_bound_a_crawl(tmp_path: Path, replay: ReplayServer) -> None:
    result = crawl(tmp_path / "a.db", replay, "--until", "2020-12-31")
    assert result.returncode == 0, result.stderr
    assert max(r["published_at"][:10] for r in export_jsonl(tmp_path / "a.db")) <= "2020-12-31"
    result = crawl(tmp_path / "b.db", replay, "--max-articles", "3")
    assert result.returncode == 0, result.stderr
    assert len(export_jsonl(tmp_path / "b.db")) == 3


def test_columns_lists_the_configured_columns(archive_with_unrelated: Path) -> None:
    out = pdarchive("columns", "--db", archive_with_unrelated, check=True).stdout
    row = next(line for line in out.splitlines() if line.startswith("360300"))
    assert row.split("\t")[1:4] == ["政治", "yes", "20"]
    assert "never" not in row


def test_columns_discover_proposes_channel_columns_only(tmp_path: Path,
                                                        replay: ReplayServer) -> None:
    config = tmp_path / "only-politics.toml"
    config.write_text(CRAWL_CONFIG.read_text("utf-8")
                      + '\n[[columns]]\nid = "360300"\nname = "政治"\ndefault = true\n',
                      "utf-8")
    result = pdarchive("columns", "discover", "--config", config, proxy=replay, check=True)
    proposals = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line]
    assert [(p[0], p[1]) for p in proposals] == [("360297", "江苏要闻")]
    # www.people.com.cn/GB/... links (other channels) are not proposed
    assert all(not p[0].startswith("123") for p in proposals)
    assert 'id = "360297"' in result.stderr


def test_columns_discover_gives_an_entry_for_every_column_it_proposes(
        tmp_path: Path, replay: ReplayServer) -> None:
    config = tmp_path / "only-politics.toml"
    config.write_text(CRAWL_CONFIG.read_text("utf-8")
                      + '\n[[columns]]\nid = "360300"\nname = "政治"\ndefault = true\n',
                      "utf-8")
    page = replay.page(LIST_PAGE_1)
    link = '<a href="/GB/360301/index.html">经济</a></body>'.encode("gb18030")
    assert b"</body>" in page.body
    replay.add_page(LIST_PAGE_1, page.body.replace(b"</body>", link, 1),
                    headers=page.headers)
    result = pdarchive("columns", "discover", "--config", config, proxy=replay, check=True)
    proposed = [line.split("\t")[0] for line in result.stdout.splitlines() if "\t" in line]
    assert sorted(proposed) == ["360297", "360301"]
    assert 'id = "360297"' in result.stderr and 'id = "360301"' in result.stderr


def test_columns_discover_with_the_site_unreachable_fails_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as unused:  # a port nothing listens on: connections refused
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    env = dict(os.environ, http_proxy=f"http://127.0.0.1:{port}", no_proxy="")
    result = subprocess.run(
        [sys.executable, "-m", "archive.cli", "columns", "discover", "--config", CRAWL_CONFIG],
        env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 6, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "pdarchive: error: could not reach js.people.com.cn: no page of the channel"), lines
    assert "missing from the configuration" not in result.stdout
