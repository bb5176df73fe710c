"""The archive: one SQLite file, written through sqlite-utils.

Tables: ``articles`` (one row per article id, both editions), ``article_versions``
(earlier text of changed articles), ``pages`` (every fetched URL with its raw body,
zlib-compressed, so ``reparse`` needs no network), ``failures`` (open failures per
URL, with retry backoff), ``runs`` (what each crawl did, and which columns it
walked to the end: where the next incremental crawl may stop early), and the
search index ``articles_fts`` with ``search_text`` (see fulltext.py; an article's
rowid follows its publication time).

WAL mode lets readers (search, ``serve``) work while a crawl writes; each article
is written with its pages and its index row in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import urllib.parse
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import sqlite_utils

from . import fulltext
from .record import content_hash
from .topics import TopicScore

SCHEMA_VERSION = 3
JSON_COLUMNS = ("editors", "authors", "photographers", "body", "images", "pages", "editions",
                "big5", "headers", "args", "gb", "columns", "complete_columns")
#: failed URLs are retried after 1 h, 2 h, 4 h, … up to a week (unless the crawl
#: configuration says otherwise: failure_retry_after, failure_retry_max)
RETRY_BASE = timedelta(hours=1)
RETRY_MAX = timedelta(days=7)


class ArchiveError(Exception):
    """The archive file cannot be used (missing, corrupt, not an archive, read-only)."""


def storage_problem(error: sqlite3.Error, path: str | Path) -> str:
    """A one-line explanation of a failed write for the user, naming the likely cause."""
    text = str(error)
    lowered = text.lower()
    if "full" in lowered:
        cause = "the disk is full"
    elif "readonly" in lowered or "read-only" in lowered:
        cause = "the archive is read-only"
    elif "malformed" in lowered or "not a database" in lowered:
        cause = "the archive file is damaged"
    elif "i/o" in lowered:
        cause = "the disk reported an I/O error"
    else:
        cause = "the archive could not be written"
    return f"{cause} ({path}: {text})"


def _denied_directory(path: Path) -> Path | None:
    """The first directory on the way to ``path`` this user may not enter."""
    for directory in reversed(Path(os.path.abspath(path)).parents):
        if not os.access(directory, os.X_OK):
            return directory
    return None


def unopenable(path: Path, error: sqlite3.Error | None = None) -> str | None:
    """Why the archive at ``path`` cannot be opened, said plainly (a missing file, a
    directory this user may not enter or write, a file it may not read), or None when
    nothing but SQLite's own ``error`` (if any) explains it."""
    directory = Path(os.path.abspath(path)).parent
    try:
        mode: int | None = os.stat(path).st_mode
    except FileNotFoundError:
        if not directory.is_dir():
            return f"no archive at {path}: there is no directory {directory}"
        if error is None:
            return f"no archive at {path}"
        mode = None  # to be created: the directory's permissions decide
    except PermissionError:
        denied = _denied_directory(path) or directory
        return f"cannot open {path}: permission denied on the directory {denied}"
    except NotADirectoryError:
        return f"no archive at {path}: {path.parent} is not a directory"
    except OSError as failure:
        return f"cannot open {path}: {failure.strerror}"
    if mode is not None and stat.S_ISDIR(mode):
        return f"{path} is a directory, not an archive file"
    if mode is not None and not os.access(path, os.R_OK):
        return f"cannot open {path}: permission denied (this user may not read the file)"
    if error is None or "unable to open" not in str(error):
        return None
    if mode is None or not os.access(directory, os.W_OK):
        what = "create the archive" if mode is None else "create its -wal and -shm files"
        problem = ("the filesystem is read-only" if _read_only_filesystem(directory)
                   else "permission denied")
        return f"cannot open {path}: cannot {what} in {directory}: {problem}"
    for side in (f"{path}-wal", f"{path}-shm"):
        if os.path.exists(side) and not os.access(side, os.R_OK | os.W_OK):
            return f"cannot open {path}: permission denied on {side}"
    return None


