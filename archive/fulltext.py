"""The full-text index: an FTS5 table of normalised bigram terms, one row per article.

Kept current by ``Archive`` in the same transaction as the article it indexes;
``rebuild`` re-creates it from the articles table (``pdarchive reindex``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from .textnorm import terms

TABLE = "articles_fts"
#: indexed columns, and their BM25 weights (the title counts above the body)
COLUMNS = ("title", "body", "source", "people")
WEIGHTS = (10.0, 1.0, 2.0, 2.0)


def ensure_schema(db: sqlite_utils.Database) -> None:
    db.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
        f"{', '.join(COLUMNS)}, tokenize='ascii')"
    )


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return list(json.loads(value or "[]"))
    return list(value or [])


def document(article: dict[str, Any]) -> tuple[str, str, str, str]:
    """The indexed text of an article (the BIG5 edition's text when it has only that)."""
    title = " ".join(filter(None, (article.get("pretitle"), article.get("title"),
                                   article.get("subtitle"))))
    body = "\n".join(_as_list(article.get("body")))
    people = " ".join(
        _as_list(article.get("editors")) + _as_list(article.get("authors"))
        + _as_list(article.get("photographers"))
    )
    return terms(title), terms(body), terms(article.get("source") or ""), terms(people)


def index_article(db: sqlite_utils.Database, rowid: int, article: dict[str, Any]) -> None:
    db.execute(f"DELETE FROM {TABLE} WHERE rowid = ?", [rowid])
    db.execute(
        f"INSERT INTO {TABLE} (rowid, {', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?)",
        [rowid, *document(article)],
    )


def rebuild(db: sqlite_utils.Database, articles: Iterable[tuple[int, dict[str, Any]]]) -> int:
    """Drop and refill the index from ``(rowid, article)`` pairs; returns the count."""
    db.execute(f"DROP TABLE IF EXISTS {TABLE}")
    ensure_schema(db)
    count = 0
    for rowid, article in articles:
        db.execute(
            f"INSERT INTO {TABLE} (rowid, {', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?)",
            [rowid, *document(article)],
        )
        count += 1
    return count
