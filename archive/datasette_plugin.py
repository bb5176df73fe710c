"""The Datasette plugin behind ``pdarchive serve`` (Datasette 0.6x: see
docs/ARCHITECTURE.md, "The browser view").

``archive.serve`` registers this module with Datasette's plugin manager (it is not
an entry point, so a plain ``datasette`` run elsewhere never loads it), and every
hook here acts only on the database served as ``archive``. It adds:

- read-only connections: ``PRAGMA query_only`` on every connection Datasette opens
  to the archive, a busy timeout so that a crawl's commit never fails a read, and an
  authorizer that refuses ``fts3_tokenizer()``;
- SQL functions ``pd_match(query)`` (the FTS5 MATCH expression for a query, from
  ``archive.search.compile_query``: the CLI's normalisation, so 黨建 finds 党建) and
  ``pd_snippet(body, query)`` (the excerpt ``pdarchive search`` shows, hits in « »),
  their input bounded so that the SQL time limit holds;
- the search page ``/archive/search`` (and ``.json``, ``.jsonl``, ``.csv``): every
  match ranked, counted and reachable, facets, checked filters, downloads;
- ``?_search=`` on the articles table through the same normalisation;
- the ``year`` facet type, cells (human dates, column names, safe links), templates
  and styles for reading articles, the home page's newest articles and counts,
  ``/-/pdarchive-data`` for the internals;
- an ASGI wrapper that refuses requests for other hosts (DNS rebinding) and sends a
  Content-Security-Policy with every answer.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import re
import sqlite3
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import datasette.handle_exception
import markupsafe
from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.filters import FilterArguments
from datasette.utils import (
    escape_sqlite,
    path_with_added_args,
    path_with_removed_args,
    sqlite_timelimit,
)
from datasette.utils.asgi import AsgiStream, BadRequest, Request, Response

from . import fulltext
from .article_page import article_view
from .captures_view import (
    archived_pictures,
    capture_raw_view,
    capture_view,
    captures_view,
    frame_html,
    picture_path,
    picture_view,
)
from .export import neutralise_formula
from .filters import FilterError, Filters, parse_time
from .search import (
    END,
    START,
    TEXT_MARKS,
    FacetCounter,
    QueryError,
    best_snippet,  # what `pdarchive search` shows
    compile_query,
    hits_for,
    matching_rowids,
    parse_query,
    rank_key,
    ranked_rowids,
    search_page,
)
from .search import highlight as highlight_hits
from .store import dict_rows
from .topics import PARTY_BUILDING

# Datasette 0.65's default error handler prints every error with rich when rich is
# installed (simonw/datasette#1416), and rich refuses outside an except block, as
# for a 404: every unknown address became a 500 and a traceback in the log. rich
# comes with the wacz package (through frictionless and typer) and with our
# progress bars, so the handler is told there is none; its own page is unchanged.
datasette.handle_exception.rich = None  # type: ignore[attr-defined]

#: the name (and URL path) of the archive in Datasette; the templates are named for it
DATABASE = "archive"
ARTICLES = "articles"
#: how long a read waits for a lock: in WAL mode only while a checkpoint or the
#: crawl's open/close of the file holds one, which is brief
BUSY_TIMEOUT_MS = 5000
PEOPLE_COLUMNS = ("editors", "authors", "photographers")
#: the articles columns pd_snippet() reads: the body (then the query), then the others
SNIPPET_COLUMNS = ("body", "pretitle", "title", "subtitle", "source", *PEOPLE_COLUMNS)
#: the longest query pd_match(), pd_snippet() and the search page take, and the most
#: text pd_snippet() reads of a field. Datasette's SQL time limit is checked between
#: SQLite's steps, never inside a function of ours: bounded input bounds each call
#: (a few milliseconds), so the limit holds. The longest archived body is far shorter.
MAX_QUERY_CHARS = 500
MAX_SNIPPET_TEXT = 100_000
#: SQL functions nobody may call through the SQL box: fts3_tokenizer() leaks a
#: pointer, and with two arguments registers one (https://www.sqlite.org/fts3.html#f3tknzr)
DENIED_FUNCTIONS = frozenset({"fts3_tokenizer", "load_extension", "readfile", "writefile",
                              "edit", "fts5_source_id"})


# -- SQL functions ----------------------------------------------------------------

def _bounded_query(query: str | None) -> str:
    query = query or ""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is too long (at most {MAX_QUERY_CHARS} characters)")
    return query


def pd_match(query: str | None) -> str:
    """The MATCH expression for a user query, for SQL of one's own; raises QueryError
    (a SQL error) when the query cannot be searched."""
    return compile_query(_bounded_query(query))


def pd_snippet(body: str | None, query: str | None, *more: str | None) -> str | None:
    """The excerpt ``pdarchive search`` shows, hits between « and »: from the body
    (the JSON list of paragraphs), or else from the other fields given, in the order
    of SNIPPET_COLUMNS. None when the query has nothing to search for. Fields are
    read up to MAX_SNIPPET_TEXT characters."""
    try:
        needles = [phrase.needle for phrase in parse_query(_bounded_query(query)).phrases]
    except QueryError:
        return None
    fields = [None if value is None else str(value)[:MAX_SNIPPET_TEXT] for value in (body, *more)]
    if fields[0] is not None:
        try:
            json.loads(fields[0])
        except ValueError:  # cut short, or not a JSON list: its text as one paragraph
            fields[0] = json.dumps([fields[0]], ensure_ascii=False)
    for index in range(1, len(fields)):
        name = SNIPPET_COLUMNS[index]
        if name in PEOPLE_COLUMNS and fields[index] is not None:
            try:
                json.loads(fields[index] or "[]")
            except ValueError:
                fields[index] = json.dumps([fields[index]], ensure_ascii=False)
    given = dict(zip(SNIPPET_COLUMNS[:len(fields)], fields, strict=True))
    return best_snippet(dict.fromkeys(SNIPPET_COLUMNS) | given, needles, TEXT_MARKS)


def _authorizer(action: int, name: str | None, function: str | None, *_: Any) -> int:
    """Deny the functions of DENIED_FUNCTIONS, allow everything else (query_only
    already refuses writes)."""
    if action == sqlite3.SQLITE_FUNCTION and (function or "").lower() in DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def marked_html(text: str | None, marks: tuple[str, str] = TEXT_MARKS) -> markupsafe.Markup:
    """Text with its hits between ``marks`` as HTML: escaped, the hits in ``<mark>``.
    (A « or » of the article's own would pass for a mark: harmless, and rare in
    Chinese, which quotes with “” and 《》.)"""
    escaped = str(markupsafe.escape(text or ""))
    return markupsafe.Markup(escaped.replace(marks[0], "<mark>").replace(marks[1], "</mark>"))


def title_html(title: str, query: str) -> markupsafe.Markup:
    """A title with the query's hits in ``<mark>``."""
    return marked_html(highlight_hits(title, query), (START, END))