def _read_only_filesystem(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def readonly_uri(path: Path) -> str:
    """The SQLite URI that reads the archive at ``path`` and writes nothing.

    ``mode=ro``, but a WAL database needs its ``-shm`` index even to be read, and
    SQLite creates it (and an empty ``-wal``) beside the file when they are missing:
    where the directory cannot be written (a read-only filesystem, another user's
    directory) it cannot, and the open fails. There, with no ``-shm`` left by a
    writer at work, the file is opened ``immutable=1``: no side files and no locks,
    SQLite's way to read a database on read-only media. That is only right if the
    ``-wal`` holds nothing the file lacks, so a non-empty one is refused with the way
    out. (A writer, which needs the directory, would leave a ``-shm`` beside the file,
    which SQLite reads read-only: then plain ``mode=ro`` works and sees its commits.)
    """
    absolute = os.path.abspath(path)
    uri = f"file:{urllib.parse.quote(absolute)}?mode=ro"
    directory = os.path.dirname(absolute)
    if os.access(directory, os.W_OK) or os.path.exists(f"{absolute}-shm"):
        return uri
    wal = Path(f"{absolute}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise ArchiveError(
            f"{path} cannot be read here: its {wal.name} holds writes not yet in the file, "
            f"and {directory} cannot be written, which reading them needs; open it once "
            "where it can be written (any pdarchive command does, or `sqlite3 FILE "
            "'PRAGMA wal_checkpoint(TRUNCATE)'`)")
    return uri + "&immutable=1"


def concerns_the_row(error: BaseException) -> bool:
    """Did a write fail because of what was written (a constraint such as a title
    that is null, a value SQLite cannot store) rather than because of the archive (a
    full disk, a read-only or damaged file)? Only the latter should stop a writer."""
    return isinstance(error, (sqlite3.IntegrityError, sqlite3.DataError,
                              sqlite3.InterfaceError, sqlite3.ProgrammingError)) or (
        not isinstance(error, sqlite3.Error) and isinstance(error, Exception))


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class FetchedPage:
    """One fetched URL as the crawler saw it."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: str
    kind: str = "article"  # "article" or "list"
    article_id: str | None = None
    edition: str | None = None
    page: int | None = None
    encoding: str | None = None
    extractor: str | None = None


@dataclass
class RunCounts:
    requests: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    fallback: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def _decode_row(row: dict[str, Any]) -> dict[str, Any]:
    for column in JSON_COLUMNS:
        value = row.get(column)
        if isinstance(value, str):
            row[column] = json.loads(value)
    return row


def _migrate_1(db: sqlite_utils.Database) -> None:
    db.table("articles").create(
        {
            "article_id": str, "column_id": str, "url": str, "edition": str, "page_count": int,
            "title": str, "pretitle": str, "subtitle": str, "published_at": str,
            "source": str, "source_url": str, "editors": str, "authors": str,
            "photographers": str, "body": str, "images": str, "pages": str, "editions": str,
            "big5": str, "extractor": str, "content_hash": str, "version": int,
            "first_seen_at": str, "fetched_at": str, "updated_at": str,
        },
        pk="article_id",
        not_null={"column_id", "url", "title", "published_at", "content_hash"},
    )
    db.table("articles").create_index(["published_at"])
    db.table("articles").create_index(["column_id", "published_at"])
    db.table("article_versions").create(
        {"id": int, "article_id": str, "version": int, "content_hash": str, "record": str,
         "replaced_at": str},
        pk="id",
        foreign_keys=[("article_id", "articles", "article_id")],
    )
    db.table("article_versions").create_index(["article_id"])
    db.table("pages").create(
        {"url": str, "kind": str, "article_id": str, "edition": str, "page": int,
         "status": int, "headers": str, "content_type": str, "encoding": str,
         "extractor": str, "sha256": str, "size": int, "body": bytes, "fetched_at": str,
         "run_id": int},
        pk="url",
        foreign_keys=[("article_id", "articles", "article_id")],
    )
    db.table("pages").create_index(["article_id"])
    db.table("failures").create(
        {"url": str, "article_id": str, "column_id": str, "stage": str, "reason": str,
         "http_status": int, "attempts": int, "first_seen_at": str, "last_seen_at": str,
         "next_attempt_at": str, "run_id": int},
        pk="url",
    )
    db.table("runs").create(
        {"id": int, "started_at": str, "finished_at": str, "status": str, "args": str,
         "pid": int, "columns": str, "complete_columns": str, "requests": int, "new": int,
         "updated": int, "unchanged": int, "failed": int, "fallback": int, "message": str},
        pk="id",
    )
    fulltext.ensure_schema(db)


def _migrate_2(db: sqlite_utils.Database) -> None:
    """Topic scores (archive/topics.py): one row per article and configured topic."""
    db.execute(
        "CREATE TABLE article_topics (article_id TEXT NOT NULL REFERENCES articles(article_id), "
        "topic TEXT NOT NULL, score REAL NOT NULL, matches TEXT NOT NULL, "
        "PRIMARY KEY (article_id, topic))")
    db.execute("CREATE INDEX idx_article_topics_topic_score ON article_topics (topic, score)")


def _migrate_3(db: sqlite_utils.Database) -> None:
    """A reprint's original title (原标题), read off the page since schema 3."""
    db.execute("ALTER TABLE articles ADD COLUMN original_title TEXT NOT NULL DEFAULT ''")


MIGRATIONS = {1: _migrate_1, 2: _migrate_2, 3: _migrate_3}


class Archive:
    """The archive file. Open with ``Archive(path)``; ``create=False`` refuses to make
    a new file, ``readonly=True`` opens it read-only (no migrations)."""

    def __init__(self, path: str | Path, *, create: bool = True, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly or not create:
            missing = unopenable(self.path)
            if missing is not None:
                raise ArchiveError(missing if readonly or "no archive" not in missing else
                                   f"{missing} (run `pdarchive crawl` first)")
        try:
            if readonly:
                connection = sqlite3.connect(readonly_uri(self.path), uri=True,
                                             check_same_thread=False, isolation_level=None)
            else:
                # isolation_level=None: no implicit BEGIN; every write is an explicit
                # transaction() (sqlite-utils nests its own writes there as savepoints).
                connection = sqlite3.connect(str(self.path), check_same_thread=False,
                                             isolation_level=None)
            connection.execute("PRAGMA busy_timeout = 30000")
            self.db = sqlite_utils.Database(connection)
            if not readonly:
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
            self._check_and_migrate(readonly)
        except sqlite3.DatabaseError as error:
            raise ArchiveError(unopenable(self.path, error)
                               or f"{self.path} is not a usable archive: {error}") from error
        if not readonly:
            self._check_writable()
            self._ensure_indexes()

    def _ensure_indexes(self) -> None:
        """Indexes that serve reads only, added to any archive opened for writing
        (no schema version of their own): ``idx_articles_facets`` covers what the
        browser's search facets read of every article (archive/search.py,
        FacetCounter), a few MB instead of a pass over the whole table."""
        self.db.execute("CREATE INDEX IF NOT EXISTS idx_articles_facets "
                        "ON articles (column_id, edition, source, published_at)")

    def _check_writable(self) -> None:
        """Fail now, with a clear message, if writes will fail later.

        SQLite opens a file it may not write (another user's, a read-only mount)
        read-only without a word, and in WAL mode even takes the write lock; only a
        statement that writes fails. This one writes no row, and is rolled back.
        """
        connection = self.db.conn
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute("UPDATE runs SET id = id WHERE 0")
            finally:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
        except sqlite3.Error as error:
            self.db.conn.close()
            raise ArchiveError(f"{self.path} cannot be written: "
                               f"{storage_problem(error, self.path)}") from error

    def check_integrity(self) -> None:
        """Refuse a damaged file before writing to it (``PRAGMA quick_check``: reads
        every page, so it costs about one sequential read of the file)."""
        try:
            problems = [row[0] for row in self.db.execute("PRAGMA quick_check(3)")]
        except sqlite3.DatabaseError as error:
            problems = [str(error)]
        if problems != ["ok"]:
            found = " ".join(" ".join(problems).replace("*** in database main ***", "").split())
            raise ArchiveError(
                f"{self.path} is damaged ({found}); it was left as it is: copy what can be "
                "saved with `sqlite3 FILE .recover` and crawl into a new file")

    # -- schema -----------------------------------------------------------------

    def _check_and_migrate(self, readonly: bool) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        tables = set(self.db.table_names())
        if version == 0 and tables - {"sqlite_stat1"}:
            raise ArchiveError(f"{self.path} is a SQLite file but not a pdarchive archive")
        if version > SCHEMA_VERSION:
            raise ArchiveError(
                f"{self.path} has schema version {version}; this pdarchive knows up to "
                f"{SCHEMA_VERSION}: upgrade pdarchive"
            )
        if version == SCHEMA_VERSION:
            return
        if readonly:
            raise ArchiveError(f"{self.path} needs a schema upgrade; open it writable once")
        with self.transaction():
            for target in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[target](self.db)
                self.db.execute(f"PRAGMA user_version = {target}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write: everything inside commits together or not at all.

        Inside another transaction it is a savepoint of that one, so a caller can make
        several writes (``pdarchive ingest``: an item and the note that it was written)
        one atomic write.
        """
        connection = self.db.conn
        if connection.in_transaction:
            connection.execute("SAVEPOINT nested")
            try:
                yield
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK TO nested")
                    connection.execute("RELEASE nested")
                raise
            connection.execute("RELEASE nested")
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            # SQLite may already have rolled back by itself (a full disk, an I/O
            # error): a second ROLLBACK would hide the real error behind its own.
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def close(self) -> None:
        self.db.conn.close()

    # -- runs -------------------------------------------------------------------

    def start_run(self, args: dict[str, Any], columns: list[str]) -> int:
        with self.transaction():
            # A run still marked running belongs to a process that is gone (the crawl
            # lock guarantees one writer): say so instead of leaving it open forever.
            self.db.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = coalesce(finished_at, ?) "
                "WHERE status = 'running'", [utc_now()])
            table = self.db.table("runs")
            table.insert({"started_at": utc_now(), "status": "running",
                          "args": json.dumps(args, ensure_ascii=False), "pid": os.getpid(),
                          "columns": json.dumps(columns), "complete_columns": "[]",
                          "requests": 0, "new": 0, "updated": 0, "unchanged": 0, "failed": 0,
                          "fallback": 0})
            return int(cast(int, table.last_pk))

    def finish_run(self, run_id: int, counts: RunCounts, status: str, message: str = "",
                   complete_columns: list[str] | None = None) -> None:
        with self.transaction():
            self.db.table("runs").update(run_id, {
                "finished_at": utc_now(), "status": status, "message": message,
                "complete_columns": json.dumps(complete_columns or []),
                "requests": counts.requests, "new": counts.new, "updated": counts.updated,
                "unchanged": counts.unchanged, "failed": counts.failed,
                "fallback": counts.fallback,
            })

    def runs(self, limit: int = 10) -> list[dict[str, Any]]:
        rows = self.db.execute_returning_dicts(
            "SELECT * FROM runs ORDER BY id DESC LIMIT ?", [limit])
        return [_decode_row(row) for row in rows]

    # -- columns ----------------------------------------------------------------

    def column_walk_completed(self, column_id: str) -> bool:
        """Did the last crawl of this column end normally, having walked its list pages
        to the end (or to articles already archived)? Only then may an incremental
        crawl stop at the first list page holding known articles: after an interrupted
        walk, older new articles may still lie further down."""
        row = self.db.execute(
            "SELECT status, complete_columns FROM runs WHERE status != 'running' AND "
            "EXISTS (SELECT 1 FROM json_each(runs.columns) WHERE value = ?) "
            "ORDER BY id DESC LIMIT 1", [column_id]).fetchone()
        return bool(row) and row[0] in ("finished", "warning") and column_id in json.loads(
            row[1] or "[]")

    # -- articles ---------------------------------------------------------------

    def known_article_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT article_id FROM articles")}

    def column_article_counts(self) -> dict[str, int]:
        return {row[0]: row[1] for row in self.db.execute(
            "SELECT column_id, count(*) FROM articles GROUP BY column_id")}

    def article(self, article_id: str) -> dict[str, Any] | None:
        rows = self.db.execute_returning_dicts(
            "SELECT * FROM articles WHERE article_id = ?", [article_id])
        return _decode_row(rows[0]) if rows else None

    def save_article(self, article: dict[str, Any], pages: list[FetchedPage],
                     run_id: int | None, topics: list[TopicScore] | None = None) -> str:
        """Write an article with its pages, index row and topic scores in one transaction.

        Returns "new", "updated" (the earlier text is kept as a version) or
        "unchanged" (no row changes unless a page's body or a topic score did). With
        no pages (a reparse) the fetch time stays that of the last fetch.
        """
        now = utc_now()
        digest = content_hash(article)
        with self.transaction():
            existing = self.db.execute(
                "SELECT rowid, content_hash, version, first_seen_at, fetched_at FROM articles "
                "WHERE article_id = ?", [article["article_id"]]).fetchone()
            if existing and existing[1] == digest:
                self._save_topics(article["article_id"], topics or [])
                self._save_pages(pages, run_id, keep_unchanged=True)
                self._clear_failures([page.url for page in pages])
                return "unchanged"
            row = {key: article.get(key) for key in (
                "article_id", "column_id", "url", "edition", "page_count", "title",
                "pretitle", "subtitle", "published_at", "source", "source_url", "extractor")}
            row["original_title"] = article.get("original_title") or ""
            for column in ("editors", "authors", "photographers", "body", "images", "pages"):
                row[column] = json.dumps(article.get(column) or [], ensure_ascii=False)
            row["editions"] = (json.dumps(article["editions"]) if article.get("editions")
                               else None)
            row["big5"] = (json.dumps(article["big5"], ensure_ascii=False)
                           if article.get("big5") else None)
            fetched_at = now if pages or not existing else existing[4]
            row.update(content_hash=digest, fetched_at=fetched_at, updated_at=now)
            if existing:
                previous = self.article(article["article_id"])
                self.db.table("article_versions").insert({
                    "article_id": article["article_id"], "version": existing[2],
                    "content_hash": existing[1], "replaced_at": now,
                    "record": json.dumps(previous, ensure_ascii=False)})
                row.update(version=existing[2] + 1, first_seen_at=existing[3])
                outcome = "updated"
            else:
                row.update(version=1, first_seen_at=now)
                outcome = "new"
            # rowids follow publication time (the index lists newest first by rowid)
            row["rowid"] = fulltext.article_rowid(self.db, article["published_at"],
                                                  existing[0] if existing else None)
            rowid = self._upsert("articles", row, "article_id")
            self._save_topics(article["article_id"], topics or [])
            self._save_pages(pages, run_id, keep_unchanged=False)
            self._clear_failures([page.url for page in pages])
            fulltext.index_article(self.db, rowid, article)
        return outcome

    def _save_topics(self, article_id: str, topics: list[TopicScore]) -> None:
        for result in topics:
            self.db.execute(
                "INSERT INTO article_topics (article_id, topic, score, matches) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (article_id, topic) DO UPDATE SET "
                "score = excluded.score, matches = excluded.matches "
                "WHERE score != excluded.score OR matches != excluded.matches",
                [article_id, result.topic, result.score,
                 json.dumps(result.matches, ensure_ascii=False)])

    def column_summary(self) -> list[dict[str, Any]]:
        """Per column: articles held and when a crawl last walked it."""
        return self.db.execute_returning_dicts(
            "SELECT c.column_id, (SELECT count(*) FROM articles AS a "
            "WHERE a.column_id = c.column_id) AS articles, "
            "(SELECT max(r.started_at) FROM runs AS r, json_each(r.columns) AS j "
            "WHERE j.value = c.column_id) AS last_crawled "
            "FROM (SELECT column_id FROM articles UNION SELECT j.value FROM runs, "
            "json_each(runs.columns) AS j) AS c ORDER BY c.column_id")

    def topic_scores(self, article_id: str) -> dict[str, dict[str, Any]]:
        rows = self.db.execute(
            "SELECT topic, score, matches FROM article_topics WHERE article_id = ? "
            "ORDER BY topic", [article_id]).fetchall()
        return {topic: {"score": score, "matches": json.loads(matches)}
                for topic, score, matches in rows}

    def _upsert(self, table: str, row: dict[str, Any], pk: str) -> int:
        """Insert or update one row by primary key; returns its rowid.

        Plain SQL on the write path: sqlite-utils' insert/upsert introspect the table
        on every call, which was half the cost of storing an article.
        """
        columns = ", ".join(row)
        updates = ", ".join(f"{column} = excluded.{column}" for column in row if column != pk)
        cursor = self.db.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))}) "
            f"ON CONFLICT({pk}) DO UPDATE SET {updates} RETURNING rowid",
            list(row.values()))
        return int(cursor.fetchone()[0])

    def _save_pages(self, pages: list[FetchedPage], run_id: int | None, *,
                    keep_unchanged: bool) -> None:
        for page in pages:
            digest = hashlib.sha256(page.body).hexdigest()
            if keep_unchanged:
                row = self.db.execute("SELECT sha256 FROM pages WHERE url = ?",
                                      [page.url]).fetchone()
                if row and row[0] == digest:
                    continue
            self._upsert("pages", {
                "url": page.url, "kind": page.kind, "article_id": page.article_id,
                "edition": page.edition, "page": page.page, "status": page.status,
                "headers": json.dumps(page.headers, ensure_ascii=False),
                "content_type": page.headers.get("Content-Type"), "encoding": page.encoding,
                "extractor": page.extractor, "sha256": digest, "size": len(page.body),
                "body": zlib.compress(page.body, 6), "fetched_at": page.fetched_at,
                "run_id": run_id,
            }, "url")

    def save_list_page(self, page: FetchedPage, run_id: int | None) -> None:
        """Keep a list page's latest body (an unchanged page changes no row) and close
        any failure recorded for it."""
        with self.transaction():
            self._save_pages([page], run_id, keep_unchanged=True)
            self._clear_failures([page.url])

    def page_bodies(self) -> Iterator[dict[str, Any]]:
        """Every stored article page with its raw body, grouped by article: read as
        they are used (the whole archive's pages would not fit in memory).

        A page whose stored copy is damaged (it does not decompress, or no longer
        matches its digest) comes with ``body`` None and ``damage`` saying why, rather
        than stopping the reading of all the others."""
        cursor = self.db.execute(
            "SELECT url, article_id, edition, page, headers, body, sha256 FROM pages "
            "WHERE kind = 'article' ORDER BY article_id, edition, page")
        names = [description[0] for description in cursor.description]
        for values in cursor:
            row = dict(zip(names, values, strict=True))
            digest = row.pop("sha256")
            row["damage"] = None
            try:
                row["headers"] = json.loads(row["headers"] or "{}")
                row["body"] = zlib.decompress(row["body"])
            except (zlib.error, ValueError, TypeError) as error:
                row["body"], row["damage"] = None, (
                    f"the stored copy is damaged ({type(error).__name__}: {error})")
            else:
                if digest and hashlib.sha256(row["body"]).hexdigest() != digest:
                    row["body"], row["damage"] = None, (
                        "the stored copy is damaged (it no longer matches its SHA-256)")
            yield row

    def forget_page_copy(self, url: str) -> None:
        """Mark the stored copy of ``url`` as unusable: the next fetch of the page
        replaces it even when the page has not changed."""
        with self.transaction():
            self.db.execute("UPDATE pages SET sha256 = NULL WHERE url = ?", [url])

    def article_page_count(self) -> int:
        """How many articles have stored pages (what reparse goes through)."""
        return int(self.db.execute(
            "SELECT count(DISTINCT article_id) FROM pages WHERE kind = 'article'").fetchone()[0])

    # -- failures ---------------------------------------------------------------

    def record_failure(self, url: str, *, stage: str, reason: str, http_status: int | None,
                       run_id: int | None, article_id: str | None = None,
                       column_id: str | None = None, retry_after: float | None = None,
                       retry_max: float | None = None) -> None:
        """Record (or count again) a failure of ``url``: the next attempt is due after
        ``retry_after`` seconds (default RETRY_BASE), doubled with every attempt up to
        ``retry_max`` (default RETRY_MAX)."""
        now = datetime.now(timezone.utc)
        base = RETRY_BASE.total_seconds() if retry_after is None else retry_after
        ceiling = RETRY_MAX.total_seconds() if retry_max is None else retry_max
        with self.transaction():
            row = self.db.execute(
                "SELECT attempts, first_seen_at FROM failures WHERE url = ?", [url]).fetchone()
            attempts = (row[0] if row else 0) + 1
            wait = timedelta(seconds=min(base * 2.0 ** min(attempts - 1, 64), ceiling))
            self.db.table("failures").upsert({
                "url": url, "article_id": article_id, "column_id": column_id, "stage": stage,
                "reason": reason, "http_status": http_status, "attempts": attempts,
                "first_seen_at": row[1] if row else now.isoformat(timespec="seconds"),
                "last_seen_at": now.isoformat(timespec="seconds"),
                "next_attempt_at": (now + wait).isoformat(timespec="seconds"),
                "run_id": run_id,
            }, "url")

    def _clear_failures(self, urls: list[str]) -> None:
        for url in urls:
            self.db.execute("DELETE FROM failures WHERE url = ?", [url])

    def failures(self) -> list[dict[str, Any]]:
        return self.db.execute_returning_dicts(
            "SELECT * FROM failures ORDER BY last_seen_at DESC, url")

    def failures_due(self, now: str | None = None) -> list[dict[str, Any]]:
        """Failed URLs whose backoff has expired: the next crawl tries them again."""
        return self.db.execute_returning_dicts(
            "SELECT * FROM failures WHERE next_attempt_at <= ? ORDER BY url",
            [now or utc_now()])
