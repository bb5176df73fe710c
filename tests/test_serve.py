"""``pdarchive serve`` over HTTP, without a browser: search, tables, downloads, pages."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from archive.cli import build_parser
from archive.datasette_plugin import marked_html
from archive.search import RANK_WINDOW, search
from archive.store import Archive
from archive.textnorm import normalise
from bench.synthetic import ensure_archive
from tests.conftest import EXPECTED_CRAWL, pdarchive
from tests.serving import Server, served

SEED = "34359164"  # has an image, editors, a source link and a BIG5 edition in the mirror


def expected_articles() -> list[dict[str, Any]]:
    return json.loads(EXPECTED_CRAWL.read_text("utf-8"))["articles"]


def mentions(article: dict[str, Any], term: str) -> bool:
    """Does the article's indexed text hold ``term`` (normalised)?"""
    fields = [article.get(name) or "" for name in ("pretitle", "title", "subtitle", "source")]
    fields += article["body"] + article["editors"] + article["authors"] + article["photographers"]
    return normalise(term) in normalise(" ".join(fields))


def marked(snippet: str) -> list[str]:
    """The highlighted parts of a snippet, as the page shows them."""
    return re.findall(r"<mark>(.*?)</mark>", str(marked_html(snippet)))


@pytest.fixture(scope="module")
def server(archive_db: Path) -> Iterator[Server]:
    before = hashlib.sha256(archive_db.read_bytes()).hexdigest()
    with served(archive_db) as running:
        yield running
    # Datasette logs a failed query: only the deliberately unsearchable ones may fail
    assert [line for line in running.errors() if "Cannot search for '。'" not in line] == []
    assert hashlib.sha256(archive_db.read_bytes()).hexdigest() == before, "serve wrote the file"


def get_json(server: Server, path: str, **params: str) -> Any:
    status, body = server.get(path, **params)
    assert status == 200, body[:500]
    return json.loads(body)


def test_search_json_finds_simplified_articles_for_a_traditional_query(server: Server) -> None:
    rows = get_json(server, "/archive/search.json", q="黨建", _shape="array")
    wanted = {a["article_id"] for a in expected_articles() if mentions(a, "党建")}
    assert {row["article_id"] for row in rows} == wanted
    assert len(rows) == len(wanted)
    for row in rows:
        assert row["edition"] == "gb"
        assert marked(row["snippet"]), row
        assert all(normalise(part) == "党建" for part in marked(row["snippet"])), row["snippet"]
    simplified = get_json(server, "/archive/search.json", q="党建", _shape="array")
    assert [row["article_id"] for row in simplified] == [row["article_id"] for row in rows]


@pytest.mark.parametrize("query", ["黨建", "张鑫", "党 -住建", "物業 OR 城管", "黨"])
def test_search_is_the_cli_search(archive_db: Path, server: Server, query: str) -> None:
    """Same articles, order, snippets and scores as ``pdarchive search --format json``."""
    archive = Archive(archive_db, readonly=True)
    try:
        hits = search(archive, query, limit=None)
    finally:
        archive.close()
    rows = get_json(server, "/archive/search.json", q=query, _shape="array")
    assert hits
    assert [(row["article_id"], row["snippet"]) for row in rows] == [
        (hit.article_id, hit.snippet) for hit in hits]
    assert [row["score"] for row in rows] == pytest.approx([hit.score for hit in hits],
                                                           rel=1e-5)


def test_a_search_matching_more_than_the_rank_window_ranks_its_newest_matches(
        tmp_path: Path) -> None:
    """As ``pdarchive search`` does: ranking every match of a common term made the
    page time out at 100,000 articles."""
    db = ensure_archive(RANK_WINDOW + 60, tmp_path / "archive.db")
    result = pdarchive("export", "--db", db, "--format", "jsonl")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    matching = sorted((record for record in records if mentions(record, "党")),
                      key=lambda record: record["published_at"], reverse=True)
    assert len(matching) > RANK_WINDOW

    with served(db) as running:
        rows = get_json(running, "/archive/search.json", q="黨", _shape="array", _size="max")
    assert {row["article_id"] for row in rows} == {
        record["article_id"] for record in matching[:RANK_WINDOW]}
    scores = [row["score"] for row in rows]
    assert scores == sorted(scores, reverse=True)


def test_search_parameters_narrow_the_results(server: Server) -> None:
    rows = get_json(server, "/archive/search.json", q="黨建", since="2021-01-01",
                    until="2021-12-31", _shape="array")
    wanted = {a["article_id"] for a in expected_articles()
              if mentions(a, "党建") and a["published_at"].startswith("2021")}
    assert {row["article_id"] for row in rows} == wanted and wanted
    assert get_json(server, "/archive/search.json", q="黨建", column="1", _shape="array") == []


def test_search_topic_score_filter(archive_db: Path, server: Server) -> None:
    """The browser search keeps articles at or above a party-building score, as
    ``pdarchive search --min-score`` does."""
    archive = Archive(archive_db, readonly=True)
    try:
        wanted = [hit.article_id for hit in search(archive, "黨建", topic="party-building",
                                                   min_score=30, limit=None)]
    finally:
        archive.close()
    rows = get_json(server, "/archive/search.json", q="黨建", min_score="30", _shape="array")
    everything = get_json(server, "/archive/search.json", q="黨建", _shape="array")
    assert sorted(row["article_id"] for row in rows) == sorted(wanted)
    assert 0 < len(rows) < len(everything)