@hookimpl
def prepare_connection(conn: sqlite3.Connection, database: str) -> None:
    if database != DATABASE:
        return
    conn.set_authorizer(_authorizer)
    conn.execute("PRAGMA query_only = ON")
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.create_function("pd_match", 1, pd_match, deterministic=True)
    for arity in (2, 1 + len(SNIPPET_COLUMNS)):  # pd_snippet(body, q), or with every field
        conn.create_function("pd_snippet", arity, pd_snippet, deterministic=True)


# -- search -----------------------------------------------------------------------

@hookimpl(trylast=True)  # last, so that its extra context wins over Datasette's own search
def filters_from_request(request: Request, database: str, table: str) -> FilterArguments | None:
    """``?_search=`` on the articles table, normalised as the CLI does."""
    if database != DATABASE or table != ARTICLES:
        return None
    query = request.args.get("_search", "").strip()
    context = {"supports_search": True, "search": query}
    if not query:
        return FilterArguments([], extra_context=context)
    try:
        match = compile_query(query[:MAX_QUERY_CHARS])
    except QueryError as error:
        raise BadRequest(f"无法搜索“{query}”：{query_error_zh(error)}") from error
    return FilterArguments(
        [f"rowid in (select rowid from {fulltext.TABLE} where {fulltext.TABLE} match "
         ":pd_search)"],
        {"pd_search": match},
        [f'search matches "{query}"'],
        context,
    )


#: hits per page of the search page, by default and at most (``?size=``)
PAGE_SIZE, MAX_PAGE_SIZE = 20, 100
#: articles read per batch of a download of every match
DOWNLOAD_BATCH = 200
SORT_LABELS = {"relevance": "相关度", "newest": "最新", "oldest": "最早"}
EDITION_LABELS = {"gb": "简体", "big5": "繁體"}
TOPIC_LABELS = {PARTY_BUILDING: "党建"}
DATE_HINT = "请写成 2021-01-15、2021-01 或 2021年1月15日"
#: the fields of a search hit in JSON, JSON Lines and CSV
HIT_FIELDS = ("article_id", "title", "published_at", "source", "column_id", "column",
              "edition", "url", "score", "snippet")


def query_error_zh(error: QueryError) -> str:
    """A QueryError's reason in Chinese."""
    text = str(error)
    if "every word is excluded" in text:
        return "每个词都被排除了，没有要找的词"
    if "no letter or digit to search for" in text:
        operator = text.split(" ", 1)[0]
        return f"{operator} 两边都要有词，而其中一边只有标点，没有可搜索的文字或数字"
    if "no letter or digit" in text:
        return "搜索词里没有可搜索的文字或数字（标点符号不算）"
    if "OR joins" in text:
        return "OR 只能连接要找的词，不能连接排除的词"
    if "too long" in text:
        return f"搜索词太长（最多 {MAX_QUERY_CHARS} 个字符）"
    return text


