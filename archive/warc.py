"""The archive's captures as WARC/1.1 (and WACZ), and WARCs of any tool read back in.

Export: a ``warcinfo`` record, then for every stored capture (article pages and any
other capture of the matching articles: pictures; with no filter, list pages too) a
``response`` record with the status line, headers and body the crawl received and
its fetch time as ``WARC-Date``, and the ``request`` record that asked for it
(``WARC-Concurrent-To``); after each article's captures, a ``metadata`` record per
version (JSON, ``VERSION_PROFILE``: the captures it was read from, when it was
stored), under a ``urn:`` URI so that replay tools never serve it for the page.
Payload digests are SHA-256, the digest the archive keys bodies by, and each body
is checked against it (a damaged copy is left out and named); record ids are derived
from the capture, so the same archive gives the same records. Captures are read one
at a time: memory stays flat.

The headers are those the crawler handed on, after Scrapy decoded the body
(``Content-Encoding`` gone, chunks joined): ``Content-Length`` is set to the body
stored, ``Transfer-Encoding`` dropped, so that a replay tool serves the body as it
is.

Import: every ``response`` record of a WARC (Heritrix, Browsertrix, wget
``--warc-file``, our own export) is staged in a temporary SQLite file, then the
site's article pages go through the crawl's parser and write path
(``parse_document``, ``merge_pages``/``combine_editions``, ``Archive.save_article``)
article by article, oldest capture first, list pages are kept as list pages and
pictures as captures; anything else is counted and skipped. An article's captures
are replayed in *rounds*: our export's version records say which captures made each
version and when it was stored; without them (another tool's WARC) a round is one
crawl, ending when a URL comes again or more than ``ROUND_GAP`` after it began. Each
round whose pages make the article whole is stored as the crawl stored it (a version
when the text changed). A round of nothing but captures the archive already held is
not stored again, so importing a file twice changes nothing.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http
import json
import os
import sqlite3
import tempfile
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from io import BytesIO
from itertools import groupby
from pathlib import Path
from typing import IO, Any

from . import fulltext
from .filters import Filters
from .group_commit import BATCH_SIZE
from .record import IncompleteArticle, combine_editions, merge_pages
from .search import compile_query
from .store import Archive, FetchedPage, RunCounts, _header
from .topics import Topic, score_all

#: an article's captures more than this apart belong to different crawls
ROUND_GAP = timedelta(hours=1)
#: headers that describe the transfer, not the body as stored
TRANSFER_HEADERS = frozenset({"content-length", "transfer-encoding", "content-encoding"})
PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".svg")
NO_FILTERS = Filters()
#: the ``profile`` of the JSON in our ``metadata`` records: an article version's captures
VERSION_PROFILE = "https://github.com/pdarchive/pdarchive/warc/article-version/1"
_NAMESPACE = uuid.UUID("6f1d8a52-4c1e-4a8e-9d3c-7c1b4e0f2a15")


# -- export ---------------------------------------------------------------------

def _article_clauses(filters: Filters, query: str | None) -> tuple[list[str], list[Any]]:
    """The SQL conditions (on articles as ``a``) that pick the articles to export."""
    clauses, params = filters.clauses("a")
    if query is not None:
        clauses.append(f"a.rowid IN (SELECT rowid FROM {fulltext.TABLE} "
                       f"WHERE {fulltext.TABLE} MATCH ?)")
        params.append(compile_query(query))
    return clauses, params


def _captures_sql(filters: Filters, query: str | None) -> tuple[str, list[Any]]:
    """The captures to export, grouped by article (in publication order), each
    article's oldest first (its pictures after its pages of the same time); with no
    filter, the captures of no article after them."""
    clauses, params = _article_clauses(filters, query)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    columns = ("c.id, c.url, c.kind, c.article_id, c.status, c.headers, c.sha256, c.size, "
               "c.fetched_at, b.body")
    sql = (f"SELECT {columns} FROM articles AS a JOIN captures AS c "
           f"ON c.article_id = a.article_id LEFT JOIN blobs AS b ON b.sha256 = c.sha256"
           f"{where} ORDER BY a.published_at, a.article_id, c.fetched_at, "
           # a crawl fetches an article's pictures after its pages, often in the same
           # second; an import stores them first: the same order either way
           "c.kind = 'picture', c.id")
    if not clauses:
        sql = (f"SELECT * FROM ({sql}) UNION ALL SELECT * FROM (SELECT {columns} "
               "FROM captures AS c LEFT JOIN blobs AS b ON b.sha256 = c.sha256 "
               "WHERE c.article_id IS NULL OR c.article_id NOT IN "
               "(SELECT article_id FROM articles) ORDER BY c.fetched_at, c.id)")
    return sql, params


def iter_captures(archive: Archive, filters: Filters = NO_FILTERS,
                  query: str | None = None) -> Iterator[dict[str, Any]]:
    """The captures of the matching articles (see ``_captures_sql``), each with its
    body inflated and checked against its digest, one in memory at a time; a body
    missing or damaged comes as None, with ``damage`` saying why."""
    sql, params = _captures_sql(filters, query)
    return archive.capture_rows(sql, params)


def warc_date(iso: str | None) -> str:
    """``2020-10-19T06:37:00+00:00`` → ``2020-10-19T06:37:00Z`` (WARC-Date, UTC)."""
    if not iso:
        return "1970-01-01T00:00:00Z"
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def iso_from_warc_date(value: str) -> str:
    """``2020-10-19T06:37:00Z`` → ``2020-10-19T06:37:00+00:00`` (the archive's times)."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(
        timespec="microseconds" if moment.microsecond else "seconds")


