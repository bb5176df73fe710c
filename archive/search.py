"""Full-text search of the archive in either script, ranked by BM25.

Matching. Text and queries are normalised alike (textnorm: NFKC, traditional →
simplified, lower case, every character that is not a letter or digit a space) and
the index holds overlapping character bigrams, so an article matches a query word
exactly when the word's normalised form is a substring of the normalised text of
one of the article's fields (title block, body, source, people). Query syntax:
whitespace separates words that must all occur (in any fields); ``"..."`` is one
phrase, spaces and all; ``-word`` (or ``NOT word``) excludes; ``a OR b`` needs
either. Anything else is literal text: FTS5 syntax (``*``, ``(``, ``:``, ``NEAR``)
has no meaning here, an unmatched quote is punctuation, and punctuation inside a
word separates its letters as it does in the text (``党建，工作`` matches
``党建：工作``). A query with no letter or digit to search for raises QueryError.

Ranking. FTS5's own ``bm25()`` (k1 = 1.2, b = 0.75, column weights
fulltext.WEIGHTS: the title block ten times the body) over every match, best first,
ties newest first; or by publication time (``sort``: "newest", "oldest"), which the
index gives for free (rowids follow publication time, fulltext.article_rowid). Every
match is ranked and counted: over 100,000 articles the 100,000 matches of 党 take
about a tenth of a second in FTS5 (BENCHMARKS.md), so nothing is left out for speed.
A page is ``limit`` hits from ``offset``, with the exact total beside it.

Snippets. The hit is found again in the original text through the per-character
fold (textnorm.fold_with_offsets), so it is marked exactly, whatever the script.
``snippet`` and ``highlight`` mark with ``START``/``END`` (control characters, safe
to replace after HTML-escaping) unless told otherwise; ``pdarchive search`` marks
with ``«``/``»`` (JSON, and text not on a terminal) or bold colour on a terminal.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Protocol

from . import fulltext
from .filters import Filters
from .store import dict_rows
from .textnorm import fold_with_offsets, normalise, run_terms

#: default marks of ``snippet`` and ``highlight``
START, END = "\x02", "\x03"
#: marks in JSON output and in text output that is not a terminal
TEXT_MARKS = ("«", "»")
#: bold red, for a terminal
ANSI_MARKS = ("\x1b[1;31m", "\x1b[0m")
#: characters of context in a snippet
SNIPPET_WIDTH = 80
#: characters folded first when looking for a snippet's first hit, and the margin
#: kept from the end of what was folded (see _snippet_spans)
_FIRST_LOOK, _MARGIN = 400, 64
OPERATORS = ("OR", "AND", "NOT")
#: a quoted phrase (possibly excluded: -"..."), or a run of non-space characters
_TOKEN = re.compile(r'(-?)"([^"]*)"|\S+')


class Searchable(Protocol):
    """What search needs of an archive (store.Archive, or a connection in a wrapper):
    its SQLite connection."""

    conn: sqlite3.Connection


class QueryError(ValueError):
    """A query with nothing that can be searched for; the message says why."""


@dataclass(frozen=True)
class Phrase:
    """Normalised runs of letters and digits that must occur in this order, separated
    by anything that is not a letter or digit: ``党建，工作`` is ("党建", "工作")."""

    runs: tuple[str, ...]

    @property
    def needle(self) -> str:
        """What the phrase is in normalised text."""
        return " ".join(self.runs)

    def match(self) -> str:
        """The FTS5 phrase. Runs before the last are whole runs ending where the text's
        run ends: their bigrams and final unigram. The last run may go on in the text:
        its bigrams; a single character is a prefix term (every character starts a
        term), as is a one-character query."""
        terms = [term for run in self.runs[:-1] for term in run_terms(run)]
        last = self.runs[-1]
        if len(last) == 1:
            return f'"{" ".join([*terms, last])}"*'
        return f'"{" ".join(terms + run_terms(last)[:-1])}"'


@dataclass(frozen=True)
class _Term:
    phrase: Phrase
    negated: bool = False


@dataclass(frozen=True)
class _Dropped:
    """A word or phrase with nothing to search for (punctuation only, ``""``)."""

    text: str


@dataclass(frozen=True)
class Query:
    """Groups that must all match, each matching when any of its phrases does, and
    phrases that must not match."""

    groups: tuple[tuple[Phrase, ...], ...]
    excluded: tuple[Phrase, ...]

    @property
    def phrases(self) -> list[Phrase]:
        """The phrases that find articles, in query order (the BM25 sum runs over them)."""
        return [phrase for group in self.groups for phrase in group]

    def match(self) -> str:
        """The FTS5 MATCH expression."""
        wanted = " AND ".join(
            group[0].match() if len(group) == 1
            else "(" + " OR ".join(phrase.match() for phrase in group) + ")"
            for group in self.groups)
        if not self.excluded:
            return wanted
        return f"({wanted}) NOT ({' OR '.join(phrase.match() for phrase in self.excluded)})"


def _tokens(query: str) -> list[_Term | _Dropped | str]:
    """Words, phrases and operators; words and phrases with nothing to search for
    (punctuation only, an empty phrase) are _Dropped."""
    tokens: list[_Term | _Dropped | str] = []
    for match in _TOKEN.finditer(query):
        if match.group(2) is not None:
            negated, text = bool(match.group(1)), match.group(2)
        else:
            word = match.group(0)
            if word in OPERATORS:
                tokens.append(word)
                continue
            negated = word.startswith("-") and len(word) > 1
            text = word[1:] if negated else word
        runs = tuple(normalise(text).split())
        tokens.append(_Term(Phrase(runs), negated) if runs else _Dropped(match.group(0)))
    return tokens


def _without_dropped(tokens: list[_Term | _Dropped | str]) -> list[_Term | str]:
    """The tokens without the dropped ones. An operator next to one is an error:
    ``张鑫 OR ，`` is not a search for 张鑫 and the word "or"."""
    for index, token in enumerate(tokens):
        if not isinstance(token, _Dropped):
            continue
        for neighbour in tokens[max(0, index - 1):index] + tokens[index + 1:index + 2]:
            if isinstance(neighbour, str):
                raise QueryError(f"{neighbour} needs a word on each side, and {token.text!r} "
                                 "has no letter or digit to search for")
    return [token for token in tokens if not isinstance(token, _Dropped)]


def _apply_not(tokens: list[_Term | str]) -> list[_Term | str]:
    """``NOT`` before a word excludes it, like ``-``."""
    out: list[_Term | str] = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if token == "NOT" and isinstance(following, _Term):
            continue
        if isinstance(token, _Term) and index and tokens[index - 1] == "NOT":
            token = _Term(token.phrase, negated=True)
        out.append(token)
    return out


def parse_query(query: str) -> Query:
    """The structure of a user's query (see the module docstring for the syntax)."""
    tokens = _apply_not(_without_dropped(_tokens(query)))
    groups: list[list[Phrase]] = []
    excluded: list[Phrase] = []
    join_next = False
    for index, token in enumerate(tokens):
        if isinstance(token, str):
            before = tokens[index - 1] if index else None
            after = tokens[index + 1] if index + 1 < len(tokens) else None
            if isinstance(before, _Term) and isinstance(after, _Term):
                if token == "OR" and (before.negated or after.negated):
                    raise QueryError("OR joins words to find, not excluded ones")
                join_next = token == "OR"
                continue
            token = _Term(Phrase((token.lower(),)))  # an operator out of place is a word
        if token.negated:
            excluded.append(token.phrase)
        elif join_next:
            groups[-1].append(token.phrase)
        else:
            groups.append([token.phrase])
        join_next = False
    if not groups:
        raise QueryError("nothing to search for: every word is excluded" if excluded
                         else "nothing to search for: the query has no letter or digit")
    return Query(tuple(map(tuple, groups)), tuple(excluded))


