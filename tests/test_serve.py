"""``pdarchive serve`` over HTTP, without a browser: search, tables, downloads, pages."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from archive.cli import build_parser
from archive.datasette_plugin import marked_html, safe_url
from archive.search import search
from archive.serve import host_names
from archive.store import Archive
from archive.textnorm import normalise
from tests.support.cli import pdarchive
from tests.support.oracle import EXPECTED, SEED, has
from tests.support.reference import SITE
from tests.support.serving import OPENER, Server, served
from tests.support.synthetic import ensure_archive


def marked(snippet: str) -> list[str]:
    """The highlighted parts of a snippet, as the page shows them."""
    return re.findall(r"<mark>(.*?)</mark>", str(marked_html(snippet)))


@pytest.fixture(scope="module")
def server(archive_db: Path) -> Iterator[Server]:
    before = hashlib.sha256(archive_db.read_bytes()).hexdigest()
    with served(archive_db) as running:
        yield running
    # Datasette logs a failed query: only the deliberately unsearchable ones may fail
    assert [line for line in running.errors()
            if "无法搜索“。”" not in line and "fts3_tokenizer" not in line
            and "interrupted" not in line] == []
    assert hashlib.sha256(archive_db.read_bytes()).hexdigest() == before, "serve wrote the file"


def get_json(server: Server, path: str, **params: str) -> Any:
    status, body = server.get(path, **params)
    assert status == 200, body[:500]
    return json.loads(body)


def test_search_json_finds_simplified_articles_for_a_traditional_query(server: Server) -> None:
    rows = get_json(server, "/archive/search.json", q="黨建", _shape="array")
    wanted = {a["article_id"] for a in EXPECTED if has(a, "党建")}
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


def test_a_common_query_ranks_counts_and_pages_every_match(tmp_path: Path) -> None:
    """No window of the newest 500: 黨 in 560 articles, every one ranked, counted and
    on some page, each once, in the order of ``pdarchive search``."""
    db = ensure_archive(560, tmp_path / "archive.db")
    result = pdarchive("export", "--db", db, "--format", "jsonl")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    matching = {record["article_id"] for record in records if has(record, "党")}
    assert len(matching) > 500
    archive = Archive(db, readonly=True)
    try:
        cli = [hit.article_id for hit in search(archive, "党", limit=None)]
    finally:
        archive.close()

    with served(db) as running:
        rows = get_json(running, "/archive/search.json", q="黨", _shape="array")
        first = get_json(running, "/archive/search.json", q="黨", size="100")
        paged: list[str] = []
        for page in range(1, 8):
            data = get_json(running, "/archive/search.json", q="黨", size="100", page=str(page))
            assert data["total"] == len(matching)
            paged += [row["article_id"] for row in data["rows"]]
        newest = get_json(running, "/archive/search.json", q="黨", sort="newest", size="5")
    assert [row["article_id"] for row in rows] == cli == paged
    assert set(paged) == matching and len(paged) == len(matching)
    assert first["total"] == len(matching) and len(first["rows"]) == 100
    assert sum(first["facets"]["year"].values()) == len(matching)
    scores = [row["score"] for row in rows]
    assert scores == sorted(scores, reverse=True)
    times = [row["published_at"] for row in newest["rows"]]
    assert times == sorted(times, reverse=True) and times[0] == max(
        record["published_at"] for record in records if record["article_id"] in matching)


def test_search_parameters_narrow_the_results(server: Server) -> None:
    rows = get_json(server, "/archive/search.json", q="黨建", since="2021-01-01",
                    until="2021-12-31", _shape="array")
    wanted = {a["article_id"] for a in EXPECTED
              if has(a, "党建") and a["published_at"].startswith("2021")}
    assert {row["article_id"] for row in rows} == wanted and wanted
    assert get_json(server, "/archive/search.json", q="黨建", column="1", _shape="array") == []
    by_name = get_json(server, "/archive/search.json", q="黨建", column="政治")
    assert by_name["total"] == len(wanted | {a["article_id"] for a in EXPECTED
                                            if has(a, "党建")})
    folded = get_json(server, "/archive/search.json", q="黨建", source="人民網")
    plain = get_json(server, "/archive/search.json", q="黨建", source="人民网")
    assert folded["total"] == plain["total"] > 0


@pytest.mark.parametrize("params", [
    {"since": "2020-13-45"}, {"until": "yesterday"}, {"column": "没有的栏目"},
    {"min_score": "lots"}, {"sort": "random"}, {"page": "0"}, {"edition": "utf8"},
    {"topic": "nothing"}])
def test_a_filter_that_cannot_be_used_is_an_error_not_ignored(server: Server,
                                                             params: dict[str, str]) -> None:
    status, body = server.get("/archive/search", q="黨建", **params)
    page = BeautifulSoup(body, "lxml")
    assert status == 400
    errors = page.select(".pd-errors .pd-error")
    assert [error["data-field"] for error in errors] == list(params), page.text
    assert list(params.values())[0] in errors[0].text
    assert not page.select("li.pd-result"), "nothing searched with a filter left out"
    assert page.select_one("form.pd-search-form input#pd-q")["value"] == "黨建"
    named = page.select_one(f"form.pd-search-form [name={list(params)[0]}]")
    if named is not None and named.name == "input":
        assert named["value"] == list(params.values())[0], "kept, to be corrected"
    status, body = server.get("/archive/search.json", q="黨建", **params)
    assert status == 400 and list(json.loads(body)["errors"]) == list(params)


def test_dates_in_other_forms_are_read(server: Server) -> None:
    iso = get_json(server, "/archive/search.json", q="黨建", since="2021-01-01")["total"]
    assert iso > 0
    for written in ("2021/01/01", "2021年1月1日", "2021年1月"):
        assert get_json(server, "/archive/search.json", q="黨建", since=written)["total"] == iso


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
    assert len(results) == sum(has(a, "党建") for a in EXPECTED)
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
    status, body = server.get("/archive/search.csv", q="黨建")
    assert status == 200
    assert body.startswith("\ufeff".encode()), "Excel needs the byte order mark"
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    wanted = {a["article_id"] for a in EXPECTED if has(a, "党建")}
    assert {row["article_id"] for row in rows} == wanted
    assert {"title", "published_at", "snippet", "url"} <= set(rows[0])

    status, body = server.get("/archive/articles.csv", _search="黨建", _size="max")
    assert status == 200
    table_rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert {row["article_id"] for row in table_rows} == wanted
    assert json.loads(table_rows[0]["body"]), "all columns, as stored"

    status, body = server.get("/archive/search.json", q="黨建", _shape="array")
    assert status == 200 and "党建".encode() in body and b"\\u" not in body, "unescaped"
    assert {row["article_id"] for row in json.loads(body)} == wanted
    status, body = server.get("/archive/search.jsonl", q="黨建")
    lines = body.decode("utf-8").splitlines()
    assert status == 200 and {json.loads(line)["article_id"] for line in lines} == wanted
    assert len(lines) == len(wanted)


def test_table_json_is_newest_first_with_year_facet(server: Server) -> None:
    rows = get_json(server, "/archive/articles.json", _shape="array", _size="max")
    dates = [row["published_at"] for row in rows]
    assert len(rows) == len(EXPECTED)
    assert dates == sorted(dates, reverse=True)

    data = get_json(server, "/archive/articles.json", _search="黨建")
    years = {value["value"]: value["count"]
             for value in data["facet_results"]["published_at"]["results"]}
    wanted = [a["published_at"][:4] for a in EXPECTED if has(a, "党建")]
    assert years == {year: wanted.count(year) for year in set(wanted)}
    assert {"column_id", "source", "edition"} <= set(data["facet_results"])

    status, body = server.get("/archive/articles")
    assert status == 200 and BeautifulSoup(body, "lxml").select_one("input#_search"), "search box"

    narrowed = get_json(server, "/archive/articles.json", _search="黨建",
                        published_at__startswith="2021", _shape="objects")
    assert narrowed["filtered_table_rows_count"] == years["2021"]
    assert all(row["published_at"].startswith("2021") for row in narrowed["rows"])


def test_article_page_reads_like_the_original(server: Server) -> None:
    article = next(a for a in EXPECTED if a["article_id"] == SEED)
    status, body = server.get(f"/archive/articles/{SEED}")
    assert status == 200
    page = BeautifulSoup(body, "lxml")
    assert page.select_one(".pd-article h1").text == article["title"]
    shown = [node.text for node in page.select(".pd-body p, .pd-body figcaption")]
    assert shown == article["body"]
    # the pictures come from the archive, as they were fetched, never from the site
    pictures = [img["src"] for img in page.select(".pd-body img")]
    assert len(pictures) == len(article["images"]) and all(
        src.startswith("/-/pdarchive-picture/") for src in pictures)
    manifest = json.loads((SITE / "MANIFEST.json").read_text("utf-8"))
    for src, image in zip(pictures, article["images"], strict=True):
        status, served_bytes = server.get(src)
        assert status == 200
        assert served_bytes == (SITE / manifest[image["src"]]["file"]).read_bytes()
    assert not page.select(".pd-picture-missing")
    assert page.select_one(".pd-editors").text == f"(责编：{'、'.join(article['editors'])})"
    source = page.select_one(".pd-source a")
    assert source.text == article["source"] and source["href"] == article["source_url"]
    assert "2020年10月19日 14:37" in page.select_one(".pd-dateline").text
    assert page.select_one(".pd-original a")["href"] == article["url"]

    other = page.select_one("a.pd-other-edition")
    assert other.text == "繁體版"
    status, body = server.get(f"/archive/articles/{SEED}", _edition="big5")
    big5 = BeautifulSoup(body, "lxml")
    assert big5.select_one(".pd-article h1").text == "江蘇住建行業黨委從“建起來”走向“強起來”"
    assert big5.select_one("a.pd-other-edition").text == "简体版"
    labels = big5.select_one(".pd-article").text
    assert "來源：" in labels and "責編：" in labels and "来源" not in labels


def test_article_without_archived_other_edition_links_to_the_site(server: Server) -> None:
    article = next(a for a in EXPECTED if a["article_id"] == "40012345")
    status, body = server.get("/archive/articles/40012345")
    page = BeautifulSoup(body, "lxml")
    other = page.select_one(".pd-other-edition a")
    assert other["href"] == article["url"].replace("people.com.cn/n2/", "people.com.cn/BIG5/n2/")
    assert len(page.select(".pd-article-links li a[href*='40012345']")) >= 3, "its pages"


def test_unsearchable_query_is_explained(server: Server) -> None:
    status, body = server.get("/archive/search", q="。")
    assert status == 400
    assert "无法搜索" in BeautifulSoup(body, "lxml").select_one(".pd-error").text
    status, body = server.get("/archive/search", q="张鑫 OR ，")
    assert status == 400 and "OR" in BeautifulSoup(body, "lxml").select_one(".pd-error").text
    status, body = server.get("/archive/articles", _search="。")
    page = BeautifulSoup(body, "lxml")
    assert status == 400 and "无法搜索" in page.select_one(".pd-error").text
    assert page.select_one("form.pd-search-form input#pd-q"), "the error page keeps the form"


def test_every_answer_has_a_content_security_policy(server: Server) -> None:
    for path in ("/", "/archive", "/archive/search?q=x", f"/archive/articles/{SEED}",
                 "/archive/articles", "/-/pdarchive-data"):
        with OPENER.open(server.url + path.replace("?q=x", "?q=%E5%85%9A")) as response:
            policy = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "object-src 'none'" in policy, path
            assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_request_for_another_host_is_refused(server: Server) -> None:
    """DNS rebinding: a hostile page whose name resolves to 127.0.0.1 sends its own
    name as Host; only the names the server was opened as are answered."""
    port = server.url.rsplit(":", 1)[1]
    for host, status in ((f"127.0.0.1:{port}", 200), (f"localhost:{port}", 200),
                         (f"evil.example:{port}", 421), ("evil.example", 421),
                         (f"127.0.0.1.evil.example:{port}", 421)):
        request = urllib.request.Request(server.url + "/archive/articles.json",
                                         headers={"Host": host})
        try:
            with OPENER.open(request) as response:
                got = response.status
        except urllib.error.HTTPError as error:
            got = error.code
        assert got == status, host


def test_allow_host_adds_a_name_and_a_wildcard_adds_the_machines(archive_db: Path) -> None:
    with served(archive_db, args=["--allow-host", "archive.example"]) as running:
        port = running.url.rsplit(":", 1)[1]
        for host, status in ((f"archive.example:{port}", 200), (f"other.example:{port}", 421)):
            request = urllib.request.Request(running.url + "/", headers={"Host": host})
            try:
                with OPENER.open(request) as response:
                    got = response.status
            except urllib.error.HTTPError as error:
                got = error.code
            assert got == status, host
    names = host_names(["0.0.0.0"])
    assert {"localhost", "127.0.0.1", "::1", socket.gethostname().lower()} <= names
    assert host_names(["127.0.0.1"]) == {"localhost", "127.0.0.1", "::1"}


def test_fts3_tokenizer_cannot_be_called(server: Server) -> None:
    for sql in ("select fts3_tokenizer('simple')", "select hex(fts3_tokenizer('simple'))"):
        status, body = server.get("/archive.json", sql=sql)
        assert "not authorized" in json.loads(body)["error"], body[:300]


def test_the_sql_time_limit_holds_for_our_functions(archive_db: Path) -> None:
    """Each call's input is bounded, so Datasette's limit (3 s) stops a query that
    calls them over and over, and a single huge call returns at once."""
    with served(archive_db) as server:
        _time_limited(server)


def _time_limited(server: Server) -> None:
    for sql in (
            "with recursive n(i) as (select 1 union all select i + 1 from n limit 1000000) "
            "select max(pd_snippet(printf('%.*c', 200000, char(97 + i % 20)), '党')) from n",
            "with recursive n(i) as (select 1 union all select i + 1 from n limit 10000000) "
            "select max(pd_match(printf('%.*c', 400, char(19968 + i % 500)))) from n"):
        started = time.monotonic()
        status, body = server.get("/archive.json", sql=sql)
        assert time.monotonic() - started < 6, sql
        assert "too long" in json.loads(body)["error"]
    started = time.monotonic()
    status, body = server.get("/archive.json", sql="select length(pd_snippet("
                              "printf('%.*c', 50000000, 'a'), '党'))")
    assert status == 200 and time.monotonic() - started < 3
    status, body = server.get("/archive.json", sql="select pd_match(printf('%.*c', 100000, 'a'))")
    assert json.loads(body)["error"]


def test_only_http_links_are_links() -> None:
    assert safe_url("http://js.people.com.cn/") == "http://js.people.com.cn/"
    assert safe_url("https://example.com/a?b=1") == "https://example.com/a?b=1"
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x",
                "vbscript:x", "//evil.example/", "http:///x", "java\tscript:x",
                "http://a.example/\nx", None, 42):
        assert safe_url(bad) is None, bad


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


def test_an_unknown_address_is_a_404_page_not_a_server_error(server: Server) -> None:
    """Datasette's error handler printed every error through rich when it was installed,
    which fails outside an except block: each 404 became a 500 and a traceback."""
    for path in ("/no-such-page", "/archive/articles/0", "/img/2020wbc/imgs/share.png"):
        status, body = server.get(path)
        assert status == 404, (path, status)
    status, _ = server.get("/-/pdarchive-picture/999999")
    assert status == 404
    assert [line for line in server.errors()
            if "Traceback" in line or "Exception in ASGI" in line] == []
