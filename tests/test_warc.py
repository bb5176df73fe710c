"""Issue 15, the archive side: every capture kept, ``history``, WARC and WACZ out,
WARCs in.

Real crawls over the replay server, real warcio (``warcio check``/``index``), the
real ``wacz validate``, and a real pywb (``wayback``) on loopback replaying an
exported WARC. pywb pins packages the redis extra cannot share an environment
with (redis 2.10), so it lives in a virtualenv of its own: ``.pywb/`` in the
checkout (what .ci/run makes), ``$PDARCHIVE_PYWB`` (its bin directory) or ``wayback``
on the PATH; without one the pywb test is skipped, saying so.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.store import Archive
from tests.support.cli import crawl, export_jsonl, pdarchive
from tests.support.old_schemas import as_schema_4
from tests.support.oracle import EXPECTED, SEED
from tests.support.ports import free_port
from tests.support.reference import SITE
from tests.support.replay import ReplayServer

ROOT = Path(__file__).resolve().parents[1]
CHANGED = "http://js.people.com.cn/n2/2021/0908/c360300-34401096.html"
CHANGED_FILE = SITE / "js.people.com.cn/n2/2021/0908/c360300-34401096.html"
OLD_TITLE, NEW_TITLE = "徐州城管“以案明纪月月谈”常态开展", "徐州城管“以案明纪”常态开展"
MULTI = ["http://js.people.com.cn/n2/2022/0701/c360300-40012345.html",
         "http://js.people.com.cn/n2/2022/0701/c360300-40012345-2.html",
         "http://js.people.com.cn/n2/2022/0701/c360300-40012345-3.html"]
TIMES = ("fetched_at", "first_seen_at", "updated_at")
#: the seed article's picture
PICTURE = "http://js.people.com.cn/NMediaFile/2020/1019/LOCAL202010191437000377591588813.jpg"


def rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        found = connection.execute(sql, params).fetchall()
    connection.close()
    return found


def history(db: Path, article_id: str) -> list[dict[str, Any]]:
    result = pdarchive("history", "--db", db, article_id, "--format", "json", check=True)
    versions: list[dict[str, Any]] = json.loads(result.stdout)["versions"]
    return versions


def records(path: Path) -> list[tuple[Any, ...]]:
    """Every record but the warcinfo: WARC headers, HTTP headers, payload."""
    found = []
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "warcinfo":
                continue
            found.append((record.rec_type, record.rec_headers.headers,
                          record.http_headers.headers if record.http_headers else None,
                          record.content_stream().read()))
    return found


def without_times(exported: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records of ``export --versions``, less when they were written."""
    for record in exported:
        for key in TIMES:
            record.pop(key, None)
        for version in record.get("versions", []):
            version.pop("replaced_at")
            for key in TIMES:
                version["record"].pop(key, None)
    return exported


