"""What the fault, operations and process-fault tests check in an archive file.

Read straight from SQLite (no pdarchive code), so a bug in the store cannot hide
itself from the check; and how they wait for a crawl to get somewhere.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

#: the fields of an expected article (tests.support.mirror EXPECTED.json, the reference
#: crawl_360300_gb.json) that the articles table holds as they are
_PLAIN = ("url", "column_id", "title", "pretitle", "subtitle", "published_at", "source",
          "source_url")
_JSON = ("body", "editors", "authors", "images")


def _connect(db: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    connection.row_factory = sqlite3.Row
    return connection


def articles(db: Path) -> dict[str, dict[str, Any]]:
    """article_id → the whole articles row."""
    with _connect(db) as connection:
        return {row["article_id"]: dict(row)
                for row in connection.execute("SELECT * FROM articles")}


def article_count(db: Path) -> int:
    with _connect(db) as connection:
        return int(connection.execute("SELECT count(*) FROM articles").fetchone()[0])


def failures(db: Path) -> dict[str, dict[str, Any]]:
    """url → the open failure."""
    with _connect(db) as connection:
        return {row["url"]: dict(row) for row in connection.execute("SELECT * FROM failures")}


def runs(db: Path) -> list[dict[str, Any]]:
    """Every run, oldest first."""
    with _connect(db) as connection:
        return [dict(row) for row in connection.execute("SELECT * FROM runs ORDER BY id")]


def page_row(db: Path, url: str) -> dict[str, Any] | None:
    with _connect(db) as connection:
        row = connection.execute("SELECT * FROM pages WHERE url = ?", [url]).fetchone()
        return dict(row) if row else None


def integrity(db: Path) -> str:
    with _connect(db) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_article_is(row: dict[str, Any], expected: dict[str, Any]) -> None:
    """A stored article row holds exactly the expected record's text."""
    for key in _PLAIN:
        assert row[key] == expected[key], (expected["url"], key)
    for key in _JSON:
        assert json.loads(row[key]) == expected[key], (expected["url"], key)


def assert_every_article_is_expected(db: Path, expected: list[dict[str, Any]]) -> None:
    """Every stored article is one of ``expected``, whole and right (none half
    written, none twice: article_id is the primary key)."""
    by_id = {record["article_id"]: record for record in expected}
    for article_id, row in articles(db).items():
        assert article_id in by_id, f"an article that should not exist: {row['url']}"
        assert_article_is(row, by_id[article_id])


def wait_until(condition: Any, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stored(db: Path) -> int:
    """How many articles ``db`` holds; 0 while it is not made yet, or mid-migration."""
    try:
        return article_count(db)
    except Exception:  # noqa: BLE001 (no file, no table yet, a migration under way)
        return 0
