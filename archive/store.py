"""The archive: one SQLite file, read through sqlite3 and written through sqlite-utils.

Tables: ``articles`` (one row per article id, both editions), ``article_versions``
(earlier text of changed articles), ``captures`` (every fetch of a URL that brought a
body it had not had, with status, headers and time; schema 4), ``blobs`` (each
distinct body once, by SHA-256, zlib-compressed, so ``reparse`` needs no network),
``version_captures`` (which captures each article version was read from), the view
``pages`` (the latest capture of each URL, what the table of schemas 1–3 held),
``failures`` (open failures per URL, with retry backoff), ``runs`` (what each crawl
did, and which columns it walked to the end: where the next incremental crawl may
stop early), and the search index ``articles_fts`` with ``search_text`` (see
fulltext.py; an article's rowid follows its publication time).

WAL mode lets readers (search, ``serve``) work while a crawl writes; each article
is written with its pages and its index row in one transaction. Reads go through the
connection (``Archive.conn``, ``Archive.rows``); sqlite-utils (``Archive.db``), which
takes longer to import than ``pdarchive search`` takes to run, is imported by the
first write; hashlib (OpenSSL, 3 ms) by what hashes bodies.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import urllib.parse
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from . import fulltext
from .record import content_hash

if TYPE_CHECKING:
    import sqlite_utils

    from .topics import TopicScore

SCHEMA_VERSION = 5
JSON_COLUMNS = ("editors", "authors", "photographers", "body", "images", "pages", "editions",
                "big5", "headers", "args", "gb", "columns", "complete_columns", "redirects")
#: failed URLs are retried after 1 h, 2 h, 4 h, … up to a week (unless the crawl
#: configuration says otherwise: failure_retry_after, failure_retry_max)
RETRY_BASE = timedelta(hours=1)
RETRY_MAX = timedelta(days=7)


#: the counts a run row keeps, kept up to date with every write (count_in_run)
_RUN_COUNTS = ("new", "updated", "unchanged", "failed", "fallback")


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
    kind: str = "article"  # "article", "list" or "picture"
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


def _header(headers: dict[str, str], name: str) -> str | None:
    """A header's value whatever the case of its name (WARCs from other tools)."""
    lowered = name.lower()
    return next((value for key, value in headers.items() if key.lower() == lowered), None)


def dict_rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    """The rows of ``cursor`` as dicts by column name, as sqlite-utils's
    ``execute_returning_dicts`` gives them."""
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


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


def _migrate_4(db: sqlite_utils.Database) -> None:
    """What kind of failure each is (``blocked``, ``deleted``, ``http``, ``timeout``, …),
    the redirects a failed request went through, and editions an article does not
    have (a 404 on its BIG5 page): a fact about the article, not a failure."""
    db.execute("ALTER TABLE failures ADD COLUMN kind TEXT")
    db.execute("ALTER TABLE failures ADD COLUMN redirects TEXT")
    db.execute(
        "CREATE TABLE missing_editions (article_id TEXT NOT NULL, edition TEXT NOT NULL, "
        "url TEXT NOT NULL, http_status INTEGER, seen_at TEXT NOT NULL, run_id INTEGER, "
        "PRIMARY KEY (article_id, edition))")
    # What older crawls left as open "HTTP 404" failures of BIG5 pages (20 of 22 on
    # the mirror, retried for a week) is that fact: recorded once, the failure closed.
    db.execute(
        "INSERT OR IGNORE INTO missing_editions (article_id, edition, url, http_status, "
        "seen_at, run_id) SELECT article_id, 'big5', url, http_status, last_seen_at, run_id "
        "FROM failures WHERE http_status IN (404, 410) AND article_id IS NOT NULL "
        "AND url LIKE '%/BIG5/%'")
    db.execute("DELETE FROM failures WHERE http_status IN (404, 410) AND article_id IS NOT "
               "NULL AND url LIKE '%/BIG5/%'")