@dataclass
class SearchForm:
    """The search page's parameters, read from the URL and checked: ``errors`` says,
    per field, what could not be used (nothing is searched then)."""

    q: str = ""
    since: str = ""
    until: str = ""
    column: str = ""
    source: str = ""
    edition: str = ""
    topic: str = ""
    min_score: str = ""
    sort: str = "relevance"
    page: int = 1
    size: int = PAGE_SIZE
    errors: dict[str, str] = field(default_factory=dict)
    filters: Filters | None = None

    @classmethod
    def read(cls, args: Any, columns: dict[str, str], topics: dict[str, float]) -> SearchForm:
        def arg(name: str) -> str:
            return " ".join((args.get(name) or "").split())

        form = cls(q=arg("q"), since=arg("since"), until=arg("until"),
                   column=arg("column"), source=arg("source"), edition=arg("edition"),
                   topic=arg("topic"), min_score=arg("min_score"),
                   sort=arg("sort") or "relevance")
        errors = form.errors
        if len(form.q) > MAX_QUERY_CHARS:
            errors["q"] = f"搜索词太长（最多 {MAX_QUERY_CHARS} 个字符）"
        elif form.q:
            try:
                parse_query(form.q)
            except QueryError as error:
                errors["q"] = f"无法搜索“{form.q}”：{query_error_zh(error)}"
        for name in ("since", "until"):
            value = getattr(form, name)
            if value:
                try:
                    parse_time(value)
                except FilterError:
                    errors[name] = f"无法识别的日期“{value}”：{DATE_HINT}"
        if form.column and form.column not in columns:
            by_name = {name: id_ for id_, name in columns.items()}
            if form.column in by_name:
                form.column = by_name[form.column]
            elif not (form.column.isascii() and form.column.isdigit()):
                errors["column"] = f"没有名为“{form.column}”的栏目"
        if form.edition and form.edition not in EDITION_LABELS:
            errors["edition"] = f"没有“{form.edition}”版本：只有简体（gb）和繁體（big5）"
        if form.topic and form.topic not in topics:
            errors["topic"] = f"没有名为“{form.topic}”的主题"
        score: float | None = None
        if form.min_score:
            try:
                score = float(form.min_score)
                if not math.isfinite(score):
                    raise ValueError(form.min_score)
            except ValueError:
                errors["min_score"] = f"最低得分须是一个数，而不是“{form.min_score}”"
        if form.sort not in SORT_LABELS:
            errors["sort"] = f"没有“{form.sort}”这种排序：可按相关度、最新或最早"
        for name, low, high in (("page", 1, 10**9), ("size", 1, MAX_PAGE_SIZE)):
            raw = arg(name)
            if not raw:
                continue
            if raw.isascii() and raw.isdigit() and low <= int(raw) <= high:
                setattr(form, name, int(raw))
            else:
                what = "页码" if name == "page" else "每页条数"
                errors[name] = f"{what}须是 {low} 到 {high} 之间的整数，而不是“{raw}”"
        if not errors:
            topic = form.topic or (PARTY_BUILDING if score is not None else "")
            if topic and score is None:
                score = topics.get(topic, 0.0)
            form.filters = Filters(form.since or None, form.until or None,
                                   form.column or None, form.source or None,
                                   topic or None, score, form.edition or None)
        return form

    def params(self, **changes: Any) -> dict[str, str]:
        """The URL parameters of this search, with ``changes`` (None: drop)."""
        values: dict[str, str | None] = {name: str(getattr(self, name)) for name in (
            "q", "since", "until", "column", "source", "edition", "topic", "min_score",
            "sort", "page", "size")}
        values.update({name: None if value is None else str(value)
                       for name, value in changes.items()})
        defaults = {"sort": "relevance", "page": "1", "size": str(PAGE_SIZE)}
        return {name: value for name, value in values.items()
                if value is not None and value and defaults.get(name) != value}

    def url(self, path: str, **changes: Any) -> str:
        params = self.params(**changes)
        return path + ("?" + urlencode(params) if params else "")