@pytest.fixture(scope="module")
def changed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference column crawled (both editions), then an article changed on the
    site and everything re-fetched with --full."""
    db = tmp_path_factory.mktemp("changed") / "archive.db"
    with ReplayServer(SITE) as server:
        first = crawl(db, server, "--edition", "gb", "--edition", "big5")
        assert first.returncode == 0, first.stderr
        server.add_page(CHANGED, CHANGED_FILE.read_bytes().replace(
            OLD_TITLE.encode(), NEW_TITLE.encode()))
        second = crawl(db, server, "--full", "--edition", "gb", "--edition", "big5")
        assert second.returncode == 0, second.stderr
        assert "1 updated" in second.stderr, second.stderr
    return db


# -- 1. every capture kept --------------------------------------------------------

def test_a_changed_article_keeps_both_captures_and_history_shows_both(changed_db: Path
                                                                       ) -> None:
    captures = rows(changed_db, "SELECT sha256, latest FROM captures WHERE url = ? "
                    "ORDER BY id", (CHANGED,))
    assert len(captures) == 2 and captures[0][0] != captures[1][0]
    assert [latest for _, latest in captures] == [0, 1]
    assert all(rows(changed_db, "SELECT 1 FROM blobs WHERE sha256 = ?", (sha,))
               for sha, _ in captures)
    # an unchanged re-fetch costs nothing: one capture and one blob for every other page
    assert rows(changed_db, "SELECT url FROM captures WHERE kind = 'article' "
                "GROUP BY url HAVING count(*) > 1") == [(CHANGED,)]
    assert rows(changed_db, "SELECT count(*) FROM blobs")[0][0] == rows(
        changed_db, "SELECT count(DISTINCT sha256) FROM captures")[0][0]
    # the pages view still holds one row per URL: the latest capture
    assert rows(changed_db, "SELECT count(*), count(DISTINCT url) FROM pages")[0] == rows(
        changed_db, "SELECT count(DISTINCT url), count(DISTINCT url) FROM captures "
        "WHERE kind != 'picture'")[0]
    assert rows(changed_db, "SELECT sha256 FROM pages WHERE url = ?", (CHANGED,)) == [
        (captures[1][0],)]

    versions = history(changed_db, "34401096")
    assert [version["version"] for version in versions] == [1, 2]
    assert [version["record"]["title"] for version in versions] == [OLD_TITLE, NEW_TITLE]
    assert versions[0]["changed"] == [] and "title" in versions[1]["changed"]
    assert "body" not in versions[1]["changed"]
    assert [[capture["sha256"] for capture in version["captures"]]
            for version in versions] == [[captures[0][0]], [captures[1][0]]]
    assert versions[0]["captured_at"] <= versions[1]["captured_at"]
    assert versions[0]["replaced_at"] and versions[1]["replaced_at"] is None
    text = pdarchive("history", "--db", changed_db, "34401096", check=True).stdout
    assert "version 1: captured" in text and "version 2: captured" in text
    assert "changed: title" in text and "current" in text
    unchanged = history(changed_db, SEED)
    assert len(unchanged) == 1 and unchanged[0]["changed"] == []
    missing = pdarchive("history", "--db", changed_db, "1")
    assert missing.returncode == 2 and "no article 1" in missing.stderr


def test_reparse_reads_each_version_again_from_its_own_capture(changed_db: Path,
                                                               tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    shutil.copy(changed_db, db)
    with sqlite3.connect(db) as connection:  # both versions as a buggy parser left them
        connection.execute("UPDATE articles SET title = 'x', content_hash = 'old' "
                           "WHERE article_id = '34401096'")
        record = json.loads(connection.execute(
            "SELECT record FROM article_versions WHERE article_id = '34401096'").fetchone()[0])
        connection.execute("UPDATE article_versions SET record = ?, content_hash = 'old' "
                           "WHERE article_id = '34401096'",
                           [json.dumps(dict(record, title="y"), ensure_ascii=False)])
    connection.close()
    result = pdarchive("reparse", "--db", db)
    assert result.returncode == 0, result.stderr
    assert "2 changed" in result.stderr, result.stderr
    versions = history(db, "34401096")
    assert [version["record"]["title"] for version in versions] == [OLD_TITLE, NEW_TITLE]
    assert without_times(export_jsonl(db, "--versions")) == without_times(
        export_jsonl(changed_db, "--versions"))
    again = pdarchive("reparse", "--db", db)
    assert again.returncode == 0 and "0 changed" in again.stderr, again.stderr


def test_an_archive_of_schema_4_keeps_its_pages_as_first_captures(archive_db: Path,
                                                                   tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    shutil.copy(archive_db, db)
    before = rows(archive_db, "SELECT * FROM pages ORDER BY url")
    as_schema_4(db)
    assert rows(db, "SELECT * FROM pages ORDER BY url") == before
    Archive(db).close()  # migrates
    assert rows(db, "PRAGMA user_version") == [(5,)]
    assert rows(db, "SELECT * FROM pages ORDER BY url") == before
    assert rows(db, "SELECT count(*) FROM captures")[0][0] == len(before)
    linked = rows(db, "SELECT count(DISTINCT article_id) FROM version_captures")[0][0]
    assert linked == len(EXPECTED)
    result = pdarchive("reparse", "--db", db)
    assert result.returncode == 0 and "0 changed" in result.stderr, result.stderr
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]


# -- 3. WARC and WACZ out -------------------------------------------------------

def test_the_warc_export_passes_warcio_check_and_index(changed_db: Path,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "archive.warc.gz"
    result = pdarchive("export", "--db", changed_db, "--format", "warc", "-o", out)
    assert result.returncode == 0, result.stderr
    captures = rows(changed_db, "SELECT count(*) FROM captures")[0][0]
    assert result.stderr.strip() == f"exported {len(EXPECTED)} articles, {captures} captures"
    assert list(tmp_path.iterdir()) == [out]
    warcio = shutil.which("warcio") or str(Path(sys.executable).parent / "warcio")
    check = subprocess.run([warcio, "check", "-v", str(out)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "digest pass" in check.stdout and "fail" not in check.stdout
    index = subprocess.run([warcio, "index", "-f", "warc-type,warc-target-uri,warc-date",
                            str(out)], capture_output=True, text=True)
    assert index.returncode == 0, index.stderr
    entries = [json.loads(line) for line in index.stdout.splitlines()]
    assert entries[0]["warc-type"] == "warcinfo"
    assert sum(entry["warc-type"] == "response" for entry in entries) == captures
    assert sum(entry["warc-type"] == "request" for entry in entries) == captures
    versions = rows(changed_db, "SELECT count(*) FROM (SELECT DISTINCT article_id, version "
                    "FROM version_captures)")[0][0]
    assert sum(entry["warc-type"] == "metadata" for entry in entries) == versions

    with out.open("rb") as stream:
        responses = {}
        for record in ArchiveIterator(stream):
            if record.rec_type == "response":
                url = record.rec_headers.get_header("WARC-Target-URI")
                responses.setdefault(url, []).append(record.content_stream().read())
                assert record.rec_headers.get_header("WARC-Payload-Digest").startswith(
                    "sha256:")
                assert record.http_headers.protocol == "HTTP/1.1"
    seed_url = "http://js.people.com.cn/n2/2020/1019/c360300-34359164.html"
    assert responses[seed_url] == [
        (SITE / "js.people.com.cn/n2/2020/1019/c360300-34359164.html").read_bytes()]
    assert responses[CHANGED][0] == CHANGED_FILE.read_bytes()
    assert NEW_TITLE.encode() in responses[CHANGED][1]
    assert "http://js.people.com.cn/GB/360300/index.html" in responses  # list pages too


def test_warc_export_takes_the_filters_of_every_format(archive_db: Path,
                                                       tmp_path: Path) -> None:
    def urls(*args: str) -> set[str]:
        out = tmp_path / "filtered.warc.gz"
        pdarchive("export", "--db", archive_db, "--format", "warc", "-o", out, *args,
                  check=True)
        return {dict(warc)["WARC-Target-URI"] for kind, warc, _, _ in records(out)
                if kind == "response"}

    def pages(found: list[dict[str, Any]]) -> set[str]:
        """The articles' pages, and the pictures they show (the crawl archived them)."""
        big5 = [record["big5"]["pages"] for record in found if record.get("big5")]
        pictures = {image["src"] for record in found for image in record.get("images") or []}
        return {url for record in found for url in record["pages"]} | {
            url for urls in big5 for url in urls} | pictures

    wanted = export_jsonl(archive_db, "--since", "2021-01-01", "--until", "2021-12-31")
    assert wanted and urls("--since", "2021-01-01", "--until", "2021-12-31") == pages(wanted)
    assert urls("--column", "1") == set()
    queried = export_jsonl(archive_db, "--query", "黨建")
    assert queried and urls("--query", "黨建") == pages(queried)
    nothing = pdarchive("export", "--db", archive_db, "--format", "warc", "--query", "，。",
                        "-o", tmp_path / "none.warc.gz")
    assert nothing.returncode == 2 and not (tmp_path / "none.warc.gz").exists()