def compile_query(query: str) -> str:
    """The FTS5 MATCH expression for a user's query; raises QueryError when it has
    nothing to search for. The result is always valid FTS5 syntax."""
    return parse_query(query).match()


# -- snippets ---------------------------------------------------------------------

@lru_cache(maxsize=256)
def _hit_pattern(needles: tuple[str, ...]) -> re.Pattern[str]:
    """Any needle in folded, uncollapsed text (where runs may be apart by several
    spaces); longer needles first, so that the longest hit is marked."""
    alternatives = sorted(set(needles), key=len, reverse=True)
    return re.compile("|".join(" +".join(map(re.escape, needle.split()))
                               for needle in alternatives))


def hit_spans(text: str, needles: Sequence[str]) -> list[tuple[int, int]]:
    """Where the needles (normalised phrases) occur in ``text``, as offsets into it."""
    if not needles or not text:
        return []
    folded, offsets = fold_with_offsets(text)
    spans: list[tuple[int, int]] = []
    for hit in _hit_pattern(tuple(needles)).finditer(folded):
        start, end = hit.span()
        if offsets is not None:
            start, end = offsets[start], offsets[end - 1] + 1
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def _snippet_spans(text: str, needles: Sequence[str], width: int) -> list[tuple[int, int]]:
    """The hits of the part of ``text`` that a snippet shows, the first one first.

    Folding is most of a snippet's cost and the first hit is mostly near the start,
    so a growing prefix is folded until the first hit and its window lie in it (a
    hit near the end of a prefix might be cut short, hence the margin)."""
    limit = _FIRST_LOOK
    while limit < len(text):
        spans = hit_spans(text[:limit], needles)
        if spans and spans[0][0] + width + _MARGIN <= limit:
            return [span for span in spans if span[1] <= limit - _MARGIN]
        limit *= 4
    return hit_spans(text, needles)


