"""Articles out of the archive as records, streamed: JSON Lines, JSON, CSV.

Every writer takes records one at a time from ``iter_json`` or ``iter_records`` (a
cursor over the articles table) and writes each at once, so memory stays flat
however many there are. JSON is one array, written as it goes: ``[``, records
separated by ``,\\n``, ``]``.

CSV has one row per article, the fields of the JSON record as columns in the same
order (``FIELDS``), so that it opens in a spreadsheet: lists of names (editors,
authors, photographers) and ``editions`` are joined with ``、``; ``body`` (its
paragraphs) and ``pages`` (URLs) are joined with newlines, inside the quoted cell;
``images`` and ``big5`` (structured) are JSON. Paragraphs and names never hold those
separators (the parser normalises whitespace and splits names on ``、``), so the
joins can be undone. Rows end with CRLF, as RFC 4180 and spreadsheets expect; the
``bom`` option, for Excel, starts the file with a UTF-8 byte order mark, without
which Excel reads UTF-8 as the local code page, and neutralises formulas: a
spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some,
tab or carriage return) as a formula, and crawled text is not ours to run
(``=HYPERLINK(…)`` can send what the sheet holds elsewhere). Such a cell gets a
leading ``'``, OWASP's rule for CSV injection, which spreadsheets show as text and
hide. Without ``bom`` every cell is exactly the record's.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring
from typing import IO, Any

from . import fulltext
from .filters import Filters
from .record import RECORD_FIELDS
from .search import compile_query
from .store import Archive, ArchiveError, _decode_row

EXTRA_FIELDS = ("pages", "fetched_at", "first_seen_at", "updated_at")
#: every column an exported record draws on, in the record's order
FIELDS = (*RECORD_FIELDS, *EXTRA_FIELDS, "editions", "big5", "extractor")
#: the columns of ``FIELDS`` that hold JSON text
JSON_FIELDS = ("editors", "authors", "photographers", "body", "images", "pages", "editions",
               "big5")
NO_FILTERS = Filters()
#: how CSV joins the items of a list column; other lists and objects are JSON
CSV_JOINS = {"editors": "、", "authors": "、", "photographers": "、", "editions": "、",
             "body": "\n", "pages": "\n"}


def export_record(row: dict[str, Any]) -> dict[str, Any]:
    """The exported article: the record of docs/ARCHITECTURE.md (*The record*), merged
    over pages, plus archive fields."""
    row = _decode_row(dict(row))
    record = {field: row.get(field) for field in RECORD_FIELDS}
    for field in EXTRA_FIELDS:
        record[field] = row.get(field)
    if row.get("editions"):
        record["editions"] = row["editions"]
        for edition in row["editions"]:
            if row.get(edition):
                record[edition] = row[edition]
    if row.get("extractor"):
        record["extractor"] = row["extractor"]
    return record


def _select(archive: Archive, filters: Filters, query: str | None,
            columns: str) -> sqlite3.Cursor:
    """The matching articles, oldest first (compiling ``query`` raises QueryError)."""
    clauses, params = filters.clauses()
    if query is not None:
        clauses.append(f"rowid IN (SELECT rowid FROM {fulltext.TABLE} "
                       f"WHERE {fulltext.TABLE} MATCH ?)")
        params.append(compile_query(query))
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return archive.conn.execute(
        f"SELECT {columns} FROM articles{where} ORDER BY published_at, article_id", params)


def _damaged(archive: Archive, article_id: Any, error: Exception) -> ArchiveError:
    return ArchiveError(f"article {article_id} in {archive.path} is damaged: {error}")


def iter_records(archive: Archive, filters: Filters = NO_FILTERS,
                 query: str | None = None) -> Iterator[dict[str, Any]]:
    """Every matching article (and matching ``query``, if given: see archive.search),
    oldest first, one row in memory at a time. A query with nothing to search for
    raises search.QueryError here; a damaged row, ArchiveError when it is reached."""
    return _records(archive, _select(archive, filters, query, "*"))


def _records(archive: Archive, cursor: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    names = [description[0] for description in cursor.description]
    for values in cursor:
        row = dict(zip(names, values, strict=True))
        try:
            yield export_record(row)
        except ValueError as error:  # a JSON column that does not parse
            raise _damaged(archive, row.get("article_id"), error) from error


def iter_json(archive: Archive, filters: Filters = NO_FILTERS,
              query: str | None = None) -> Iterator[bytes]:
    """The records of ``iter_records`` as compact JSON in UTF-8, built by SQLite
    (json_object), which validates the stored JSON columns as it goes: decoding them
    into Python and encoding them again was most of an export's time."""
    members = ", ".join(f"'{field}', " + (f"json({field})" if field in JSON_FIELDS else field)
                        for field in (*RECORD_FIELDS, *EXTRA_FIELDS))
    cursor = _select(archive, filters, query,
                     f"CAST(json_object({members}) AS BLOB), CAST(json(editions) AS BLOB), "
                     "CAST(json(big5) AS BLOB), extractor")
    return _json_texts(archive, cursor)


def _json_texts(archive: Archive, cursor: sqlite3.Cursor) -> Iterator[bytes]:
    try:
        for record, editions, big5, extractor in cursor:
            extra = []  # the members export_record adds when there is something to add
            names = json.loads(editions) if editions else None
            if names:
                extra.append(b'"editions":' + editions)
                if big5 and "big5" in names:
                    extra.append(b'"big5":' + big5)
            if extractor:
                extra.append(b'"extractor":' + encode_basestring(extractor).encode())
            yield record[:-1] + b"," + b",".join(extra) + b"}" if extra else record
    except sqlite3.OperationalError as error:
        if "malformed JSON" not in str(error):  # json() of a damaged column
            raise
        damaged = archive.conn.execute(
            "SELECT article_id FROM articles WHERE NOT (" + " AND ".join(
                f"json_valid(coalesce({column}, 'null'))" for column in JSON_FIELDS)
            + ") LIMIT 1").fetchone()
        raise _damaged(archive, damaged[0] if damaged else "?", error) from error


def write_jsonl(records: Iterable[bytes], out: IO[bytes]) -> int:
    """One JSON text (``iter_json``) a line."""
    count = 0
    for record in records:
        out.write(record)
        out.write(b"\n")
        count += 1
    return count


def write_json(records: Iterable[bytes], out: IO[bytes]) -> int:
    """One JSON array of the JSON texts (``iter_json``), streamed."""
    count = 0
    out.write(b"[")
    for record in records:
        out.write(b",\n" if count else b"\n")
        out.write(record)
        count += 1
    out.write(b"\n]\n" if count else b"]\n")
    return count


def _csv_cell(field: str, value: Any) -> Any:
    if value is None:
        return ""
    if field in CSV_JOINS and isinstance(value, list):
        return CSV_JOINS[field].join(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


#: what a spreadsheet takes a cell starting with for a formula (OWASP, CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(cell: Any) -> Any:
    """``cell`` with a leading ``'`` if a spreadsheet would run it as a formula."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def write_csv(records: Iterator[dict[str, Any]], out: IO[str], *, bom: bool = False) -> int:
    """A header row, then one row per article (``out`` opened with ``newline=""``).
    ``bom``: for Excel, a byte order mark first and formulas neutralised."""
    if bom:
        out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    count = 0
    for record in records:
        cells = [_csv_cell(field, record.get(field)) for field in FIELDS]
        writer.writerow([neutralise_formula(cell) for cell in cells] if bom else cells)
        count += 1
    return count