class _Conn:
    """A Datasette connection as search's archive."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


#: each Datasette's facet counter (plugin_config() answers a fresh copy each time,
#: so the counter cannot live in it)
_COUNTERS: weakref.WeakKeyDictionary[Any, FacetCounter] = weakref.WeakKeyDictionary()


def _facets(datasette: Any) -> FacetCounter:
    counter = _COUNTERS.get(datasette)
    if counter is None:
        counter = _COUNTERS[datasette] = FacetCounter(
            _plugin_config(datasette).get("topics", {}))
    return counter


def _plugin_config(datasette: Any) -> dict[str, Any]:
    config: dict[str, Any] = datasette.plugin_config("pdarchive") or {}
    return config


def _hit_row(hit: Any, row: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    return {"article_id": hit.article_id, "title": hit.title,
            "published_at": hit.published_at, "source": hit.source,
            "column_id": row.get("column_id"), "column": columns.get(row.get("column_id") or ""),
            "edition": row.get("edition") or "gb", "url": hit.url, "score": hit.score,
            "snippet": hit.snippet}


async def _run(datasette: Any, fn: Any) -> Any:
    """``fn(archive)`` on a read connection of the archive, within the SQL time limit."""
    limit = datasette.setting("sql_time_limit_ms")

    def within_limit(conn: sqlite3.Connection) -> Any:
        with sqlite_timelimit(conn, limit):
            return fn(_Conn(conn))

    return await datasette.get_database(DATABASE).execute_fn(within_limit)


async def _search(datasette: Any, form: SearchForm) -> dict[str, Any]:
    """The page, the total and the facet counts of a checked form's search."""
    config = _plugin_config(datasette)
    columns: dict[str, str] = config.get("columns", {})
    counter = _facets(datasette)
    assert form.filters is not None
    filters = form.filters
    offset = (form.page - 1) * form.size

    def page(archive: _Conn) -> Any:
        return _article_fields(archive, search_page(
            archive, form.q, filters, sort=form.sort, offset=offset, limit=form.size,
            total=False))

    def matches(archive: _Conn) -> tuple[int, dict[str, Counter[Any]]]:
        rowids = matching_rowids(archive, form.q, filters)
        return len(rowids), counter.counts(archive.conn, rowids)

    if form.sort == "relevance" and offset + form.size <= SPLIT_RANKING_UP_TO:
        found, (total, counts) = await asyncio.gather(
            _ranked_in_halves(datasette, form, filters, offset), _run(datasette, matches))
    else:
        found, (total, counts) = await asyncio.gather(_run(datasette, page),
                                                      _run(datasette, matches))
    rows = [_hit_row(hit, row, columns) for hit, row in zip(found.hits, found.rows,
                                                            strict=True)]
    return {"rows": rows, "total": total, "counts": counts, "offset": offset}


#: the deepest page ranked in two halves at once (see _ranked_in_halves)
SPLIT_RANKING_UP_TO = 1000
#: each Datasette's rowid where the halves meet, and when it was read
_MIDDLES: weakref.WeakKeyDictionary[Any, tuple[int, float]] = weakref.WeakKeyDictionary()


async def _ranked_in_halves(datasette: Any, form: SearchForm, filters: Filters,
                            offset: int) -> Any:
    """A relevance page ranked as two halves of the archive's rowids at once, on two
    connections, and merged: BM25 scores do not depend on the range (the document
    frequencies are the whole archive's), and FTS5's scoring, in C, runs on both
    cores (at 100,000 matches of 党: 95 ms as one query, 65 ms as two)."""
    middle = _MIDDLES.get(datasette)
    if middle is None or time.monotonic() - middle[1] > 60:
        # where the halves meet, only: every rowid is in one half whatever it is
        def bounds(archive: _Conn) -> int:
            low, high = archive.conn.execute(
                "SELECT min(rowid), max(rowid) FROM articles").fetchone()
            return (int(low or 0) + int(high or 0)) // 2

        middle = _MIDDLES[datasette] = (await _run(datasette, bounds), time.monotonic())
    middle_rowid = middle[0]
    wanted = offset + form.size

    def half(within: tuple[int, int]) -> Any:
        def ranked(archive: _Conn) -> list[tuple[int, float]]:
            return ranked_rowids(archive, form.q, filters, limit=wanted, within=within)
        return ranked

    first, second = await asyncio.gather(
        _run(datasette, half((0, middle_rowid))),
        _run(datasette, half((middle_rowid + 1, 2**63 - 1))))
    best = sorted(first + second, key=rank_key)[offset:wanted]

    def read(archive: _Conn) -> Any:
        return _article_fields(archive, hits_for(archive, form.q, best, offset=offset))

    return await _run(datasette, read)


def _article_fields(archive: _Conn, page: Any) -> Any:
    """The page, its rows with column_id and edition (search_page reads neither)."""
    rowids = [row["rowid"] for row in page.rows]
    extra = {row["rowid"]: row for row in dict_rows(archive.conn.execute(
        "SELECT rowid, column_id, edition FROM articles WHERE rowid IN "
        "(SELECT value FROM json_each(?))", [json.dumps(rowids)]))}
    for row in page.rows:
        row.update(extra.get(row["rowid"], {}))
    return page


