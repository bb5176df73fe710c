"""The full-text index: FTS5 over normalised bigram terms, one row per article.

Two tables, kept current by ``Archive.save_article`` in the same transaction as the
article they index, and re-created from the articles table by ``rebuild``
(``pdarchive reindex``):

- ``articles_fts``: a contentless FTS5 table (``tokenize='ascii'`` over the terms of
  textnorm.index_terms, ``prefix='1'`` so that one-character queries are prefix
  queries served from their own index: at 100,000 articles a common character is
  found four times faster with it, for 60% more index; bench/prefix_index.py) whose
  rowid is ``articles.rowid``. Columns: ``title`` (pre-title, title and subtitle),
  ``body``, ``source`` and ``people`` (editors, authors, photographers).
- ``search_text``: the normalised text of those columns and its length in terms,
  per article. Search counts its hits there to rank (see archive/search.py), and the
  index is updated from it: a contentless table forgets what it indexed, and taking
  a row out of it takes the row's terms.

An article with both editions is indexed by its GB text; BIG5-only articles by their
own text. Both normalise to simplified script, so either finds the other.

``article_rowid`` makes ``articles.rowid`` follow publication time, so that the index
lists matches newest first for free: search ranks the most recent matches when a
query matches too many to rank them all, and date filters become rowid ranges.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .textnorm import index_terms, normalise, token_count

if TYPE_CHECKING:
    import sqlite_utils

TABLE = "articles_fts"
TEXT_TABLE = "search_text"
#: indexed columns, and their BM25 weights (the title counts above the body)
COLUMNS = ("title", "body", "source", "people")
WEIGHTS = (10.0, 1.0, 2.0, 2.0)
#: rowids per minute of publication time: rowid = YYYYMMDDHHMM * ROWID_SLOTS + n.
#: Stays below 2**53 (exact in JavaScript, i.e. in Datasette's JSON) until year 9007.
ROWID_SLOTS = 10_000
_DIGITS = re.compile(r"\d")


def ensure_schema(db: sqlite_utils.Database, *, prefix: bool = True) -> None:
    """The index's two tables. ``prefix=False`` leaves out the one-character prefix
    index: only bench/prefix_index.py and bench/write.py, to measure what it costs."""
    prefix_index = ", prefix='1'" if prefix else ""
    db.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
        f"{', '.join(COLUMNS)}, content='', tokenize='ascii'{prefix_index})"
    )
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {TEXT_TABLE} (rowid INTEGER PRIMARY KEY, "
        f"article_id TEXT NOT NULL UNIQUE, {', '.join(f'{c} TEXT' for c in COLUMNS)}, "
        "length INTEGER NOT NULL)"
    )


def minute_key(published_at: str, *, pad: str = "0") -> int:
    """The first twelve digits of a timestamp (YYYYMMDDHHMM), missing ones ``pad``."""
    digits = "".join(_DIGITS.findall(published_at))[:12]
    return int(digits.ljust(12, pad))


def article_rowid(db: sqlite_utils.Database, published_at: str, current: int | None) -> int:
    """The rowid an article published at ``published_at`` gets: the first free slot
    of its minute, or ``current`` (its rowid now) when that is already in the minute."""
    first = minute_key(published_at) * ROWID_SLOTS
    last = first + ROWID_SLOTS - 1
    if current is not None and first <= current <= last:
        return current
    taken = db.execute("SELECT max(rowid) FROM articles WHERE rowid BETWEEN ? AND ?",
                       [first, last]).fetchone()[0]
    if taken is None:
        return first
    if taken == last:
        raise ValueError(f"more than {ROWID_SLOTS} articles published at {published_at}")
    return int(taken) + 1


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return list(json.loads(value or "[]"))
    return list(value or [])


def document(article: dict[str, Any]) -> tuple[str, str, str, str]:
    """The normalised text of each indexed column of an article (a record or a row)."""
    title = " ".join(filter(None, (article.get("pretitle"), article.get("title"),
                                   article.get("subtitle"), article.get("original_title"))))
    body = "\n".join(_as_list(article.get("body")))
    people = " ".join(
        _as_list(article.get("editors")) + _as_list(article.get("authors"))
        + _as_list(article.get("photographers"))
    )
    return (normalise(title), normalise(body), normalise(article.get("source") or ""),
            normalise(people))


#: statements on the FTS5 table held back to the end of a batch (``Archive.begin_batch``)
Deferred = list[tuple[str, list[Any]]]


def _write_index(db: sqlite_utils.Database, sql: str, params: list[Any],
                 deferred: Deferred | None) -> None:
    if deferred is None:
        db.execute(sql, params)
    else:
        deferred.append((sql, params))


def write_deferred(connection: sqlite3.Connection, deferred: Deferred) -> None:
    """Run the FTS5 statements a batch held back, in order, and forget them.

    Why they wait: FTS5 keeps what it is given in memory until a savepoint or the
    commit, then writes it out as a new segment (to be merged later). SQLite opens a
    statement savepoint on every table in the transaction for any statement that may
    fail halfway (an upsert, an insert into a table with a unique index): storing an
    article takes several, so indexing it among them wrote one segment per article.
    Written last, a batch's index rows make one segment.
    """
    for sql, params in deferred:
        connection.execute(sql, params)
    deferred.clear()


def _insert(db: sqlite_utils.Database, rowid: int, article_id: str,
            texts: tuple[str, ...], deferred: Deferred | None = None) -> None:
    db.execute(f"INSERT INTO {TEXT_TABLE} (rowid, article_id, {', '.join(COLUMNS)}, length) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)",
               [rowid, article_id, *texts, sum(map(token_count, texts))])
    _write_index(db, f"INSERT INTO {TABLE} (rowid, {', '.join(COLUMNS)}) "
                 "VALUES (?, ?, ?, ?, ?)", [rowid, *map(index_terms, texts)], deferred)


def _remove(db: sqlite_utils.Database, article_id: str, deferred: Deferred | None) -> None:
    """Take an article out of the index, by the terms its stored text gives."""
    row = db.execute(f"SELECT rowid, {', '.join(COLUMNS)} FROM {TEXT_TABLE} "
                     "WHERE article_id = ?", [article_id]).fetchone()
    if row is None:
        return
    _write_index(db, f"INSERT INTO {TABLE} ({TABLE}, rowid, {', '.join(COLUMNS)}) "
                 "VALUES ('delete', ?, ?, ?, ?, ?)", [row[0], *map(index_terms, row[1:])],
                 deferred)
    db.execute(f"DELETE FROM {TEXT_TABLE} WHERE rowid = ?", [row[0]])


def index_article(db: sqlite_utils.Database, rowid: int, article: dict[str, Any],
                  deferred: Deferred | None = None) -> None:
    """(Re-)index an article stored at ``rowid``, wherever it was indexed before; the
    FTS5 statements appended to ``deferred`` when given (see ``write_deferred``)."""
    _remove(db, article["article_id"], deferred)
    _insert(db, rowid, article["article_id"], document(article), deferred)


def rebuild(db: sqlite_utils.Database,
            on_progress: Callable[[int, int], None] | None = None, *,
            prefix: bool = True) -> int:
    """Drop and refill the index from the articles table, then optimise it (one merged
    segment: the fastest to query); returns how many articles it holds.
    ``on_progress(done, total)`` is told after each article; ``prefix``: as for
    ensure_schema."""
    db.execute(f"DROP TABLE IF EXISTS {TABLE}")
    db.execute(f"DROP TABLE IF EXISTS {TEXT_TABLE}")
    ensure_schema(db, prefix=prefix)
    total = int(db.execute("SELECT count(*) FROM articles").fetchone()[0])
    cursor = db.execute("SELECT rowid, article_id, pretitle, title, subtitle, original_title, "
                        "body, source, editors, authors, photographers FROM articles")
    names = [description[0] for description in cursor.description]
    count = 0
    for values in cursor:
        row = dict(zip(names, values, strict=True))
        _insert(db, row["rowid"], row["article_id"], document(row))
        count += 1
        if on_progress is not None:
            on_progress(count, total)
    db.execute(f"INSERT INTO {TABLE} ({TABLE}) VALUES ('optimize')")
    return count


def totals(db: sqlite_utils.Database) -> tuple[int, int]:
    """Rows indexed and their terms in all columns: the statistics BM25 needs.

    Read from FTS5's own "averages" record (rowid 1 of ``articles_fts_data``: a varint
    row count, then a varint term count per column), which FTS5 keeps exact, in O(1).
    """
    row = db.execute(f"SELECT block FROM {TABLE}_data WHERE id = 1").fetchone()
    values = list(_varints(row[0] if row else b""))
    return (values[0], sum(values[1:])) if values else (0, 0)


def _varints(data: bytes) -> Iterator[int]:
    """SQLite's variable-length integers, as FTS5 writes them."""
    index = 0
    while index < len(data):
        value = 0
        for position in range(9):
            byte = data[index]
            index += 1
            if position == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        yield value