def test_search_page_shows_highlighted_snippets(server: Server) -> None:
    status, body = server.get("/archive/search", q="黨建")
    assert status == 200
    page = BeautifulSoup(body, "lxml")
    results = page.select("li.pd-result")
    assert len(results) == sum(mentions(a, "党建") for a in expected_articles())
    for result in results:
        assert [normalise(mark.text) for mark in result.select(".pd-snippet mark")][:1] == ["党建"]
    titled = [result.select_one(".pd-result-title") for result in results
              if "党建" in result.select_one(".pd-result-title").text]
    assert titled and all(title.mark and title.mark.text == "党建" for title in titled)
    assert "Cannot search" not in page.text

    status, body = server.get("/archive/search", q="張鑫")  # only in the editors' names
    marks = [mark.text for mark in BeautifulSoup(body, "lxml").select(".pd-snippet mark")]
    assert status == 200 and marks and set(marks) == {"张鑫"}


def test_csv_downloads_of_search_and_table(server: Server) -> None:
    status, body = server.get("/archive/search.csv", q="黨建", _size="max")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    wanted = {a["article_id"] for a in expected_articles() if mentions(a, "党建")}
    assert {row["article_id"] for row in rows} == wanted
    assert {"title", "published_at", "snippet", "url"} <= set(rows[0])

    status, body = server.get("/archive/articles.csv", _search="黨建", _size="max")
    assert status == 200
    table_rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert {row["article_id"] for row in table_rows} == wanted
    assert json.loads(table_rows[0]["body"]), "all columns, as stored"


def test_table_json_is_newest_first_with_year_facet(server: Server) -> None:
    rows = get_json(server, "/archive/articles.json", _shape="array", _size="max")
    dates = [row["published_at"] for row in rows]
    assert len(rows) == len(expected_articles())
    assert dates == sorted(dates, reverse=True)

    data = get_json(server, "/archive/articles.json", _search="黨建")
    years = {value["value"]: value["count"]
             for value in data["facet_results"]["published_at"]["results"]}
    wanted = [a["published_at"][:4] for a in expected_articles() if mentions(a, "党建")]
    assert years == {year: wanted.count(year) for year in set(wanted)}
    assert {"column_id", "source", "edition"} <= set(data["facet_results"])

    status, body = server.get("/archive/articles")
    assert status == 200 and BeautifulSoup(body, "lxml").select_one("input#_search"), "search box"

    narrowed = get_json(server, "/archive/articles.json", _search="黨建",
                        published_at__startswith="2021", _shape="objects")
    assert narrowed["filtered_table_rows_count"] == years["2021"]
    assert all(row["published_at"].startswith("2021") for row in narrowed["rows"])


def test_article_page_reads_like_the_original(server: Server) -> None:
    article = next(a for a in expected_articles() if a["article_id"] == SEED)
    status, body = server.get(f"/archive/articles/{SEED}")
    assert status == 200
    page = BeautifulSoup(body, "lxml")
    assert page.select_one(".pd-article h1").text == article["title"]
    shown = [node.text for node in page.select(".pd-body p, .pd-body figcaption")]
    assert shown == article["body"]
    assert [img["src"] for img in page.select(".pd-body img")] == [
        image["src"] for image in article["images"]]
    assert page.select_one(".pd-editors").text == f"(责编：{'、'.join(article['editors'])})"
    source = page.select_one(".pd-source a")
    assert source.text == article["source"] and source["href"] == article["source_url"]
    assert "2020年10月19日14:37" in page.select_one(".pd-dateline").text
    assert page.select_one("a.pd-original")["href"] == article["url"]

    other = page.select_one("a.pd-other-edition")
    assert other.text == "繁體版"
    status, body = server.get(f"/archive/articles/{SEED}", _edition="big5")
    big5 = BeautifulSoup(body, "lxml")
    assert big5.select_one(".pd-article h1").text == "江蘇住建行業黨委從“建起來”走向“強起來”"
    assert big5.select_one("a.pd-other-edition").text == "简体版"


def test_article_without_archived_other_edition_links_to_the_site(server: Server) -> None:
    article = next(a for a in expected_articles() if a["article_id"] == "40012345")
    status, body = server.get("/archive/articles/40012345")
    page = BeautifulSoup(body, "lxml")
    other = page.select_one("a.pd-other-edition")
    assert other["href"] == article["url"].replace("people.com.cn/n2/", "people.com.cn/BIG5/n2/")
    assert len(page.select(".pd-article-links li a[href*='40012345']")) >= 3, "its pages"


def test_unsearchable_query_is_explained(server: Server) -> None:
    status, body = server.get("/archive/search", q="。")
    assert status == 400
    assert "Cannot search for" in BeautifulSoup(body, "lxml").select_one(".message-error").text
    status, body = server.get("/archive/articles", _search="。")
    assert status == 400


def test_serve_usage_errors_are_one_line(tmp_path: Path) -> None:
    missing = pdarchive("serve", "--db", tmp_path / "nothing.db")
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "no archive" in missing.stderr
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    junk = pdarchive("serve", "--db", tmp_path / "junk.db")
    assert junk.returncode == 2 and junk.stderr.count("\n") == 1
    for bad in (["--port", "x"], ["--port", "70000"]):
        result = pdarchive("serve", "--db", tmp_path / "nothing.db", *bad)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr


def test_serve_listens_on_loopback_by_default() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 8001)