def _facet_view(form: SearchForm, counts: dict[str, Counter[Any]], path: str,
                columns: dict[str, str]) -> list[dict[str, Any]]:
    """The facets as the page lists them: name, and each value with its count, the
    link that applies it (or, when applied, removes it)."""
    def values(name: str, counter: Counter[Any], label: Any, param: Any, selected: Any,
               order: str = "count", limit: int = 12) -> dict[str, Any]:
        items = sorted(counter.items(), key=(lambda item: (-item[1], str(item[0])))
                       if order == "count" else (lambda item: str(item[0])), reverse=False)
        if order == "desc":
            items.reverse()
        shown = []
        for value, matches in items[:limit]:
            is_selected = selected(value)
            shown.append({"label": label(value), "count": matches, "selected": is_selected,
                          "url": form.url(path, page=None,
                                          **(param(None) if is_selected else param(value)))})
        return {"name": name, "values": shown, "more": max(0, len(items) - limit)}

    def year_bounds(year: Any) -> dict[str, Any]:
        return ({"since": None, "until": None} if year is None
                else {"since": f"{year}-01-01", "until": f"{year}-12-31"})

    def topic_param(topic: Any) -> dict[str, Any]:
        return {"topic": topic, "min_score": None}

    return [
        values("栏目", counts["column"], lambda v: columns.get(v, v),
               lambda v: {"column": v}, lambda v: v == form.column),
        values("年份", counts["year"], lambda v: f"{v}年", year_bounds,
               lambda v: form.since == f"{v}-01-01" and form.until == f"{v}-12-31",
               order="desc", limit=30),
        values("来源", counts["source"], lambda v: v or "（未注明）",
               lambda v: {"source": v}, lambda v: v == form.source),
        values("版本", counts["edition"], lambda v: EDITION_LABELS.get(v, v),
               lambda v: {"edition": v}, lambda v: v == form.edition),
        values("主题", counts["topic"], lambda v: TOPIC_LABELS.get(v, v),
               topic_param, lambda v: v == form.topic),
    ]


def _pages(current: int, last: int) -> list[int | None]:
    """Page numbers for the pager: the first, the last, and those around the
    current one; None where some are left out."""
    wanted = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    numbers: list[int | None] = []
    for number in wanted:
        if numbers and number - (numbers[-1] or 0) > 1:
            numbers.append(None)
        numbers.append(number)
    return numbers