def _record_id(kind: str, capture: dict[str, Any]) -> str:
    name = f"{kind} {capture['url']} {capture['fetched_at']} {capture['sha256']}"
    return f"<urn:uuid:{uuid.uuid5(_NAMESPACE, name)}>"


def _status_line(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


@dataclass
class ExportResult:
    articles: int = 0
    captures: int = 0
    #: captures left out: their stored body is missing or damaged
    damaged: list[str] = field(default_factory=list)


class WarcExport:
    """Writes captures as WARC/1.1 records to ``out`` (gzip per record)."""

    def __init__(self, out: IO[bytes], *, gzip: bool = True) -> None:
        from warcio.utils import Digester
        from warcio.warcwriter import WARCWriter

        class _Writer(WARCWriter):  # type: ignore[misc]
            # SHA-256 block digests, as the payload digests (the archive's own)
            @staticmethod
            def _create_digester() -> Digester:
                return Digester("sha256")

        self.writer = _Writer(out, gzip=gzip, warc_version="1.1")

    def warcinfo(self, filename: str, description: str) -> None:
        from importlib.metadata import version

        record = self.writer.create_warcinfo_record(filename, {
            "software": f"pdarchive {version('pdarchive')} (warcio {version('warcio')})",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
                          "warc-format/warc-1.1/",
            "description": description,
        })
        self.writer.write_record(record)

    def capture(self, capture: dict[str, Any]) -> None:
        from warcio.statusandheaders import StatusAndHeaders

        body: bytes = capture["body"]
        url: str = capture["url"]
        headers = [(name, value) for name, value in capture["headers"].items()
                   if name.lower() not in TRANSFER_HEADERS]
        headers.append(("Content-Length", str(len(body))))
        date = warc_date(capture["fetched_at"])
        payload_digest = "sha256:" + base64.b32encode(
            bytes.fromhex(capture["sha256"])).decode("ascii")
        response_id = _record_id("response", capture)
        response = self.writer.create_warc_record(
            url, "response", payload=BytesIO(body), length=len(body),
            http_headers=StatusAndHeaders(_status_line(int(capture["status"] or 200)),
                                          headers, protocol="HTTP/1.1"),
            warc_headers_dict={"WARC-Date": date, "WARC-Record-ID": response_id,
                               "WARC-Payload-Digest": payload_digest})
        self.writer.write_record(response)
        target = url.split("://", 1)[-1]
        host, _, path = target.partition("/")
        request = self.writer.create_warc_record(
            url, "request", payload=BytesIO(b""), length=0,
            http_headers=StatusAndHeaders(f"GET /{path} HTTP/1.1", [("Host", host)],
                                          is_http_request=True),
            warc_headers_dict={"WARC-Date": date,
                               "WARC-Record-ID": _record_id("request", capture),
                               "WARC-Concurrent-To": response_id})
        self.writer.write_record(request)


    def versions(self, archive: Archive, article_id: str) -> None:
        """One ``metadata`` record per version of the article: which captures it was
        read from (``VERSION_PROFILE``), so that an import rebuilds the same versions."""
        rows = archive.conn.execute(
            "SELECT v.version, c.url, c.sha256, c.fetched_at FROM version_captures AS v "
            "JOIN captures AS c ON c.id = v.capture_id WHERE v.article_id = ? AND "
            "c.sha256 IS NOT NULL ORDER BY v.version, c.fetched_at, c.id", [article_id])
        stored = _stored_times(archive, article_id)
        for version, captures in groupby(rows, key=lambda row: row[0]):
            listed = [{"url": url, "sha256": sha256, "date": warc_date(fetched_at),
                       "record": _record_id("response", {
                           "url": url, "fetched_at": fetched_at, "sha256": sha256})}
                      for _, url, sha256, fetched_at in captures]
            body = json.dumps({"profile": VERSION_PROFILE, "article_id": article_id,
                               "version": version, "stored_at": stored.get(version),
                               "captures": listed},
                              ensure_ascii=False).encode("utf-8")
            when = max(capture["date"] for capture in listed)
            # not the page's URL: a replay tool would serve this record in the page's place
            record = self.writer.create_warc_record(
                f"urn:pdarchive:article-version:{article_id}:{version}", "metadata",
                payload=BytesIO(body), length=len(body),
                warc_content_type="application/json",
                warc_headers_dict={
                    "WARC-Date": when,
                    "WARC-Record-ID": _record_id("metadata", {
                        "url": article_id, "fetched_at": version, "sha256": "version"}),
                    "WARC-Refers-To": listed[-1]["record"]})
            self.writer.write_record(record)


def _stored_times(archive: Archive, article_id: str) -> dict[int, str]:
    """version → when the archive stored it: the first when the article was first
    seen, each later one when it replaced the one before."""
    row = archive.conn.execute("SELECT version, first_seen_at FROM articles "
                               "WHERE article_id = ?", [article_id]).fetchone()
    if row is None:
        return {}
    times = {1: row[1]}
    for version, replaced_at in archive.conn.execute(
            "SELECT version, replaced_at FROM article_versions WHERE article_id = ?",
            [article_id]):
        times[int(version) + 1] = replaced_at
    return times


def write_warc(archive: Archive, out: IO[bytes], filters: Filters = NO_FILTERS,
               query: str | None = None, filename: str = "") -> ExportResult:
    """Every matching capture into ``out`` as WARC/1.1 (compiling ``query`` raises
    QueryError before anything is written)."""
    _captures_sql(filters, query)  # a query with nothing to search for fails here
    export = WarcExport(out)
    export.warcinfo(filename, f"pdarchive export of {archive.path.name}")
    result = ExportResult()
    article: str | None = None
    for capture in iter_captures(archive, filters, query):
        if capture["article_id"] != article:
            if article is not None:
                export.versions(archive, article)
            article = capture["article_id"]
        if capture["body"] is None:
            result.damaged.append(f"{capture['url']}: {capture['damage']}")
            continue
        export.capture(capture)
        result.captures += 1
    if article is not None:
        export.versions(archive, article)
    result.articles = _article_count(archive, filters, query)
    return result


def _article_count(archive: Archive, filters: Filters, query: str | None) -> int:
    clauses, params = _article_clauses(filters, query)
    where = (" AND " + " AND ".join(clauses)) if clauses else ""
    return int(archive.conn.execute(
        "SELECT count(*) FROM articles AS a WHERE EXISTS (SELECT 1 FROM captures AS c "
        f"WHERE c.article_id = a.article_id){where}", params).fetchone()[0])


def write_wacz(archive: Archive, out: Path, filters: Filters = NO_FILTERS,
               query: str | None = None) -> ExportResult:
    """A WACZ package (WACZ 1.1.1, made by the ``wacz`` package) of the WARC export
    at ``out``: the WARC, its CDXJ index, ``pages.jsonl`` with one entry per article
    (its first page, publication title) and ``datapackage.json``."""
    from wacz.main import main as wacz_main

    with tempfile.TemporaryDirectory(prefix="pdarchive-wacz-") as directory:
        warc = Path(directory) / "data.warc.gz"
        with warc.open("wb") as stream:
            result = write_warc(archive, stream, filters, query, filename=warc.name)
        pages = Path(directory) / "pages.jsonl"
        with pages.open("w", encoding="utf-8") as stream:
            stream.write(json.dumps({"format": "json-pages-1.0", "id": "pages",
                                     "title": "All Pages"}) + "\n")
            for row in _article_pages(archive, filters, query):
                stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        code = wacz_main(["create", "-o", str(out), str(warc), "--pages", str(pages),
                          "--hash-type", "sha256", "--title",
                          f"pdarchive: {archive.path.name}"])
        if code:
            raise RuntimeError(f"wacz create exited {code}")
    return result


def _article_pages(archive: Archive, filters: Filters, query: str | None
                   ) -> Iterator[dict[str, Any]]:
    clauses, params = filters.clauses("a")
    if query is not None:
        clauses.append(f"a.rowid IN (SELECT rowid FROM {fulltext.TABLE} "
                       f"WHERE {fulltext.TABLE} MATCH ?)")
        params.append(compile_query(query))
    where = (" AND " + " AND ".join(clauses)) if clauses else ""
    cursor = archive.conn.execute(
        "SELECT a.article_id, a.url, a.title, (SELECT min(c.fetched_at) FROM captures AS c "
        "WHERE c.url = a.url AND c.sha256 IS NOT NULL) FROM articles AS a "
        f"WHERE EXISTS (SELECT 1 FROM captures AS c WHERE c.url = a.url){where} "
        "ORDER BY a.published_at, a.article_id", params)
    for article_id, url, title, fetched_at in cursor:
        yield {"id": article_id, "url": url, "title": title, "ts": warc_date(fetched_at)}


# -- import ---------------------------------------------------------------------

@dataclass
class ImportResult:
    records: int = 0
    articles: RunCounts = field(default_factory=RunCounts)
    list_pages: int = 0
    pictures: int = 0
    #: why records were skipped → how many
    skipped: dict[str, int] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def summary(self) -> str:
        counts = self.articles
        skipped = sum(self.skipped.values())
        reasons = ", ".join(f"{count} {why}" for why, count in sorted(self.skipped.items()))
        return (f"imported {self.records} records: {counts.new} new articles, "
                f"{counts.updated} updated, {counts.unchanged} unchanged, "
                f"{counts.failed} not stored (pages missing), {self.list_pages} list pages, "
                f"{self.pictures} pictures; {skipped} skipped"
                + (f" ({reasons})" if reasons else ""))


class NotAWarc(ValueError):
    """The file given to ``pdarchive import`` is no WARC."""


_STAGE = ("CREATE TABLE staged (seq INTEGER PRIMARY KEY, kind TEXT, url TEXT, "
          "article_id TEXT, edition TEXT, page INTEGER, fetched_at TEXT, status INTEGER, "
          "headers TEXT, sha256 TEXT, body BLOB)",
          "CREATE TABLE versions (article_id TEXT, version INTEGER, stored_at TEXT, "
          "captures TEXT)")


def _kind(url: str, host: str, content_type: str) -> tuple[str, Any] | None:
    from crawler.parse.urls import parse_article_url, parse_list_url

    article = parse_article_url(url)
    if article is not None and article.host == host:
        return "article", article
    listed = parse_list_url(url)
    if listed is not None and url.split("://", 1)[-1].split("/", 1)[0].lower() == host:
        return "list", listed
    path = url.split("?", 1)[0].lower()
    if content_type.lower().startswith("image/") or path.endswith(PICTURE_SUFFIXES):
        return "picture", None
    return None


def _stage(path: Path, stage: sqlite3.Connection, host: str, result: ImportResult) -> None:
    """Every response record of the WARC at ``path`` that the archive takes, into
    ``stage`` (bodies decoded, compressed); the others counted as skipped."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    with path.open("rb") as stream:
        start = stream.read(2)
        stream.seek(0)
        try:
            head = (gzip.GzipFile(fileobj=stream).read(5) if start == b"\x1f\x8b"
                    else stream.read(5))
        except (OSError, EOFError) as error:
            raise NotAWarc(f"{path} is not a WARC file: {error}") from error
        if head != b"WARC/":
            raise NotAWarc(f"{path} is not a WARC file (it does not begin with a WARC "
                             "record)")
        stream.seek(0)
        try:
            for record in ArchiveIterator(stream):
                result.records += 1
                if record.rec_type == "metadata" and _stage_version(record, stage):
                    continue
                if record.rec_type != "response":
                    result.skip(f"{record.rec_type} records")
                    continue
                url = (record.rec_headers.get_header("WARC-Target-URI") or "").strip("<> ")
                if not url.startswith(("http://", "https://")) or record.http_headers is None:
                    result.skip("not HTTP")
                    continue
                status = int(record.http_headers.get_statuscode() or 0)
                headers: dict[str, str] = {}
                for name, value in record.http_headers.headers:
                    if name.lower() in TRANSFER_HEADERS:
                        continue
                    headers[name] = f"{headers[name]}, {value}" if name in headers else value
                found = _kind(url, host, _header(headers, "Content-Type") or "")
                if found is None:
                    result.skip("not of the site's articles, lists or pictures")
                    continue
                if status != 200:
                    result.skip(f"HTTP {status}")
                    continue
                kind, parsed = found
                body = record.content_stream().read()
                headers["Content-Length"] = str(len(body))
                fetched_at = iso_from_warc_date(record.rec_headers.get_header("WARC-Date"))
                stage.execute(
                    "INSERT INTO staged (kind, url, article_id, edition, page, fetched_at, "
                    "status, headers, sha256, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [kind, url, parsed.article_id if kind == "article" else None,
                     parsed.edition if kind == "article" else None,
                     parsed.page if kind == "article" else None, fetched_at, status,
                     json.dumps(headers, ensure_ascii=False), hashlib.sha256(body).hexdigest(),
                     zlib.compress(body, 1)])
        except ArchiveLoadFailed as error:
            raise NotAWarc(f"{path} is not a WARC file: {error}") from error


def _stage_version(record: Any, stage: sqlite3.Connection) -> bool:
    """Stage a ``metadata`` record of our export that lists a version's captures."""
    content_type = record.rec_headers.get_header("Content-Type") or ""
    if "json" not in content_type:
        return False
    try:
        data = json.loads(record.content_stream().read())
    except ValueError:
        return False
    if not isinstance(data, dict) or data.get("profile") != VERSION_PROFILE:
        return False
    stage.execute("INSERT INTO versions (article_id, version, stored_at, captures) "
                  "VALUES (?, ?, ?, ?)",
                  [str(data["article_id"]), int(data["version"]), data.get("stored_at"),
                   json.dumps(data["captures"])])
    return True


def _rounds(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """An article's captures (oldest first) cut into one round per crawl."""
    current: list[dict[str, Any]] = []
    urls: set[str] = set()
    started: datetime | None = None
    versioned = any("version" in row for row in rows)
    for row in rows:
        moment = datetime.fromisoformat(row["fetched_at"])
        if versioned:
            cut = row["version_start"] or row["url"] in urls
        else:
            cut = row["url"] in urls or started is None or moment - started > ROUND_GAP
        if current and cut:
            yield current
            current, urls = [], set()
        if not current:
            started = moment
        current.append(row)
        urls.add(row["url"])
    if current:
        yield current


def import_warc(archive: Archive, path: Path, topics: Sequence[Topic] = (), *,
                site_host: str = "js.people.com.cn",
                on_progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Read the WARC at ``path`` into ``archive`` (see the module's doc); recorded as
    a run. sqlite3 errors of the archive propagate."""
    from crawler.parse import ParseRefused, parse_document

    result = ImportResult()
    run_id = archive.start_run({"import": str(path)}, columns=[])
    fd, staging = tempfile.mkstemp(prefix="pdarchive-import-", suffix=".db")
    os.close(fd)
    stage = sqlite3.connect(staging, isolation_level=None)
    status = "failed"
    try:
        stage.execute("PRAGMA journal_mode = OFF")
        stage.execute("PRAGMA synchronous = OFF")
        for statement in _STAGE:
            stage.execute(statement)
        stage.execute("BEGIN")
        _stage(path, stage, site_host.lower(), result)
        stage.execute("COMMIT")
        stage.execute("CREATE INDEX staged_order ON staged (kind, article_id, fetched_at, seq)")

        def rows(kind: str) -> Iterator[dict[str, Any]]:
            cursor = stage.execute(
                "SELECT seq, url, article_id, edition, page, fetched_at, status, headers, sha256, "
                "body "
                "FROM staged WHERE kind = ? ORDER BY article_id, fetched_at, seq", [kind])
            names = [description[0] for description in cursor.description]
            for values in cursor:
                row = dict(zip(names, values, strict=True))
                row["headers"] = json.loads(row["headers"])
                row["body"] = zlib.decompress(row["body"])
                yield row

        for kind in ("list", "picture"):
            for row in rows(kind):
                if archive.save_capture(FetchedPage(
                        url=row["url"], status=row["status"], headers=row["headers"],
                        body=row["body"], fetched_at=row["fetched_at"], kind=kind), run_id):
                    if kind == "list":
                        result.list_pages += 1
                    else:
                        result.pictures += 1
                else:
                    result.skip("captures already held")
        total = int(stage.execute("SELECT count(DISTINCT article_id) FROM staged "
                                  "WHERE kind = 'article'").fetchone()[0])
        articles = groupby(rows("article"), key=lambda row: row["article_id"])
        # Committed in groups (the full-text index written once a group, not once an
        # article: Archive.begin_batch); a failure loses the open group only, which
        # importing the same WARC again brings in.
        archive.begin_batch()
        try:
            for done, (article_id, article_rows) in enumerate(articles, 1):
                captures = list(article_rows)
                listed = [(json.loads(row[0]), row[1]) for row in stage.execute(
                    "SELECT captures, stored_at FROM versions WHERE article_id = ? "
                    "ORDER BY version", [article_id])]
                _import_article(archive, article_id,
                                _by_version(captures, listed) or captures,
                                topics, run_id, result, parse_document, ParseRefused)
                if done % BATCH_SIZE == 0:
                    archive.commit_batch()
                    archive.begin_batch()
                if on_progress is not None:
                    on_progress(done, total)
            archive.commit_batch()
        except BaseException:
            archive.rollback_batch()
            raise
        status = "finished"
    finally:
        stage.close()
        Path(staging).unlink(missing_ok=True)
        archive.finish_run(run_id, result.articles, status)
    return result


def _by_version(captures: list[dict[str, Any]],
                versions: list[tuple[list[dict[str, Any]], str | None]]
                ) -> list[dict[str, Any]] | None:
    """An article's captures in the order its versions (our export's ``metadata``
    records: the captures of each, and when it was stored) used them, the first of
    each version's marked ``version_start`` and each with the version's
    ``stored_at``; None when there are no such records or a listed capture is
    missing (then rounds decide)."""
    if not versions:
        return None
    found = {(row["url"], row["sha256"]): row for row in captures}
    ordered: list[dict[str, Any]] = []
    for number, (listed, stored_at) in enumerate(versions):
        for position, capture in enumerate(listed):
            row = found.get((capture["url"], capture["sha256"]))
            if row is None:
                return None
            ordered.append(dict(row, version_start=position == 0, version=number,
                                stored_at=stored_at))
    return ordered


def _import_article(archive: Archive, article_id: str, captures: list[dict[str, Any]],
                    topics: Sequence[Topic], run_id: int, result: ImportResult,
                    parse_document: Any, refused_type: type[Exception]) -> None:
    """Replay one article's captures round by round through the crawl's write path."""
    #: URL → its latest page, its parse, and where it stood in the WARC
    state: dict[str, tuple[FetchedPage, dict[str, Any], int]] = {}
    pending = stored = False
    #: captures the archive held before: rounds of nothing else were imported before
    known = {(row["url"], row["sha256"]) for row in captures
             if archive.holds_capture(row["url"], row["sha256"])}
    for round_rows in _rounds(captures):
        if round_rows[0].get("version_start"):
            state = {}  # a version is exactly the captures it lists
        for row in round_rows:
            content_type = _header(row["headers"], "Content-Type")
            try:
                parsed = parse_document(row["body"], row["url"], content_type)
            except refused_type as refusal:
                result.refused.append(f"{row['url']}: {refusal}")
                result.skip("pages the parser refused")
                continue
            if parsed.record["article_id"] != article_id:
                result.skip("pages naming another article")
                continue
            state[row["url"]] = (FetchedPage(
                url=row["url"], status=row["status"], headers=row["headers"],
                body=row["body"], fetched_at=row["fetched_at"], article_id=article_id,
                edition=row["edition"], page=row["page"], encoding=parsed.encoding,
                extractor=parsed.extractor), parsed.record, row["seq"])
            pending = True
        if not pending:
            continue
        editions: dict[str, list[dict[str, Any]]] = {}
        for fetched, record, _ in state.values():
            editions.setdefault(fetched.edition or "gb", []).append(record)
        try:
            article = combine_editions({name: merge_pages(pages)
                                        for name, pages in sorted(editions.items())})
        except IncompleteArticle:
            continue  # a later round may bring the missing pages
        pending = False
        if all((row["url"], row["sha256"]) in known for row in round_rows):
            continue  # imported before: storing it again would make it a new version
        # in the order they were fetched, as the crawl stored them
        pages = [fetched for fetched, _, _ in sorted(
            state.values(), key=lambda held: (held[0].fetched_at, held[2]))]
        # when the exporting archive stored this version, else when it was fetched
        at = round_rows[0].get("stored_at") or max(row["fetched_at"] for row in round_rows)
        outcome = archive.save_article(article, pages, run_id, score_all(topics, article),
                                       at=at)
        setattr(result.articles, outcome, getattr(result.articles, outcome) + 1)
        stored = True
        # the article's pictures, imported before it, are its captures
        for image in article.get("images") or []:
            archive.claim_picture(str(image.get("src") or ""), article_id)
    if pending:
        result.articles.failed += 1  # pages missing from the WARC
    elif not stored:
        result.articles.unchanged += 1  # every capture of it was in the archive
