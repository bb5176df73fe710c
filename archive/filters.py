"""Which articles a search or an export takes: publication times, column, source, topic.

Times are compared as instants. Stored publication times are Beijing time written
one way (``2020-10-19T14:37:00+08:00``), so a bound is converted to Beijing time and
written the same way, and the strings then compare as the instants do. A bound may
be a date (``2021-01-15``, ``2021/1/15``, ``2021年1月15日``), a month (``2021-01``,
``2021年1月``), a year, or a time with or without a zone (``2021-01-15T03:00:00Z``;
none: Beijing time). ``until`` takes in all of the period it names: until 2021-01
is until the end of January. Anything else raises FilterError, with what was wrong.

The source filter folds as the query does (textnorm.normalise: scripts, widths,
case, punctuation), matched in the normalised text the index keeps (``search_text``),
so ``人民網`` finds ``人民网-江苏频道``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .fulltext import ROWID_SLOTS, TEXT_TABLE, minute_key
from .textnorm import normalise

BEIJING = timezone(timedelta(hours=8))
#: a date, a month or a year: 2021-01-15, 2021/1/15, 2021.1.15, 2021年1月15日, 2021-01, 2021
_PERIOD = re.compile(
    r"(\d{4})(?:\s*[-/.年]\s*(\d{1,2})(?:\s*[-/.月]\s*(\d{1,2})\s*日?|\s*月)?)?\s*年?")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?",
                   re.IGNORECASE)


class FilterError(ValueError):
    """A filter that cannot be applied as given; the message says why."""


def _stamp(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M:%S+08:00")


def parse_time(text: str, *, end: bool = False) -> str:
    """The Beijing-time timestamp a bound stands for: the start of the period it
    names, or with ``end`` the start of the next one (an exclusive bound). Raises
    FilterError for anything it cannot read."""
    value = text.strip()
    if _TIME.fullmatch(value):
        try:
            moment = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError as error:
            raise FilterError(f"not a date or time: {text!r} ({error})") from error
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=BEIJING)
        # stored times are to the second: the second named is taken in
        return _stamp(moment.replace(microsecond=0) + timedelta(seconds=1) if end else moment)
    found = _PERIOD.fullmatch(value)
    if not found:
        raise FilterError(f"not a date: {text!r} (write it as 2021-01-15, 2021-01 or "
                          "2021年1月15日)")
    year, month, day = int(found[1]), found[2], found[3]
    try:
        start = date(year, int(month or 1), int(day or 1))
    except ValueError as error:
        raise FilterError(f"no such date: {text!r} ({error})") from error
    if not end:
        first = start
    elif day:
        first = start + timedelta(days=1)
    elif month:
        first = date(year + (start.month == 12), start.month % 12 + 1, 1)
    else:
        first = date(year + 1, 1, 1)
    return f"{first.isoformat()}T00:00:00+08:00"


@dataclass(frozen=True)
class Filters:
    """``since``/``until`` are dates or times as the module docstring says (``until``
    2021-01-15 takes in that whole day); ``column`` a column id; ``source`` text the
    source contains (folded as queries are); ``topic`` keeps articles whose score for
    that topic is at least ``min_score``; ``edition`` gb or big5. Raises FilterError
    when a value cannot be used."""

    since: str | None = None
    until: str | None = None
    column: str | None = None
    source: str | None = None
    topic: str | None = None
    min_score: float | None = None
    edition: str | None = None
    #: the exclusive Beijing-time bounds since and until stand for
    start: str | None = field(default=None, init=False, compare=False)
    stop: str | None = field(default=None, init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", parse_time(self.since) if self.since else None)
        object.__setattr__(self, "stop", parse_time(self.until, end=True)
                           if self.until else None)

    def clauses(self, table: str = "articles") -> tuple[list[str], list[Any]]:
        """SQL conditions on ``table`` (the articles table or its alias), and their
        parameters: export's and stats' (search tests the index's rowids instead,
        rowid_range and rowid_clauses)."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.start:
            clauses.append(f"{table}.published_at >= ?")
            params.append(self.start)
        if self.stop:
            clauses.append(f"{table}.published_at < ?")
            params.append(self.stop)
        self._other_clauses(table, clauses, params)
        return clauses, params

    def time_clauses(self, table: str = "articles") -> tuple[list[str], list[Any]]:
        """What the dates need beyond ``rowid_range``: nothing unless a bound is not
        on a whole minute."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.start and not self.start.endswith(":00+08:00"):
            clauses.append(f"{table}.published_at >= ?")
            params.append(self.start)
        if self.stop and not self.stop.endswith(":00+08:00"):
            clauses.append(f"{table}.published_at < ?")
            params.append(self.stop)
        return clauses, params

    def _other_clauses(self, table: str, clauses: list[str], params: list[Any]) -> None:
        if self.column:
            clauses.append(f"{table}.column_id = ?")
            params.append(self.column)
        if self.edition:
            clauses.append(f"{table}.edition = ?")
            params.append(self.edition)
        if self.source and normalise(self.source):
            clauses.append(f"{table}.rowid IN (SELECT rowid FROM {TEXT_TABLE} "
                           f"WHERE instr({TEXT_TABLE}.source, ?) > 0)")
            params.append(normalise(self.source))
        if self.topic:
            clauses.append(
                f"EXISTS (SELECT 1 FROM article_topics AS t WHERE t.article_id = "
                f"{table}.article_id AND t.topic = ? AND t.score >= ?)")
            params += [self.topic, self.min_score or 0.0]

    def other_clauses(self, table: str = "articles") -> tuple[list[str], list[Any]]:
        """The conditions besides the dates."""
        clauses: list[str] = []
        params: list[Any] = []
        self._other_clauses(table, clauses, params)
        return clauses, params

    def rowid_clauses(self, rowid: str, sources: Sequence[str] | None = None
                      ) -> tuple[list[str], list[Any]]:
        """Every condition but ``rowid_range`` as a test of ``rowid`` (an articles
        rowid: the full-text index's, in search), each against a set of rowids that
        an index of the archive gives in one pass. Testing each of 100,000 matches
        by looking its article up took a second; these sets take milliseconds.
        ``sources``: the archive's sources that the source filter keeps (see
        ``matching_sources``); without them the source is read from the index's
        folded text, which is slower."""
        clauses: list[str] = []
        params: list[Any] = []

        def among(where: str, *values: Any) -> None:
            clauses.append(f"{rowid} IN (SELECT rowid FROM articles WHERE {where})")
            params.extend(values)

        if self.start and not self.start.endswith(":00+08:00"):
            among("published_at >= ?", self.start)
        if self.stop and not self.stop.endswith(":00+08:00"):
            among("published_at < ?", self.stop)
        if self.column:
            among("column_id = ?", self.column)
        if self.edition:
            among("edition = ?", self.edition)
        if self.source and normalise(self.source):
            if sources is None:
                clauses.append(f"{rowid} IN (SELECT rowid FROM {TEXT_TABLE} "
                               f"WHERE instr({TEXT_TABLE}.source, ?) > 0)")
                params.append(normalise(self.source))
            else:
                among("source IN (SELECT value FROM json_each(?))", json.dumps(list(sources)))
        if self.topic:
            clauses.append(
                f"{rowid} IN (SELECT a.rowid FROM article_topics AS t JOIN articles AS a "
                "ON a.article_id = t.article_id WHERE t.topic = ? AND t.score >= ?)")
            params += [self.topic, self.min_score or 0.0]
        return clauses, params

    def matching_sources(self, distinct: Iterable[str | None]) -> list[str]:
        """Those of the ``distinct`` sources of an archive the source filter keeps."""
        needle = normalise(self.source or "")
        return [source for source in distinct if source and needle in normalise(source)]

    @property
    def only_dates(self) -> bool:
        """Nothing but dates: the index's rowid range is all the filtering needed."""
        return not (self.column or self.edition or self.source or self.topic
                    or self.time_clauses()[0])

    def rowid_range(self) -> tuple[int, int]:
        """Bounds on ``articles.rowid`` (which follows publication time, see
        fulltext.article_rowid) that hold every article within the dates: the index
        seeks to them instead of testing every match. Exact for bounds on a whole
        minute (every date); for others the clauses add the seconds."""
        low = minute_key(self.start) * ROWID_SLOTS if self.start else 0
        high = 2**63 - 1
        if self.stop:
            minutes = minute_key(self.stop) + (not self.stop.endswith(":00+08:00"))
            high = minutes * ROWID_SLOTS - 1
        return low, high