def test_a_damaged_stored_page_is_left_out_and_named(archive_db: Path,
                                                     tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    shutil.copy(archive_db, db)
    with sqlite3.connect(db) as connection:  # one body overwritten in place
        connection.execute("UPDATE pages SET body = ? WHERE url = ?",
                           [zlib.compress(b"<html>not what was fetched</html>"), CHANGED])
    connection.close()
    out = tmp_path / "out.warc.gz"
    result = pdarchive("export", "--db", db, "--format", "warc", "-o", out)
    assert result.returncode == 1, result.stderr
    assert (f"  {CHANGED}: the stored copy is damaged (it no longer matches its SHA-256)"
            in result.stderr.splitlines())
    assert "1 stored copy damaged, left out" in result.stderr
    urls = {dict(warc)["WARC-Target-URI"] for kind, warc, _, _ in records(out)
            if kind == "response"}
    assert CHANGED not in urls and len(urls) == rows(db, "SELECT count(*) FROM captures")[0][0] - 1
    warcio = shutil.which("warcio") or str(Path(sys.executable).parent / "warcio")
    assert subprocess.run([warcio, "check", str(out)], capture_output=True).returncode == 0


def test_the_wacz_validates(archive_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "archive.wacz"
    result = pdarchive("export", "--db", archive_db, "--format", "wacz", "-o", out)
    assert result.returncode == 0, result.stderr
    wacz = shutil.which("wacz") or str(Path(sys.executable).parent / "wacz")
    check = subprocess.run([wacz, "validate", "-f", str(out)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "is valid" in check.stdout
    import zipfile

    with zipfile.ZipFile(out) as package:
        names = set(package.namelist())
        assert {"datapackage.json", "pages/pages.jsonl", "indexes/index.cdx.gz",
                "archive/data.warc.gz"} <= names
        lines = package.read("pages/pages.jsonl").decode().splitlines()
    assert len(lines) == 1 + len(EXPECTED)
    assert pdarchive("export", "--db", archive_db, "--format", "wacz").returncode == 2


def _wayback() -> Path | None:
    for candidate in (ROOT / ".pywb/bin/wayback",
                      Path(os.environ.get("PDARCHIVE_PYWB", "/nonexistent")) / "wayback",
                      Path(shutil.which("wayback") or "/nonexistent")):
        if candidate.is_file():
            return candidate
    return None


@pytest.fixture
def wayback(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(the collection's WARC folder's parent, the server's URL): a pywb on loopback."""
    binary = _wayback()
    if binary is None:
        pytest.skip("no pywb: `python3 -m venv .pywb && .pywb/bin/pip install pywb` "
                    "(its own environment: it pins redis 2.10)")
    yield binary.parent, f"http://127.0.0.1:{free_port()}"


def test_pywb_replays_an_exported_page_byte_for_byte(changed_db: Path, tmp_path: Path,
                                                     wayback: tuple[Path, str]) -> None:
    bin_dir, url = wayback
    out = tmp_path / "export.warc.gz"
    pdarchive("export", "--db", changed_db, "--format", "warc", "-o", out, check=True)
    home = tmp_path / "pywb"
    home.mkdir()
    subprocess.run([bin_dir / "wb-manager", "init", "pd"], cwd=home, check=True,
                   capture_output=True)
    subprocess.run([bin_dir / "wb-manager", "add", "pd", out], cwd=home, check=True,
                   capture_output=True)
    port = url.rsplit(":", 1)[1]
    server = subprocess.Popen([bin_dir / "wayback", "--bind", "127.0.0.1", "--port", port],
                              cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/pd/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    errors = server.stderr.read() if server.stderr else b""
                    pytest.fail(f"pywb did not start: {errors!r}")
                time.sleep(0.3)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def replay(at: str, page: str) -> bytes:
            with opener.open(f"{url}/pd/{at}id_/{page}", timeout=10) as response:
                assert response.status == 200
                return bytes(response.read())

        first = rows(changed_db, "SELECT fetched_at FROM captures WHERE url = ? ORDER BY id",
                     (CHANGED,))
        stamp = first[0][0][:19].replace("-", "").replace("T", "").replace(":", "")
        assert replay(stamp, CHANGED) == CHANGED_FILE.read_bytes()
        assert NEW_TITLE.encode() in replay("2999", CHANGED)
        assert replay("2999", MULTI[2]) == (
            SITE / "js.people.com.cn/n2/2022/0701/c360300-40012345-3.html").read_bytes()
        # the article's picture, as the crawl fetched it
        assert replay("2999", PICTURE) == (
            SITE / "js.people.com.cn/NMediaFile/2020/1019/LOCAL202010191437000377591588813.jpg"
        ).read_bytes()
    finally:
        server.terminate()
        server.wait(timeout=30)


# -- 4. WARCs in ----------------------------------------------------------------

def test_export_import_export_gives_the_same_archive(changed_db: Path, tmp_path: Path
                                                     ) -> None:
    exported = tmp_path / "first.warc.gz"
    pdarchive("export", "--db", changed_db, "--format", "warc", "-o", exported, check=True)
    db = tmp_path / "imported.db"
    result = pdarchive("import", "--db", db, exported)
    assert result.returncode == 0, result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith("imported ") and f"{len(EXPECTED)} new articles" in summary
    assert "1 updated" in summary and "request records" in summary
    again = tmp_path / "second.warc.gz"
    pdarchive("export", "--db", db, "--format", "warc", "-o", again, check=True)
    assert records(again) == records(exported)
    # field for field, the times too (the export says when each version was stored)
    assert export_jsonl(db, "--versions") == export_jsonl(changed_db, "--versions")
    assert [v["record"]["title"] for v in history(db, "34401096")] == [OLD_TITLE, NEW_TITLE]
    # a second import of the same file changes nothing
    before = rows(db, "SELECT count(*) FROM captures")
    repeat = pdarchive("import", "--db", db, exported, check=True)
    assert f"{len(EXPECTED)} unchanged" in repeat.stderr, repeat.stderr
    assert rows(db, "SELECT count(*) FROM captures") == before


def _response(writer: WARCWriter, url: str, body: bytes, *, status: str = "200 OK",
              content_type: str = "text/html", date: str = "2024-05-01T08:00:00Z",
              gzip_body: bool = False, chunked: bool = False) -> None:
    headers = [("Content-Type", content_type), ("Server", "nginx")]
    if gzip_body:
        body = gzip.compress(body)
        headers.append(("Content-Encoding", "gzip"))
    if chunked:
        middle = len(body) // 2
        body = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                        for part in (body[:middle], body[middle:])) + b"0\r\n\r\n"
        headers.append(("Transfer-Encoding", "chunked"))
    else:
        headers.append(("Content-Length", str(len(body))))
    writer.write_record(writer.create_warc_record(
        url, "response", payload=io.BytesIO(body), length=len(body),
        http_headers=StatusAndHeaders(status, headers, protocol="HTTP/1.1"),
        warc_headers_dict={"WARC-Date": date}))


def test_a_warc_of_another_tool_is_read_through_the_crawl_path(tmp_path: Path) -> None:
    """As wget --warc-file or Heritrix write them: WARC/1.0, gzip-encoded and chunked
    bodies, a request record, robots.txt, a 404, a picture, a page of another site, a
    multi-page article whole and another missing a page."""
    warc = tmp_path / "other.warc.gz"
    by_url = {record["url"]: record for record in EXPECTED}
    with warc.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True, warc_version="1.0")
        writer.write_record(writer.create_warcinfo_record("other.warc.gz",
                                                          {"software": "Wget/1.21"}))
        for url in [CHANGED, "http://js.people.com.cn/n2/2020/1019/c360300-34359164.html"]:
            _response(writer, url, (SITE / url.split("://", 1)[1]).read_bytes(),
                      gzip_body=True)
        for url in MULTI:
            _response(writer, url, (SITE / url.split("://", 1)[1]).read_bytes(),
                      chunked=url == MULTI[1])
        _response(writer, "http://js.people.com.cn/n2/2023/0315/c360300-40567890-2.html",
                  (SITE / "js.people.com.cn/n2/2023/0315/c360300-40567890.html").read_bytes())
        _response(writer, "http://js.people.com.cn/GB/360300/index.html",
                  (SITE / "js.people.com.cn/GB/360300/index.html").read_bytes())
        _response(writer, "http://js.people.com.cn/robots.txt", b"User-agent: *\n",
                  content_type="text/plain")
        _response(writer, "http://js.people.com.cn/n2/2021/0301/c360300-34600999.html",
                  b"<html>gone</html>", status="404 Not Found")
        _response(writer, PICTURE, b"\xff\xd8\xff\xe0 a picture", content_type="image/jpeg")
        _response(writer, "http://www.example.com/", b"<html></html>")
        writer.write_record(writer.create_warc_record(
            CHANGED, "request", payload=io.BytesIO(b""), length=0,
            http_headers=StatusAndHeaders("GET /n2/2021/0908/c360300-34401096.html HTTP/1.1",
                                          [("Host", "js.people.com.cn")],
                                          is_http_request=True)))
    db = tmp_path / "archive.db"
    result = pdarchive("import", "--db", db, warc)
    assert result.returncode == 0, result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith("imported 13 records: 3 new articles, 0 updated, 0 unchanged, "
                              "1 not stored (pages missing), 1 list pages, 1 pictures; "
                              "5 skipped"), summary
    assert "1 HTTP 404" in summary and "2 not of the site's" in summary, summary
    got = {record["article_id"]: record for record in export_jsonl(db)}
    assert set(got) == {"34401096", SEED, "40012345"}
    for record in got.values():
        want = by_url[record["url"]]
        assert {key: record[key] for key in want} == want
        assert record["fetched_at"] == "2024-05-01T08:00:00+00:00"
    assert got["40012345"]["pages"] == MULTI
    stored = rows(db, "SELECT headers, size FROM captures WHERE url = ?", (CHANGED,))[0]
    assert "Content-Encoding" not in json.loads(stored[0])
    assert stored[1] == CHANGED_FILE.stat().st_size, "the body decoded, as a crawl stores it"
    assert rows(db, "SELECT kind, article_id FROM captures WHERE url = ?", (PICTURE,)) == [
        ("picture", SEED)], "the picture is the capture of the article showing it"
    # and goes out with its article, as any capture does
    out = tmp_path / "seed.warc.gz"
    pdarchive("export", "--db", db, "--format", "warc", "--since", "2020-10-19", "--until",
              "2020-10-19", "-o", out, check=True)
    exported = {dict(warc)["WARC-Target-URI"]: body for kind, warc, _, body in records(out)
                if kind == "response"}
    assert exported == {
        "http://js.people.com.cn/n2/2020/1019/c360300-34359164.html":
            (SITE / "js.people.com.cn/n2/2020/1019/c360300-34359164.html").read_bytes(),
        PICTURE: b"\xff\xd8\xff\xe0 a picture"}
    assert rows(db, "SELECT size FROM captures WHERE url = ?", (MULTI[1],)) == [
        ((SITE / MULTI[1].split("://", 1)[1]).stat().st_size,)], "dechunked"
    assert pdarchive("import", "--db", db, tmp_path / "missing.warc").returncode == 2
    garbage = tmp_path / "garbage.warc"
    garbage.write_bytes(b"not a warc at all\n" * 10)
    refused = pdarchive("import", "--db", db, garbage)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
