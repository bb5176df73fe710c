"""Archives as older pdarchive versions left them, made from a current one, for the
tests of the migrations: each function undoes one migration of archive/store.py."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def as_schema_4(db: Path) -> None:
    """Undo migration 5: one page row per URL again, no captures, blobs or links."""
    with sqlite3.connect(db) as connection:
        connection.executescript(
            "CREATE TABLE old_pages (url TEXT PRIMARY KEY, kind TEXT, article_id TEXT "
            "REFERENCES articles(article_id), edition TEXT, page INTEGER, status INTEGER, "
            "headers TEXT, content_type TEXT, encoding TEXT, extractor TEXT, sha256 TEXT, "
            "size INTEGER, body BLOB, fetched_at TEXT, run_id INTEGER);"
            "INSERT INTO old_pages SELECT * FROM pages;"
            "DROP VIEW pages; DROP TABLE version_captures; DROP TABLE captures; "
            "DROP TABLE blobs; ALTER TABLE old_pages RENAME TO pages;"
            "CREATE INDEX idx_pages_article_id ON pages (article_id);"
            "PRAGMA user_version = 4;")
    connection.close()


def as_schema_3(db: Path) -> None:
    """Undo migrations 5 and 4: no failure kinds or redirects, no missing editions."""
    as_schema_4(db)
    with sqlite3.connect(db) as connection:
        connection.executescript(
            "DROP TABLE missing_editions;"
            "ALTER TABLE failures DROP COLUMN kind;"
            "ALTER TABLE failures DROP COLUMN redirects;"
            "PRAGMA user_version = 3;")
    connection.close()