#: the columns of the ``pages`` view (the latest capture of each URL), in the order
#: the ``pages`` table of schemas 1 to 4 had them
PAGE_COLUMNS = ("url", "kind", "article_id", "edition", "page", "status", "headers",
                "content_type", "encoding", "extractor", "sha256", "size", "body",
                "fetched_at", "run_id")


def _migrate_5(db: sqlite_utils.Database) -> None:
    """Every capture kept (issue 15): ``blobs`` holds each distinct body once, by its
    SHA-256, compressed; ``captures`` every fetch of a URL that brought a body it had
    not (status, headers, fetch time), ``latest`` marking the newest of each URL;
    ``version_captures`` which captures each article version was read from. ``pages``
    becomes a view of the latest capture per URL, so what read it reads on.

    An archive of an earlier schema had one capture per URL (the table ``pages``):
    it becomes that URL's first capture, the source of the article's current version.
    """
    db.execute("CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, "
               "body BLOB NOT NULL)")
    db.execute(
        "CREATE TABLE captures (id INTEGER PRIMARY KEY, url TEXT NOT NULL, kind TEXT NOT NULL, "
        "article_id TEXT, edition TEXT, page INTEGER, status INTEGER, headers TEXT, "
        "content_type TEXT, encoding TEXT, extractor TEXT, sha256 TEXT, size INTEGER, "
        "fetched_at TEXT, run_id INTEGER, latest INTEGER NOT NULL DEFAULT 1)")
    db.execute("CREATE UNIQUE INDEX idx_captures_latest ON captures (url) WHERE latest = 1")
    db.execute("CREATE INDEX idx_captures_url ON captures (url, fetched_at)")
    db.execute("CREATE INDEX idx_captures_article ON captures (article_id, fetched_at)")
    db.execute("CREATE INDEX idx_captures_sha256 ON captures (sha256)")
    db.execute(
        "CREATE TABLE version_captures (article_id TEXT NOT NULL, version INTEGER NOT NULL, "
        "capture_id INTEGER NOT NULL REFERENCES captures(id), "
        "PRIMARY KEY (article_id, version, capture_id)) WITHOUT ROWID")
    db.execute("CREATE INDEX idx_version_captures_capture ON version_captures (capture_id)")
    if "pages" in db.table_names():
        columns = [column for column in PAGE_COLUMNS if column != "body"]
        db.execute(
            "INSERT OR IGNORE INTO blobs (sha256, size, body) SELECT sha256, size, body "
            "FROM pages WHERE sha256 IS NOT NULL AND body IS NOT NULL")
        db.execute(f"INSERT INTO captures ({', '.join(columns)}, latest) "
                   f"SELECT {', '.join(columns)}, 1 FROM pages ORDER BY rowid")
        db.execute(
            "INSERT OR IGNORE INTO version_captures (article_id, version, capture_id) "
            "SELECT c.article_id, a.version, c.id FROM captures AS c "
            "JOIN articles AS a USING (article_id) WHERE c.kind = 'article'")
        db.execute("DROP TABLE pages")
    db.execute(
        "CREATE VIEW pages AS SELECT " + ", ".join(
            "b.body" if column == "body" else f"c.{column}" for column in PAGE_COLUMNS)
        + " FROM captures AS c LEFT JOIN blobs AS b ON b.sha256 = c.sha256 "
        "WHERE c.latest = 1 AND c.kind IN ('article', 'list')")
    # what wrote to the table writes on: the body to the blob, the digest to the capture
    db.execute(
        "CREATE TRIGGER pages_update INSTEAD OF UPDATE ON pages BEGIN "
        "UPDATE blobs SET body = NEW.body WHERE sha256 = OLD.sha256 "
        "AND NEW.body IS NOT OLD.body; "
        "UPDATE captures SET sha256 = NEW.sha256 WHERE url = OLD.url AND latest = 1 "
        "AND NEW.sha256 IS NOT OLD.sha256; END")


