"""Which articles a search or an export takes: publication dates, column, source."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from .fulltext import ROWID_SLOTS, minute_key


@dataclass(frozen=True)
class Filters:
    """``since``/``until`` are dates or timestamps (``until`` 2021-01-15 takes in that
    whole day); ``column`` a column id; ``source`` text the source contains;
    ``topic`` keeps articles whose score for that topic is at least ``min_score``."""

    since: str | None = None
    until: str | None = None
    column: str | None = None
    source: str | None = None
    topic: str | None = None
    min_score: float | None = None

    def clauses(self, table: str = "articles") -> tuple[list[str], list[Any]]:
        """SQL conditions on ``table`` (the articles table or its alias), and their
        parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.since:
            clauses.append(f"{table}.published_at >= ?")
            params.append(self.since)
        if self.until:
            clauses.append(f"substr({table}.published_at, 1, ?) <= ?")
            params += [len(self.until), self.until]
        if self.column:
            clauses.append(f"{table}.column_id = ?")
            params.append(self.column)
        if self.source:
            # sources are stored NFKC-folded (人民网－江苏频道 → 人民网-江苏频道)
            clauses.append(f"instr({table}.source, ?) > 0")
            params.append(unicodedata.normalize("NFKC", self.source))
        if self.topic:
            clauses.append(
                f"EXISTS (SELECT 1 FROM article_topics AS t WHERE t.article_id = "
                f"{table}.article_id AND t.topic = ? AND t.score >= ?)")
            params += [self.topic, self.min_score or 0.0]
        return clauses, params

    def rowid_range(self) -> tuple[int, int]:
        """Bounds on ``articles.rowid`` (which follows publication time, see
        fulltext.article_rowid) that hold every article within the dates: the index
        seeks to them instead of testing every match."""
        low = minute_key(self.since) * ROWID_SLOTS if self.since else 0
        high = ((minute_key(self.until, pad="9") + 1) * ROWID_SLOTS - 1 if self.until
                else 2**63 - 1)
        return low, high