async def search_view(datasette: Any, request: Request) -> Any:
    """``/archive/search``: the search page, and its downloads (``.json``, ``.jsonl``,
    ``.csv``)."""
    config = _plugin_config(datasette)
    columns: dict[str, str] = config.get("columns", {})
    topics: dict[str, float] = config.get("topics", {})
    form = SearchForm.read(request.args, columns, topics)
    path = datasette.urls.database(DATABASE) + "/search"
    extension = request.url_vars.get("format")
    if extension:
        return await _download(datasette, request, form, extension, columns)
    context: dict[str, Any] = {
        "form": form, "path": path, "columns": columns, "topics": topics,
        "topic_labels": TOPIC_LABELS, "sort_labels": SORT_LABELS,
        "edition_labels": EDITION_LABELS, "rows": [], "total": None, "facets": [],
        "error": None, "downloads": [],
    }
    status = 200
    if form.errors:
        status = 400
    elif form.q:
        try:
            found = await _search(datasette, form)
        except sqlite3.OperationalError as error:  # interrupted: the SQL time limit
            context["error"] = f"这次搜索超出了时间限制，请缩小范围再试（{error}）"
            status = 500
        else:
            total = found["total"]
            last = max(1, -(-total // form.size))
            context.update(
                rows=found["rows"], total=total, offset=found["offset"], last_page=last,
                pages=_pages(form.page, last),
                facets=_facet_view(form, found["counts"], path, columns),
                downloads=[(label, form.url(path + extension_, page=None, size=None,
                                            **extra))
                           for label, extension_, extra in (
                               ("CSV", ".csv", {}), ("JSON", ".json", {"_shape": "array"}),
                               ("JSON Lines", ".jsonl", {}))])
    html = await datasette.render_template(
        "pdarchive_search.html", context, request=request,
        view_name="pdarchive_search")
    return Response.html(html, status=status)


async def _download(datasette: Any, request: Request, form: SearchForm, extension: str,
                    columns: dict[str, str]) -> Any:
    """The search as JSON (this page with the total and facets, or with
    ``_shape=array`` every match as a list), JSON Lines or CSV (every match),
    streamed; Chinese as it is (not escaped); CSV with the byte order mark Excel
    needs and formulas neutralised."""
    if form.errors or not form.q:
        errors = form.errors or {"q": "请输入搜索词"}
        return Response.json({"ok": False, "errors": errors}, status=400,
                             headers={"Content-Type": "application/json; charset=utf-8"})
    assert form.filters is not None
    filters = form.filters
    if extension == "json" and request.args.get("_shape") != "array":
        try:
            found = await _search(datasette, form)
        except sqlite3.OperationalError as error:
            return Response.json({"ok": False, "error": str(error)}, status=500)
        body = {
            "ok": True, "query": form.q, "total": found["total"], "offset": found["offset"],
            "sort": form.sort, "rows": found["rows"],
            "facets": {name: dict(counter) for name, counter in found["counts"].items()}}
        return Response(json.dumps(body, ensure_ascii=False), status=200,
                        content_type="application/json; charset=utf-8")

    def ranked(archive: _Conn) -> list[tuple[int, float]]:
        return ranked_rowids(archive, form.q, filters, sort=form.sort)

    try:
        order = await _run(datasette, ranked)
    except sqlite3.OperationalError as error:
        return Response.json({"ok": False, "error": str(error)}, status=500)

    async def rows() -> Any:
        for start in range(0, len(order), DOWNLOAD_BATCH):
            batch = order[start:start + DOWNLOAD_BATCH]

            def read(archive: _Conn, batch: list[tuple[int, float]] = batch) -> Any:
                return _article_fields(archive, hits_for(archive, form.q, batch))

            found = await _run(datasette, read)
            for hit, row in zip(found.hits, found.rows, strict=True):
                yield _hit_row(hit, row, columns)

    name = "search-" + "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in form.q)
    headers = {"Content-Disposition": f"attachment; filename=\"{name}.{extension}\"; "
                                      f"filename*=UTF-8''{quote('搜索-' + form.q)}.{extension}"}
    content_type = {"json": "application/json; charset=utf-8",
                    "jsonl": "application/x-ndjson; charset=utf-8",
                    "csv": "text/csv; charset=utf-8"}[extension]

    async def stream(response: Any) -> None:
        if extension == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(HIT_FIELDS)
            await response.write("\ufeff" + out.getvalue())
        elif extension == "json":
            await response.write("[")
        first = True
        async for row in rows():
            if extension == "csv":
                out = io.StringIO()
                csv.writer(out).writerow([neutralise_formula(row[name]) for name in HIT_FIELDS])
                await response.write(out.getvalue())
            elif extension == "json":
                await response.write(("\n" if first else ",\n")
                                     + json.dumps(row, ensure_ascii=False))
            else:
                await response.write(json.dumps(row, ensure_ascii=False) + "\n")
            first = False
        if extension == "json":
            await response.write("\n]\n")

    return AsgiStream(stream, headers=headers, content_type=content_type)

# -- facets -----------------------------------------------------------------------

class YearFacet(Facet):  # type: ignore[misc]
    """Counts by year of a date column, newest first: ``{"year": "published_at"}``.

    The year is the column's first four characters, as written (SQLite's date()
    would move 2021-01-01T07:00+08:00 into 2020), and a year is selected with
    ``?published_at__startswith=2021``.
    """

    type = "year"

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        results: list[dict[str, Any]] = []
        timed_out: list[str] = []
        args = dict(self.get_querystring_pairs())
        size = self.get_facet_size()
        for source_and_config in self.get_configs():
            config = source_and_config["config"]
            column = config.get("column") or config["simple"]
            sql = (f"select substr({escape_sqlite(column)}, 1, 4) as value, count(*) as count "
                   f"from ({self.sql}) where {escape_sqlite(column)} glob '[0-9][0-9][0-9][0-9]*' "
                   f"group by value order by value desc limit {size + 1}")
            try:
                rows = await self.ds.execute(
                    self.database, sql, self.params, truncate=False,
                    custom_time_limit=self.ds.setting("facet_time_limit_ms"))
            except QueryInterrupted:
                timed_out.append(column)
                continue
            selected_year = args.get(f"{column}__startswith")
            values = []
            for row in rows.rows[:size]:
                selected = selected_year == row["value"]
                toggle = (path_with_removed_args if selected else path_with_added_args)(
                    self.request, {f"{column}__startswith": row["value"]})
                values.append({
                    "value": row["value"], "label": row["value"], "count": row["count"],
                    "selected": selected,
                    "toggle_url": self.ds.absolute_url(self.request, self.ds.urls.path(toggle)),
                })
            results.append({
                "name": column, "type": self.type, "results": values,
                "hideable": source_and_config["source"] != "metadata",
                "toggle_url": self.ds.urls.path(
                    path_with_removed_args(self.request, {"_facet_year": column})),
                "truncated": len(rows) > size,
            })
        return results, timed_out


@hookimpl
def register_facet_classes() -> list[type[Facet]]:
    return [YearFacet]


# -- pages ------------------------------------------------------------------------

BEIJING = timezone(timedelta(hours=8))
#: the articles columns, as a reader calls them
COLUMN_LABELS = {
    "article_id": "编号", "column_id": "栏目", "url": "网址", "edition": "版本",
    "page_count": "页数", "title": "标题", "pretitle": "引题", "subtitle": "副题",
    "original_title": "原标题", "published_at": "发布时间", "source": "来源",
    "source_url": "来源网址", "editors": "责编", "authors": "作者", "photographers": "摄影",
    "body": "正文", "images": "图片", "pages": "各页网址", "editions": "版本",
    "big5": "繁體版", "extractor": "解析器", "content_hash": "内容指纹", "version": "版次",
    "first_seen_at": "首次存档", "fetched_at": "最近抓取", "updated_at": "最近更新",
}
TIME_COLUMNS = ("published_at", "first_seen_at", "fetched_at", "updated_at", "replaced_at")


def human_time(value: Any, *, seconds: bool = False) -> str:
    """An ISO timestamp as a reader reads it, in Beijing time: 2020年10月19日 14:37
    (a UTC time, as the archive's own times are, is moved to Beijing time). Anything
    else as it is."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(BEIJING)
    clock = f"{moment:%H:%M:%S}" if seconds else f"{moment:%H:%M}"
    return f"{moment.year}年{moment.month}月{moment.day}日 {clock}"


def safe_url(value: Any) -> str | None:
    """``value`` if it is an http(s) URL a link may point at, else None: a crawled
    page's ``javascript:`` or ``data:`` link must stay text."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(ord(char) < 33 for char in text):
        return None
    return text


def link_or_text(url: Any, text: Any = None) -> markupsafe.Markup:
    """A link to ``url`` if it is safe (safe_url), else the text alone."""
    label = url if text is None else text
    checked = safe_url(url)
    if checked is None:
        return markupsafe.Markup("{}").format(label or "")
    return markupsafe.Markup('<a href="{}" rel="noopener noreferrer">{}</a>').format(checked, label)


@hookimpl
def render_cell(row: sqlite3.Row, value: Any, column: str, table: str | None, database: str,
                datasette: Any) -> markupsafe.Markup | str | None:
    if database != DATABASE:
        return None
    if column == "snippet" and table is None:
        return marked_html(value)
    keys = row.keys()
    has_id = "article_id" in keys  # noqa: SIM118 (`in` a Row looks at values)
    if column == "title" and table in (ARTICLES, None) and has_id:
        url = datasette.urls.row(DATABASE, ARTICLES, row["article_id"])
        return markupsafe.Markup('<a href="{}">{}</a>').format(url, value)
    if isinstance(value, str) and value[:4].isdigit() and column in TIME_COLUMNS:
        return markupsafe.Markup('<time datetime="{}">{}</time>').format(
            value, human_time(value))
    if table != ARTICLES:
        return None
    if column in PEOPLE_COLUMNS and value:
        try:
            return "、".join(json.loads(value))
        except (ValueError, TypeError):
            return None
    if column == "column_id" and value:
        name = (_plugin_config(datasette).get("columns") or {}).get(value)
        return f"{name}（{value}）" if name else None
    if column == "edition" and value:
        return EDITION_LABELS.get(value, value)
    if column in ("body", "pages") and value:
        try:
            paragraphs = json.loads(value)
        except ValueError:
            return None
        text = ("\n" if column == "pages" else " ").join(map(str, paragraphs))
        limit = datasette.setting("truncate_cells_html") or 300
        return text if len(text) <= limit else text[:limit] + "…"
    if column == "images" and value:
        try:
            return f"{len(json.loads(value))} 张图片"
        except ValueError:
            return None
    if column in ("url", "source_url") and value:
        return link_or_text(value)
    return None


@hookimpl
def prepare_jinja2_environment(env: Any, datasette: Any) -> None:
    env.globals["pd_article"] = article_view
    env.globals["pd_labels"] = COLUMN_LABELS
    env.globals["pd_edition_labels"] = EDITION_LABELS
    env.globals["pd_column_name"] = lambda value: (
        (_plugin_config(datasette).get("columns") or {}).get(str(value), str(value)))
    env.globals["pd_is_iso_date"] = lambda value: not value or bool(
        re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))
    env.globals["pd_search_config"] = lambda: {
        "columns": _plugin_config(datasette).get("columns") or {},
        "topics": _plugin_config(datasette).get("topics") or {},
        "topic_labels": TOPIC_LABELS, "sort_labels": SORT_LABELS}
    env.filters["pd_marked"] = marked_html
    env.filters["pd_highlight"] = title_html
    env.filters["pd_time"] = human_time
    env.filters["pd_safe_url"] = safe_url
    env.globals["pd_capture_frame"] = frame_html
    env.globals["pd_picture_path"] = picture_path
    env.filters["pd_link"] = link_or_text


@hookimpl
def extra_css_urls(datasette: Any) -> list[str]:
    return [datasette.urls.path("/pdarchive-static/pdarchive.css")]


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [
        (rf"^/{DATABASE}/search(\.(?P<format>json|jsonl|csv))?$", search_view),
        (r"^/-/pdarchive-data$", internals_view),
        (r"^/-/pdarchive-picture/(?P<id>\d+)$", picture_view),
        (r"^/-/pdarchive-captures/(?P<article_id>\d+)$", captures_view),
        (r"^/-/pdarchive-capture/(?P<id>\d+)$", capture_view),
        (r"^/-/pdarchive-capture/(?P<id>\d+)/raw$", capture_raw_view),
    ]


async def internals_view(datasette: Any, request: Request) -> Response:
    """The data dictionary, the schema, the SQL functions and a SQL box: for those who
    script against the archive, off the reader's path."""
    db = datasette.get_database(DATABASE)
    tables = []
    metadata = datasette.metadata("tables", database=DATABASE) or {}
    for name in await db.table_names():
        if name.startswith(("articles_fts_", "sqlite_")):
            continue
        counted = await db.execute(f"select count(*) from {escape_sqlite(name)}")
        schema = await db.execute("select sql from sqlite_master where name = ?", [name])
        info = metadata.get(name, {})
        tables.append({"name": name, "rows": counted.first()[0],
                       "description": info.get("description", ""),
                       "columns": info.get("columns", {}),
                       "sql": (schema.first() or [""])[0] or ""})
    html = await datasette.render_template(
        "pdarchive_data.html", {"tables": tables, "database": DATABASE}, request=request,
        view_name="pdarchive_data")
    return Response.html(html)


def _row_pictures(datasette: Any, request: Request) -> Any:
    async def inner() -> dict[str, Any]:
        db = datasette.get_database(DATABASE)
        article_id = str(request.url_vars.get("pks") or "")
        rows = await db.execute("select images, big5 from articles where article_id = ?",
                                [article_id])
        row = rows.first()
        urls: list[str] = []
        if row is not None:
            urls = [image.get("src", "") for image in json.loads(row["images"] or "[]")]
            other = json.loads(row["big5"] or "null") or {}
            urls += [image.get("src", "") for image in other.get("images") or []]
        return {"pd_pictures": await archived_pictures(db, [url for url in urls if url])}
    return inner


@hookimpl
def extra_template_vars(template: str, database: str | None, datasette: Any,
                        view_name: str, request: Request | None) -> Any:
    """The home page's newest articles and counts; on an article's page, which of its
    pictures the archive holds."""
    if view_name == "row" and database == DATABASE and request is not None:
        return _row_pictures(datasette, request)
    if view_name != "index":
        return None

    async def inner() -> dict[str, Any]:
        db = datasette.get_database(DATABASE)
        newest = await db.execute(
            "select article_id, title, published_at, column_id, source from articles "
            "order by rowid desc limit 10")
        counts = await db.execute(
            "select count(*), min(published_at), max(published_at) from articles")
        by_column = await db.execute(
            "select column_id, count(*) as n from articles group by column_id "
            "order by n desc")
        total, first, last = counts.first()
        return {"pd_newest": [dict(row) for row in newest.rows],
                "pd_counts": {"articles": total, "first": first, "last": last},
                "pd_by_column": [dict(row) for row in by_column.rows]}

    return inner


# -- safety -----------------------------------------------------------------------

#: what the pages may load: only this server's scripts and styles (a crawled page's
#: text is escaped, and would not run even if it were not) and pictures from the
#: archive itself: the browser shows the archive, never the live site
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
BOM = "\ufeff".encode()


def host_name(header: str) -> str:
    """The name in a Host header, without the port: ``[::1]:8001`` is ``::1``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    """Refuse requests for a host this server was not opened as (a DNS-rebinding page
    would read the archive through a visitor's browser), and send the security
    headers with every answer."""
    allowed = {name.lower() for name in
               (_plugin_config(datasette).get("allowed_hosts") or LOOPBACK_HOSTS)}

    def wrap(app: Any) -> Any:
        async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            headers = dict(scope.get("headers") or [])
            host = host_name(headers.get(b"host", b"").decode("latin-1"))
            if host and host not in allowed:
                body = (f"421 这台服务器不以“{host}”的名义提供服务。"
                        f"Misdirected request: this server does not answer for {host!r}."
                        ).encode()
                await send({"type": "http.response.start", "status": 421, "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"), *SECURITY_HEADERS]})
                await send({"type": "http.response.body", "body": body})
                return

            csv_without_bom = False

            async def with_headers(message: dict[str, Any]) -> None:
                nonlocal csv_without_bom
                if message["type"] == "http.response.start":
                    message = dict(message)
                    headers = list(message.get("headers", []))
                    kind = dict(headers).get(b"content-type", b"")
                    # Datasette's own CSV (tables, SQL): Excel needs the byte order mark
                    csv_without_bom = kind.startswith(b"text/csv")
                    if csv_without_bom:
                        headers = [(name, value) for name, value in headers
                                   if name.lower() != b"content-length"]
                    names = {name.lower() for name, _ in headers}
                    # a raw capture brings its own, stricter policy (a sandbox, framed here)
                    extra = [(name, value) for name, value in SECURITY_HEADERS
                             if not (b"content-security-policy" in names
                                     and name in (b"content-security-policy",
                                                  b"x-frame-options"))]
                    message["headers"] = [*headers, *extra]
                elif message["type"] == "http.response.body" and csv_without_bom:
                    csv_without_bom = False
                    body = message.get("body", b"")
                    if not body.startswith(BOM):
                        message = {**message, "body": BOM + body}
                await send(message)

            await app(scope, receive, with_headers)
        return guarded
    return wrap
