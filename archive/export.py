"""Articles out of the archive as records, streamed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from .record import RECORD_FIELDS
from .store import Archive, _decode_row

EXTRA_FIELDS = ("pages", "fetched_at", "first_seen_at", "updated_at")


@dataclass(frozen=True)
class Filters:
    since: str | None = None
    until: str | None = None
    column: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.since:
            clauses.append("published_at >= ?")
            params.append(self.since)
        if self.until:
            # --until 2021-01-15 includes that whole day
            clauses.append("substr(published_at, 1, ?) <= ?")
            params += [len(self.until), self.until]
        if self.column:
            clauses.append("column_id = ?")
            params.append(self.column)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def export_record(row: dict[str, Any]) -> dict[str, Any]:
    """The exported article: DESIGN.md's record, merged over pages, plus archive fields."""
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


def iter_records(archive: Archive, filters: Filters = Filters()) -> Iterator[dict[str, Any]]:
    """Every matching article, oldest first, one row in memory at a time."""
    where, params = filters.where()
    cursor = archive.db.conn.execute(
        f"SELECT * FROM articles{where} ORDER BY published_at, article_id", params)
    names = [description[0] for description in cursor.description]
    for values in cursor:
        yield export_record(dict(zip(names, values, strict=True)))


def write_jsonl(records: Iterator[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False))
        out.write("\n")
        count += 1
    return count