def _needles(query: str) -> tuple[str, ...]:
    try:
        return tuple(phrase.needle for phrase in parse_query(query).phrases)
    except QueryError:
        return ()


def _mark(text: str, spans: Iterable[tuple[int, int]], start: int, end: int,
          marks: tuple[str, str]) -> str:
    parts: list[str] = []
    position = start
    for hit_start, hit_end in spans:
        hit_start, hit_end = max(hit_start, start), min(hit_end, end)
        if hit_start >= hit_end:
            continue
        parts += [text[position:hit_start], marks[0], text[hit_start:hit_end], marks[1]]
        position = hit_end
    parts.append(text[position:end])
    return "".join(parts)


def _excerpt(text: str, spans: list[tuple[int, int]], width: int,
             marks: tuple[str, str]) -> str:
    """About ``width`` characters of ``text`` around its first hit, hits marked."""
    first = spans[0][0] if spans else 0
    start = max(0, min(first - width // 4, len(text) - width))
    end = min(len(text), start + width)
    excerpt = _mark(text, spans, start, end, marks).replace("\n", " ")
    return ("…" if start else "") + excerpt + ("…" if end < len(text) else "")


def snippet(text: str, query: str, width: int = SNIPPET_WIDTH, *,
            marks: tuple[str, str] = (START, END)) -> str:
    """An excerpt of ``text`` (paragraphs joined by newlines) around the first hit of
    ``query``, every hit in it between ``marks``; the start of the text if none."""
    return _excerpt(text, _snippet_spans(text, _needles(query), width), width, marks)


def highlight(text: str, query: str, *, marks: tuple[str, str] = (START, END)) -> str:
    """All of ``text``, every hit of ``query`` between ``marks``."""
    return _mark(text, hit_spans(text, _needles(query)), 0, len(text), marks)


# -- search -----------------------------------------------------------------------

@dataclass(frozen=True)
class Hit:
    article_id: str
    url: str
    title: str
    published_at: str
    source: str
    snippet: str
    score: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _articles(archive: Searchable, rowids: list[int]) -> dict[int, dict[str, Any]]:
    rows = dict_rows(archive.conn.execute(
        "SELECT rowid, article_id, url, pretitle, title, subtitle, published_at, source, "
        "body, editors, authors, photographers FROM articles "
        "WHERE rowid IN (SELECT value FROM json_each(?))", [json.dumps(rowids)]))
    return {row["rowid"]: row for row in rows}


def best_snippet(row: dict[str, Any], needles: Sequence[str],
                 marks: tuple[str, str]) -> str:
    """A snippet of the first field with a hit: body, title block, source, people."""
    people = [name for column in ("editors", "authors", "photographers")
              for name in json.loads(row[column] or "[]")]
    fields = ["\n".join(json.loads(row["body"] or "[]")),
              " ".join(filter(None, (row["pretitle"], row["title"], row["subtitle"]))),
              row["source"] or "", " ".join(people)]
    for text in fields:
        spans = _snippet_spans(text, needles, SNIPPET_WIDTH)
        if spans:
            return _excerpt(text, spans, SNIPPET_WIDTH, marks)
    return _excerpt(fields[0], [], SNIPPET_WIDTH, marks)


@contextmanager
def _snapshot(archive: Searchable) -> Iterator[None]:
    """One read transaction, so that a search's statements all see the same archive
    while a crawl commits (an article's rowid moves when its publication time does)."""
    connection = archive.conn
    if connection.in_transaction:
        yield
        return
    connection.execute("BEGIN")
    try:
        yield
    finally:
        connection.execute("COMMIT")


def _hit(row: dict[str, Any], score: float, needles: Sequence[str],
         marks: tuple[str, str]) -> Hit:
    return Hit(article_id=row["article_id"], url=row["url"], title=row["title"],
               published_at=row["published_at"], source=row["source"] or "",
               snippet=best_snippet(row, needles, marks), score=float(f"{score:.6g}"))


NO_FILTERS = Filters()
SORTS = ("relevance", "newest", "oldest")
_ORDER = {"relevance": "score DESC, f.rowid DESC", "newest": "f.rowid DESC",
          "oldest": "f.rowid ASC"}
#: the BM25 column weights as bm25() takes them
_WEIGHTS = ", ".join(str(weight) for weight in fulltext.WEIGHTS)


@dataclass(frozen=True)
class Page:
    """One page of a search: the exact number of matches, and the hits from ``offset``
    with their articles rows (column_id, edition, … for the browser)."""

    total: int
    offset: int
    hits: list[Hit]
    rows: list[dict[str, Any]]


def _matching(archive: Searchable, match: str, filters: Filters, select: str,
              within: tuple[int, int] | None = None) -> tuple[str, list[Any]]:
    """SQL (and parameters) selecting ``select`` from the matches of ``match`` that
    the filters keep: the dates as a rowid range the index seeks, the rest as sets of
    rowids (Filters.rowid_clauses) the index's rowids are tested against."""
    table = fulltext.TABLE
    sources = None
    if filters.source:
        sources = filters.matching_sources(
            row[0] for row in archive.conn.execute("SELECT DISTINCT source FROM articles"))
    # "+": tested row by row; pushed into FTS5 as a rowid constraint, each rowid of
    # the set became a query of its own
    clauses, params = filters.rowid_clauses("+f.rowid", sources)
    sql = (f"SELECT {select} FROM {table} AS f "
           f"WHERE {table} MATCH ? AND f.rowid BETWEEN ? AND ? "
           + "".join(f"AND {clause} " for clause in clauses))
    low, high = filters.rowid_range()
    if within is not None:
        low, high = max(low, within[0]), min(high, within[1])
    return sql, [match, low, high, *params]


def count(archive: Searchable, query: Query | str, filters: Filters = NO_FILTERS) -> int:
    """How many articles match, exactly."""
    parsed = parse_query(query) if isinstance(query, str) else query
    sql, params = _matching(archive, parsed.match(), filters, "count(*)")
    return int(archive.conn.execute(sql, params).fetchone()[0])


def matching_rowids(archive: Searchable, query: Query | str,
                    filters: Filters = NO_FILTERS) -> list[int]:
    """The rowids of every match, newest first (what facets count)."""
    parsed = parse_query(query) if isinstance(query, str) else query
    sql, params = _matching(archive, parsed.match(), filters, "f.rowid")
    return [row[0] for row in archive.conn.execute(sql + "ORDER BY f.rowid DESC", params)]


def ranked_rowids(archive: Searchable, query: Query | str, filters: Filters = NO_FILTERS,
                  *, sort: str = "relevance", offset: int = 0, limit: int | None = None,
                  within: tuple[int, int] | None = None) -> list[tuple[int, float]]:
    """(rowid, score) of the matches from ``offset`` (``limit``: None for all), in
    ``sort`` order; ``within``: only rowids in that range (scores are the same: BM25's
    document frequencies are the whole archive's). Raises ValueError for an unknown
    sort."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}: one of {', '.join(SORTS)}")
    parsed = parse_query(query) if isinstance(query, str) else query
    sql, params = _matching(archive, parsed.match(), filters,
                            f"f.rowid, -bm25({fulltext.TABLE}, {_WEIGHTS}) AS score", within)
    sql += f"ORDER BY {_ORDER[sort]} LIMIT ? OFFSET ?"
    params += [-1 if limit is None else limit, offset]
    return [(rowid, score) for rowid, score in archive.conn.execute(sql, params)]


def rank_key(pair: tuple[int, float]) -> tuple[float, int]:
    """The relevance order of (rowid, score) pairs, as ranked_rowids sorts them."""
    return (-pair[1], -pair[0])


def hits_for(archive: Searchable, query: Query | str, ranked: Sequence[tuple[int, float]],
             *, marks: tuple[str, str] = TEXT_MARKS, total: int = -1, offset: int = 0
             ) -> Page:
    """The hits (with snippets) of ranked (rowid, score) pairs, in their order; an
    article gone from the archive meanwhile is left out."""
    parsed = parse_query(query) if isinstance(query, str) else query
    rows = _articles(archive, [rowid for rowid, _ in ranked])
    needles = [phrase.needle for phrase in parsed.phrases]
    kept = [(rowid, score) for rowid, score in ranked if rowid in rows]
    return Page(total, offset, [_hit(rows[rowid], score, needles, marks) for rowid, score in kept],
                [rows[rowid] for rowid, _ in kept])


def search_page(archive: Searchable, query: str, filters: Filters = NO_FILTERS, *,
                sort: str = "relevance", offset: int = 0, limit: int | None = 20,
                marks: tuple[str, str] = TEXT_MARKS, total: bool = True) -> Page:
    """Hits ``offset`` to ``offset + limit`` (None: all) of ``query``, in ``sort``
    order, and the total (-1 when ``total`` is false). Raises QueryError for a query
    with nothing to search for, ValueError for an unknown sort."""
    parsed = parse_query(query)
    with _snapshot(archive):
        ranked = ranked_rowids(archive, parsed, filters, sort=sort, offset=offset,
                               limit=limit)
        matches = count(archive, parsed, filters) if total else -1
        return hits_for(archive, parsed, ranked, marks=marks, total=matches, offset=offset)


def search(archive: Searchable, query: str, *, since: str | None = None,
           until: str | None = None, column: str | None = None, source: str | None = None,
           topic: str | None = None, min_score: float | None = None,
           limit: int | None = 20, offset: int = 0, sort: str = "relevance",
           marks: tuple[str, str] = TEXT_MARKS) -> list[Hit]:
    """The best ``limit`` (None: all) articles matching ``query`` from ``offset``, best
    first (or as ``sort`` says), each once. Raises QueryError for a query with
    nothing to search for, FilterError (a ValueError) for a filter it cannot use."""
    filters = Filters(since, until, column, source, topic, min_score)
    return search_page(archive, query, filters, sort=sort, offset=offset, limit=limit,
                       marks=marks, total=False).hits


# -- facets -----------------------------------------------------------------------

#: the dimensions FacetCounter counts: column id, year, source, edition, topics
FACETS = ("column", "year", "source", "edition", "topic")
#: how long facet values of articles already seen may lag a crawl's changes (new
#: articles are counted at once)
FACET_REFRESH_S = 60.0


class FacetCounter:
    """Counts of the matches of a search by column, year, source, edition and topic
    (at or above its threshold), for the browser's search page.

    Counting 100,000 matches by joining them to the articles table took 300–600 ms;
    here each article's facet values are read once into memory (its combination of
    values as a small integer, so that counting is ``collections.Counter`` over
    integers, in C) and a search counts its matching rowids: 50 ms for 100,000.
    Articles not yet seen (a crawl added them) are read when first matched; the
    values of articles seen before are read again at most every FACET_REFRESH_S
    seconds once the archive has changed (a connection's ``PRAGMA data_version``
    says when). Thread-safe: Datasette searches from several threads.
    """

    def __init__(self, thresholds: dict[str, float]) -> None:
        self.thresholds = dict(thresholds)
        self._lock = threading.Lock()
        self._of_rowid: dict[int, int] = {}
        self._combos: list[tuple[Any, ...]] = []
        self._ids: dict[tuple[Any, ...], int] = {}
        self._built = -math.inf
        self._versions: dict[int, int] = {}
        self._stale = True

    def _combo(self, values: tuple[Any, ...]) -> int:
        found = self._ids.get(values)
        if found is None:
            found = self._ids[values] = len(self._combos)
            self._combos.append(values)
        return found

    def _read(self, connection: sqlite3.Connection, rowids: list[int] | None) -> None:
        where = "" if rowids is None else " WHERE a.rowid IN (SELECT value FROM json_each(?))"
        params = [] if rowids is None else [json.dumps(rowids)]
        topics: dict[int, list[str]] = {}
        for topic, threshold in self.thresholds.items():
            for (rowid,) in connection.execute(
                    "SELECT a.rowid FROM article_topics AS t JOIN articles AS a ON "
                    "a.article_id = t.article_id WHERE t.topic = ? AND t.score >= ?"
                    + where.replace(" WHERE", " AND"), [topic, threshold, *params]):
                topics.setdefault(rowid, []).append(topic)
        for rowid, column, year, source, edition in connection.execute(
                "SELECT a.rowid, a.column_id, substr(a.published_at, 1, 4), a.source, "
                "a.edition FROM articles AS a" + where, params):
            self._of_rowid[rowid] = self._combo(
                (column, year, source or "", edition or "gb", tuple(topics.get(rowid, ()))))

    def _refresh(self, connection: sqlite3.Connection) -> None:
        version = connection.execute("PRAGMA data_version").fetchone()[0]
        if self._versions.get(id(connection), version) != version:
            self._stale = True
        self._versions[id(connection)] = version
        if self._stale and time.monotonic() - self._built > FACET_REFRESH_S:
            self._of_rowid.clear()
            self._read(connection, None)
            self._built, self._stale = time.monotonic(), False

    def counts(self, connection: sqlite3.Connection, rowids: Sequence[int]
               ) -> dict[str, Counter[Any]]:
        """{facet: Counter(value: matches)} over ``rowids``."""
        with self._lock:
            self._refresh(connection)
            by_combo = Counter(map(self._of_rowid.get, rowids))
            if None in by_combo:  # articles not seen yet: read them, count again
                self._read(connection,
                           [rowid for rowid in rowids if rowid not in self._of_rowid])
                by_combo = Counter(map(self._of_rowid.get, rowids))
            combos = list(self._combos)
        counts: dict[str, Counter[Any]] = {name: Counter() for name in FACETS}
        for combo, matches in by_combo.items():
            if combo is None:  # gone from the archive meanwhile
                continue
            *values, topics = combos[combo]
            for name, value in zip(FACETS, values, strict=False):
                counts[name][value] += matches
            for topic in topics:
                counts["topic"][topic] += matches
        return counts


def format_text(hits: Sequence[Hit], query: str, marks: tuple[str, str] | None,
                start: int = 1) -> str:
    """Hits as text blocks numbered from ``start``; titles highlighted too when
    ``marks`` are given."""
    blocks = []
    for number, hit in enumerate(hits, start):
        title = highlight(hit.title, query, marks=marks) if marks else hit.title
        blocks.append(f"{number}. {title}\n   {hit.published_at[:10]}  {hit.source}  "
                      f"{hit.url}\n   {hit.snippet}")
    return "\n\n".join(blocks)