MIGRATIONS = {1: _migrate_1, 2: _migrate_2, 3: _migrate_3, 4: _migrate_4, 5: _migrate_5}


class Archive:
    """The archive file. Open with ``Archive(path)``; ``create=False`` refuses to make
    a new file, ``readonly=True`` opens it read-only (no migrations)."""

    def __init__(self, path: str | Path, *, create: bool = True, readonly: bool = False) -> None:
        self.path = Path(path)
        #: inside begin_batch … commit_batch/rollback_batch
        self._batch = False
        #: the batch's full-text index statements, written at its commit
        self._index_statements: fulltext.Deferred = []
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
            self.conn = connection
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

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over the connection, for the writes."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def rows(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """The rows ``sql`` selects, as dicts by column name."""
        return dict_rows(self.conn.execute(sql, params))

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
        connection = self.conn
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute("UPDATE runs SET id = id WHERE 0")
            finally:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
        except sqlite3.Error as error:
            connection.close()
            raise ArchiveError(f"{self.path} cannot be written: "
                               f"{storage_problem(error, self.path)}") from error

    def check_integrity(self) -> None:
        """Refuse a damaged file before writing to it (``PRAGMA quick_check``: reads
        every page, so it costs about one sequential read of the file)."""
        try:
            problems = [row[0] for row in self.conn.execute("PRAGMA quick_check(3)")]
        except sqlite3.DatabaseError as error:
            problems = [str(error)]
        if problems != ["ok"]:
            found = " ".join(" ".join(problems).replace("*** in database main ***", "").split())
            raise ArchiveError(
                f"{self.path} is damaged ({found}); it was left as it is: copy what can be "
                "saved with `sqlite3 FILE .recover` and crawl into a new file")

    # -- schema -----------------------------------------------------------------

    def _check_and_migrate(self, readonly: bool) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
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
        one atomic write; inside a batch (``begin_batch``) it is simply part of the batch.
        """
        connection = self.conn
        if self._batch:
            yield  # part of the batch, which commits or rolls back as a whole
            return
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

    def begin_batch(self) -> None:
        """Open one transaction for many writes (a group commit), until
        ``commit_batch`` or ``rollback_batch``.

        Every ``transaction()`` inside it is part of it rather than a savepoint of its
        own: FTS5 writes its pending index data out as a new segment at every
        savepoint, which for a savepoint per article was a third of the cost of storing
        it, and made the merges that follow. The price: a write that fails inside a
        batch spoils the batch, and the caller rolls all of it back.
        """
        self.conn.execute("BEGIN IMMEDIATE")
        self._batch = True

    def commit_batch(self) -> None:
        """Index the batch's articles (one FTS5 segment: fulltext.write_deferred), and
        commit."""
        try:
            fulltext.write_deferred(self.conn, self._index_statements)
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")
        except BaseException:
            self.rollback_batch()
            raise
        self._batch = False

    @property
    def _deferred_index(self) -> fulltext.Deferred | None:
        return self._index_statements if self._batch else None

    def rollback_batch(self) -> None:
        self._batch = False
        self._index_statements.clear()
        # SQLite may have rolled back by itself already (a full disk, an I/O error)
        if self.conn.in_transaction:
            with suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

    @property
    def in_batch(self) -> bool:
        return self._batch

    def close(self) -> None:
        self.conn.close()

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

    def count_in_run(self, run_id: int | None, outcome: str) -> None:
        """Add one to the run's count of ``outcome`` ("new", "updated", "unchanged",
        "failed", "fallback"). Called inside the transaction that wrote what it counts,
        so that a run killed with ``kill -9`` still shows what it committed."""
        if run_id is None or outcome not in _RUN_COUNTS:
            return
        self.db.execute(f"UPDATE runs SET {outcome} = {outcome} + 1 WHERE id = ?", [run_id])

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

    def interrupt_run(self, run_id: int, message: str) -> None:
        """Mark a run that was stopped before it could record its end (its counts were
        committed with each article)."""
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET status = 'interrupted', message = ?, finished_at = ? "
                "WHERE id = ? AND status = 'running'", [message, utc_now(), run_id])

    def runs(self, limit: int = 10) -> list[dict[str, Any]]:
        rows = self.rows("SELECT * FROM runs ORDER BY id DESC LIMIT ?", [limit])
        return [_decode_row(row) for row in rows]

    # -- columns ----------------------------------------------------------------

    def column_walk_completed(self, column_id: str) -> bool:
        """Did the last crawl of this column end normally, having walked its list pages
        to the end (or to articles already archived)? Only then may an incremental
        crawl stop at the first list page holding known articles: after an interrupted
        walk, older new articles may still lie further down."""
        row = self.conn.execute(
            "SELECT status, complete_columns FROM runs WHERE status != 'running' AND "
            "EXISTS (SELECT 1 FROM json_each(runs.columns) WHERE value = ?) "
            "ORDER BY id DESC LIMIT 1", [column_id]).fetchone()
        return bool(row) and row[0] in ("finished", "warning") and column_id in json.loads(
            row[1] or "[]")

    # -- articles ---------------------------------------------------------------

    def known_article_ids(self) -> set[str]:
        return {row[0] for row in self.conn.execute("SELECT article_id FROM articles")}

    def column_article_counts(self) -> dict[str, int]:
        return {row[0]: row[1] for row in self.conn.execute(
            "SELECT column_id, count(*) FROM articles GROUP BY column_id")}

    def article(self, article_id: str) -> dict[str, Any] | None:
        rows = self.rows("SELECT * FROM articles WHERE article_id = ?", [article_id])
        return _decode_row(rows[0]) if rows else None

    def save_article(self, article: dict[str, Any], pages: list[FetchedPage],
                     run_id: int | None, topics: list[TopicScore] | None = None, *,
                     at: str | None = None) -> str:
        """Write an article with its pages, index row and topic scores in one transaction.

        Returns "new", "updated" (the earlier text is kept as a version),
        "unchanged" (no row changes unless a page's body or a topic score did) or
        "kept": a version read by the generic fallback never replaces one a template
        extractor read (a layout change or a notice page would otherwise overwrite a
        good article); nothing is written. With no pages (a reparse) the fetch time
        stays that of the last fetch. Every page body the archive does not hold for its
        URL yet becomes a capture, and the version the pages make is linked to their
        captures. ``at`` is when this happened (default: now; ``pdarchive import`` gives
        the captures' time).
        """
        now = at or utc_now()
        digest = content_hash(article)
        article_id = article["article_id"]
        with self.transaction():
            existing = self.db.execute(
                "SELECT rowid, content_hash, version, first_seen_at, fetched_at, extractor "
                "FROM articles WHERE article_id = ?", [article_id]).fetchone()
            if (existing and pages and article.get("extractor") == "fallback"
                    and existing[5] != "fallback"):
                return "kept"
            if existing and existing[1] == digest:
                self._save_topics(article_id, topics or [])
                self._link_captures(article_id, existing[2], self._save_pages(pages, run_id))
                self._clear_failures([page.url for page in pages])
                return "unchanged"
            row = self._article_row(article)
            fetched_at = now if pages or not existing else existing[4]
            row.update(content_hash=digest, fetched_at=fetched_at, updated_at=now)
            if existing:
                previous = self.article(article_id)
                self.db.table("article_versions").insert({
                    "article_id": article_id, "version": existing[2],
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
            self._save_topics(article_id, topics or [])
            self._link_captures(article_id, row["version"], self._save_pages(pages, run_id))
            self._clear_failures([page.url for page in pages])
            fulltext.index_article(self.db, rowid, article, self._deferred_index)
        return outcome

    @staticmethod
    def _article_row(article: dict[str, Any]) -> dict[str, Any]:
        """The articles columns of an article record (its text; no times, no version)."""
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
        return row

    def _link_captures(self, article_id: str, version: int, capture_ids: list[int]) -> None:
        for capture_id in capture_ids:
            self.db.execute("INSERT OR IGNORE INTO version_captures (article_id, version, "
                            "capture_id) VALUES (?, ?, ?)", [article_id, version, capture_id])

    def reextract(self, article_id: str, version: int, article: dict[str, Any],
                  topics: list[TopicScore] | None = None) -> bool:
        """Store what the parser now reads in the captures of ``version`` of an article,
        in place of that version's text (``pdarchive reparse``): the current version
        in the articles table (and the index and topic scores), an earlier one in
        article_versions. No version is added: the site did not change, the reading
        did. Returns whether the text changed."""
        digest = content_hash(article)
        with self.transaction():
            current = self.db.execute(
                "SELECT rowid, content_hash, version FROM articles WHERE article_id = ?",
                [article_id]).fetchone()
            if current is None:
                return False
            if current[2] == version:
                self._save_topics(article_id, topics or [])
                if current[1] == digest:
                    return False
                row = self._article_row(article)
                row.update(content_hash=digest, updated_at=utc_now())
                row["rowid"] = fulltext.article_rowid(self.db, article["published_at"],
                                                      current[0])
                rowid = self._upsert("articles", row, "article_id")
                fulltext.index_article(self.db, rowid, article, self._deferred_index)
                return True
            stored = self.db.execute(
                "SELECT id, content_hash, record FROM article_versions WHERE article_id = ? "
                "AND version = ? ORDER BY id DESC LIMIT 1", [article_id, version]).fetchone()
            if stored is None or stored[1] == digest:
                return False
            record = json.loads(stored[2])
            record.update(_decode_row(self._article_row(article)), content_hash=digest)
            self.db.execute("UPDATE article_versions SET content_hash = ?, record = ? "
                            "WHERE id = ?",
                            [digest, json.dumps(record, ensure_ascii=False), stored[0]])
            return True

    def history(self, article_id: str) -> list[dict[str, Any]]:
        """Every version of an article, oldest first: ``version``, ``content_hash``,
        ``record`` (the stored row), ``replaced_at`` (None for the current one) and
        ``captures`` (``url``, ``fetched_at``, ``sha256`` of the captures it was read
        from, oldest first)."""
        versions = [{"version": row[0], "content_hash": row[1], "record": json.loads(row[2]),
                     "replaced_at": row[3]} for row in self.conn.execute(
            "SELECT version, content_hash, record, replaced_at FROM article_versions "
            "WHERE article_id = ? ORDER BY version, id", [article_id])]
        current = self.article(article_id)
        if current is None:
            return []
        versions.append({"version": current["version"], "content_hash": current["content_hash"],
                         "record": current, "replaced_at": None})
        for version in versions:
            version["captures"] = self.rows(
                "SELECT c.url, c.fetched_at, c.sha256, c.status FROM version_captures AS v "
                "JOIN captures AS c ON c.id = v.capture_id WHERE v.article_id = ? AND "
                "v.version = ? ORDER BY c.fetched_at, c.id", [article_id, version["version"]])
        return versions

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
        return self.rows(
            "SELECT c.column_id, (SELECT count(*) FROM articles AS a "
            "WHERE a.column_id = c.column_id) AS articles, "
            "(SELECT max(r.started_at) FROM runs AS r, json_each(r.columns) AS j "
            "WHERE j.value = c.column_id) AS last_crawled "
            "FROM (SELECT column_id FROM articles UNION SELECT j.value FROM runs, "
            "json_each(runs.columns) AS j) AS c ORDER BY c.column_id")

    def topic_scores(self, article_id: str) -> dict[str, dict[str, Any]]:
        rows = self.conn.execute(
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

    def _save_pages(self, pages: list[FetchedPage], run_id: int | None) -> list[int]:
        """The capture of each page, made when its URL's latest capture has another body
        (the body stored once per digest, whatever the URL): a re-fetch that brings the
        same bytes writes nothing. Returns the captures' ids, in the pages' order."""
        return [self._save_capture(page, run_id) for page in pages]

    def _save_capture(self, page: FetchedPage, run_id: int | None) -> int:
        import hashlib

        digest = hashlib.sha256(page.body).hexdigest()
        latest = self.db.execute(
            "SELECT id, sha256, fetched_at FROM captures WHERE url = ? AND latest = 1",
            [page.url]).fetchone()
        if latest and latest[1] == digest:
            return int(latest[0])
        if self.db.execute("SELECT 1 FROM blobs WHERE sha256 = ?", [digest]).fetchone() is None:
            self.db.execute("INSERT INTO blobs (sha256, size, body) VALUES (?, ?, ?)",
                            [digest, len(page.body), zlib.compress(page.body, 6)])
        # an older capture (an imported WARC's) goes beside the latest, not over it
        newest = latest is None or (latest[2] or "") <= page.fetched_at
        if latest and newest:
            self.db.execute("UPDATE captures SET latest = 0 WHERE id = ?", [latest[0]])
        cursor = self.db.execute(
            "INSERT INTO captures (url, kind, article_id, edition, page, status, headers, "
            "content_type, encoding, extractor, sha256, size, fetched_at, run_id, latest) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [page.url, page.kind, page.article_id, page.edition, page.page, page.status,
             json.dumps(page.headers, ensure_ascii=False), _header(page.headers, "Content-Type"),
             page.encoding, page.extractor, digest, len(page.body), page.fetched_at, run_id,
             int(newest)])
        return int(cursor.fetchone()[0])

    def save_list_page(self, page: FetchedPage, run_id: int | None) -> None:
        """Keep a list page's body (an unchanged page changes no row) and close any
        failure recorded for it."""
        with self.transaction():
            self._save_pages([page], run_id)
            self._clear_failures([page.url])

    def save_capture(self, page: FetchedPage, run_id: int | None) -> bool:
        """Keep a capture that belongs to no article version (a picture, a list page):
        returns whether it was new."""
        with self.transaction():
            before = self.db.execute("SELECT max(id) FROM captures").fetchone()[0] or 0
            return self._save_capture(page, run_id) > before

    def save_picture(self, page: FetchedPage, run_id: int | None) -> bool:
        """Keep a picture a crawl fetched (``page.kind`` "picture", ``article_id`` the
        article it was fetched for), through the store path an import's pictures take,
        and close any failure recorded for it: returns whether it was new."""
        with self.transaction():
            new = self.save_capture(page, run_id)
            self._clear_failures([page.url])
            return new

    def picture_urls(self) -> set[str]:
        """Every picture URL the archive holds a capture of: never fetched again."""
        return {row[0] for row in self.conn.execute(
            "SELECT DISTINCT url FROM captures WHERE kind = 'picture'")}

    def space(self) -> dict[str, dict[str, int]]:
        """Per kind of capture ("article", "list", "picture"): how many captures, how
        many distinct bodies, their bytes as fetched and as stored (compressed)."""
        found: dict[str, dict[str, int]] = {}
        for kind, captures, bodies, size, stored in self.conn.execute(
                "SELECT k.kind, (SELECT count(*) FROM captures WHERE kind = k.kind), "
                "count(*), coalesce(sum(b.size), 0), coalesce(sum(length(b.body)), 0) "
                "FROM (SELECT DISTINCT kind FROM captures) AS k "
                "LEFT JOIN (SELECT DISTINCT kind, sha256 FROM captures) AS d "
                "ON d.kind = k.kind JOIN blobs AS b ON b.sha256 = d.sha256 "
                "GROUP BY k.kind ORDER BY k.kind"):
            found[kind] = {"captures": captures, "bodies": bodies, "bytes": size,
                           "stored_bytes": stored}
        return found

    def holds_capture(self, url: str, sha256: str) -> bool:
        """Is there a capture of ``url`` with this body?"""
        return self.conn.execute("SELECT 1 FROM captures WHERE url = ? AND sha256 = ? LIMIT 1",
                                 [url, sha256]).fetchone() is not None

    def claim_picture(self, url: str, article_id: str) -> None:
        """Mark the captures of picture ``url`` that belong to no article as
        ``article_id``'s (an import meets pictures before the pages showing them)."""
        if url:
            with self.transaction():
                self.db.execute("UPDATE captures SET article_id = ? WHERE url = ? AND "
                                "kind = 'picture' AND article_id IS NULL", [article_id, url])

    def capture_rows(self, sql: str, params: list[Any]) -> Iterator[dict[str, Any]]:
        """Rows of ``sql`` (which selects ``body`` and ``sha256`` among others) with
        the body inflated and checked against its digest: a damaged copy comes with
        ``body`` None and ``damage`` saying why, rather than stopping the others."""
        import hashlib

        cursor = self.conn.execute(sql, params)
        names = [description[0] for description in cursor.description]
        for values in cursor:
            row = dict(zip(names, values, strict=True))
            row["damage"] = None
            try:
                row["headers"] = json.loads(row["headers"] or "{}")
                if row["body"] is None:
                    raise ValueError("no stored copy")
                row["body"] = zlib.decompress(row["body"])
            except (zlib.error, ValueError, TypeError) as error:
                row["body"], row["damage"] = None, (
                    f"the stored copy is damaged ({type(error).__name__}: {error})")
            else:
                if row["sha256"] and hashlib.sha256(row["body"]).hexdigest() != row["sha256"]:
                    row["body"], row["damage"] = None, (
                        "the stored copy is damaged (it no longer matches its SHA-256)")
            yield row

    def page_bodies(self) -> Iterator[dict[str, Any]]:
        """Every stored article page (its latest capture) with its raw body, grouped by
        article: read as they are used (the whole archive's pages would not fit in
        memory). Damaged copies: see ``capture_rows``."""
        return self.capture_rows(
            "SELECT url, article_id, edition, page, headers, body, sha256 FROM pages "
            "WHERE kind = 'article' ORDER BY article_id, edition, page", [])

    def version_bodies(self) -> Iterator[dict[str, Any]]:
        """Per article version (grouped by article, then version), the capture of each of
        its pages it was read from (the newest, when a page was captured again with the
        text unchanged), with the raw body: what reparse re-reads each version from."""
        return self.capture_rows(
            "SELECT v.article_id, v.version, c.id AS capture_id, c.url, c.edition, c.page, "
            "c.headers, b.body, c.sha256 FROM version_captures AS v "
            "JOIN captures AS c ON c.id = v.capture_id "
            "LEFT JOIN blobs AS b ON b.sha256 = c.sha256 "
            "WHERE c.kind = 'article' AND c.id = (SELECT c2.id FROM version_captures AS v2 "
            "JOIN captures AS c2 ON c2.id = v2.capture_id WHERE v2.article_id = v.article_id "
            "AND v2.version = v.version AND c2.url = c.url "
            "ORDER BY c2.fetched_at DESC, c2.id DESC LIMIT 1) "
            "ORDER BY v.article_id, v.version, c.edition, c.page", [])

    def forget_page_copy(self, url: str, sha256: str | None = None) -> None:
        """Mark the stored copy of ``url`` (its latest capture, or its capture of body
        ``sha256``) as unusable: the damaged body goes, and the next fetch of the page
        stores it again even when the page has not changed."""
        with self.transaction():
            if sha256 is None:
                row = self.db.execute("SELECT sha256 FROM captures WHERE url = ? AND "
                                      "latest = 1", [url]).fetchone()
                sha256 = row[0] if row else None
            if sha256:
                self.db.execute("DELETE FROM blobs WHERE sha256 = ?", [sha256])
                self.db.execute("UPDATE captures SET sha256 = NULL WHERE sha256 = ?", [sha256])

    def article_page_count(self) -> int:
        """How many articles have stored pages (what reparse goes through)."""
        return int(self.conn.execute(
            "SELECT count(DISTINCT article_id) FROM version_captures").fetchone()[0])

    # -- failures ---------------------------------------------------------------

    def record_failure(self, url: str, *, stage: str, reason: str, http_status: int | None,
                       run_id: int | None, article_id: str | None = None,
                       column_id: str | None = None, retry_after: float | None = None,
                       retry_max: float | None = None, kind: str | None = None,
                       redirects: list[str] | None = None) -> None:
        """Record (or count again) a failure of ``url`` (the URL the crawl asked for;
        ``redirects``: where it was sent from there): the next attempt is due after
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
                "run_id": run_id, "kind": kind,
                "redirects": json.dumps(redirects) if redirects else None,
            }, "url")

    def record_missing_edition(self, article_id: str, edition: str, url: str,
                               http_status: int | None, run_id: int | None) -> None:
        """``article_id`` has no ``edition`` (its page there answered 404): a fact about
        the article, kept once, not a failure to retry. Closes a failure left there by
        an older pdarchive."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO missing_editions (article_id, edition, url, http_status, seen_at, "
                "run_id) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (article_id, edition) DO UPDATE "
                "SET seen_at = excluded.seen_at, run_id = excluded.run_id",
                [article_id, edition, url, http_status, utc_now(), run_id])
            self._clear_failures([url])

    def article_editions(self) -> dict[str, set[str]]:
        """Per archived article, the editions it has pages of or is known to lack."""
        held: dict[str, set[str]] = {}
        for article_id, edition in self.conn.execute(
                "SELECT DISTINCT article_id, edition FROM pages WHERE kind = 'article' "
                "UNION SELECT article_id, edition FROM missing_editions"):
            held.setdefault(article_id, set()).add(edition)
        return held

    def columns_lacking_editions(self, editions: list[str]) -> set[str]:
        """Columns holding an article with no pages in one of ``editions``, not known
        to lack it and not failing there (those are retried as their backoff allows):
        ``--edition big5`` added to an existing archive."""
        lacking: set[str] = set()
        for edition in editions:
            lacking |= {row[0] for row in self.conn.execute(
                "SELECT DISTINCT a.column_id FROM articles AS a WHERE NOT EXISTS (SELECT 1 "
                "FROM pages AS p WHERE p.article_id = a.article_id AND p.edition = ?) "
                "AND NOT EXISTS (SELECT 1 FROM missing_editions AS m WHERE m.article_id = "
                "a.article_id AND m.edition = ?) AND NOT EXISTS (SELECT 1 FROM failures AS f "
                "WHERE f.article_id = a.article_id AND f.stage != 'picture')",
                [edition, edition])}
        return lacking

    def missing_editions(self) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT * FROM missing_editions ORDER BY article_id, edition")

    def list_failures(self, column_id: str) -> list[dict[str, Any]]:
        """The open failures of a column's list pages: where its last walks stopped."""
        return self.rows(
            "SELECT * FROM failures WHERE stage = 'list' AND column_id = ? ORDER BY url",
            [column_id])

    def _clear_failures(self, urls: list[str]) -> None:
        for url in urls:
            self.db.execute("DELETE FROM failures WHERE url = ?", [url])

    def failures(self) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT * FROM failures ORDER BY last_seen_at DESC, url")

    def failures_due(self, now: str | None = None) -> list[dict[str, Any]]:
        """Failed URLs whose backoff has expired: the next crawl tries them again."""
        return self.rows(
            "SELECT * FROM failures WHERE next_attempt_at <= ? ORDER BY url",
            [now or utc_now()])
