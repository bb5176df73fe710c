"""The Datasette plugin behind ``pdarchive serve``.

``archive.serve`` registers this module with Datasette's plugin manager (it is not
an entry point, so a plain ``datasette`` run elsewhere never loads it), and every
hook here acts only on the database served as ``archive``. It adds:

- read-only connections: ``PRAGMA query_only`` on every connection Datasette opens
  to the archive, and a busy timeout so that a crawl's commit never fails a read;
- SQL functions ``pd_match(query)`` (the FTS5 MATCH expression for a query, from
  ``archive.search.compile_query``: the CLI's normalisation, so 黨建 finds 党建) and
  ``pd_snippet(body, query)`` (the excerpt ``pdarchive search`` shows, hits in « »);
- the canned query ``search`` (parameters ``q``, ``since``, ``until``, ``column``,
  ``topic`` and ``min_score``),
  whose MATCH expression is the magic parameter ``:_pd_match``, ranked as the CLI
  ranks (the newest 500 matches when more match);
- ``?_search=`` on the articles table through the same normalisation, so that
  searches can be faceted and sorted like any table view;
- the ``year`` facet type, and cells, templates and styles for reading articles.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any
from urllib.parse import urlencode

import markupsafe
from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.filters import FilterArguments
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args
from datasette.utils.asgi import BadRequest, Request

from . import fulltext
from .article_page import article_view
from .search import (
    END,
    RANK_WINDOW,
    START,
    TEXT_MARKS,
    QueryError,
    best_snippet,  # what `pdarchive search` shows
    compile_query,
    parse_query,
)
from .search import highlight as highlight_hits
from .topics import PARTY_BUILDING

#: the name (and URL path) of the archive in Datasette; the templates are named for it
DATABASE = "archive"
ARTICLES = "articles"
#: how long a read waits for a lock: in WAL mode only while a checkpoint or the
#: crawl's open/close of the file holds one, which is brief
BUSY_TIMEOUT_MS = 5000
PEOPLE_COLUMNS = ("editors", "authors", "photographers")
#: the articles columns pd_snippet() reads: the body (then the query), then the others
SNIPPET_COLUMNS = ("body", "pretitle", "title", "subtitle", "source", *PEOPLE_COLUMNS)


# -- SQL functions ----------------------------------------------------------------

def pd_match(query: str | None) -> str:
    """The MATCH expression for a user query, for SQL of one's own; raises QueryError
    (a SQL error) when the query cannot be searched."""
    return compile_query(query or "")


def pd_snippet(body: str | None, query: str | None, *more: str | None) -> str | None:
    """The excerpt ``pdarchive search`` shows, hits between « and »: from the body
    (the JSON list of paragraphs), or else from the other fields given, in the order
    of SNIPPET_COLUMNS. None when the query has nothing to search for."""
    try:
        needles = [phrase.needle for phrase in parse_query(query or "").phrases]
    except QueryError:
        return None
    given = dict(zip(SNIPPET_COLUMNS[:1 + len(more)], (body, *more), strict=True))
    return best_snippet(dict.fromkeys(SNIPPET_COLUMNS) | given, needles, TEXT_MARKS)


def match_parameter(key: str, request: Request) -> str:
    """The magic parameter ``:_pd_match``: the MATCH expression for ``?q=``.

    Compiled here rather than by pd_match() in the SQL so that an unsearchable query
    fails the query with its reason (shown on the page, and as the JSON error), and not
    as a Python exception inside SQLite. A blank query matches nothing (the empty
    phrase): the search page opens with just its form.
    """
    if key != "match":
        raise KeyError(key)
    query = request.args.get("q", "")
    if not query.strip():
        return '""'
    try:
        return compile_query(query)
    except QueryError as error:
        raise sqlite3.OperationalError(f"Cannot search for {query!r}: {error}") from error


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
    conn.execute("PRAGMA query_only = ON")
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.create_function("pd_match", 1, pd_match, deterministic=True)
    for arity in (2, 1 + len(SNIPPET_COLUMNS)):  # pd_snippet(body, q), or with every field
        conn.create_function("pd_snippet", arity, pd_snippet, deterministic=True)


# -- search -----------------------------------------------------------------------

def search_sql() -> str:
    """Ranked as ``pdarchive search`` ranks: BM25 with fulltext.WEIGHTS, over every
    match, or over the newest RANK_WINDOW when more match (FTS5's ``bm25()`` over all
    100,000 matches of 党 took 8 s, past Datasette's time limit); the snippets,
    computed only for the rows returned, are its snippets."""
    weights = ", ".join(str(weight) for weight in fulltext.WEIGHTS)
    snippet_arguments = ", ".join(["articles.body", ":q", *(
        f"articles.{column}" for column in SNIPPET_COLUMNS[1:])])
    return f"""with hits as materialized (
  select articles.rowid as rowid, -bm25({fulltext.TABLE}, {weights}) as score
  from {fulltext.TABLE} join articles on articles.rowid = {fulltext.TABLE}.rowid
  where {fulltext.TABLE} match :_pd_match
    and (:since = '' or articles.published_at >= :since)
    and (:until = '' or substr(articles.published_at, 1, length(:until)) <= :until)
    and (:column = '' or articles.column_id = :column)
    and (:min_score = '' or exists (
      select 1 from article_topics as t where t.article_id = articles.article_id
        and t.topic = coalesce(nullif(:topic, ''), '{PARTY_BUILDING}')
        and t.score >= cast(:min_score as real)))
  order by {fulltext.TABLE}.rowid desc
  limit {RANK_WINDOW}
)
select articles.article_id, articles.title, articles.published_at, articles.source,
  articles.column_id, articles.edition,
  pd_snippet({snippet_arguments}) as snippet,
  hits.score, articles.url
from hits join articles on articles.rowid = hits.rowid
order by hits.score desc, articles.published_at desc"""


@hookimpl
def register_magic_parameters() -> list[tuple[str, Any]]:
    return [("pd", match_parameter)]


@hookimpl
def canned_queries(database: str) -> dict[str, Any] | None:
    if database != DATABASE:
        return None
    return {"search": {
        "title": "Search articles",
        "description": (
            "Full-text search in simplified or traditional script (黨建 finds 党建). "
            "Words are all required; since and until are dates (YYYY-MM-DD), column a "
            "column id; min_score keeps articles whose topic score (topic: "
            f"{PARTY_BUILDING} unless given) is at least that, see `pdarchive explain`. "
            f"Best matches first; a query matching more than {RANK_WINDOW:,} articles is "
            f"ranked among its {RANK_WINDOW:,} most recent matches."),
        "sql": search_sql(),
        "hide_sql": True,
    }}


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
        match = compile_query(query)
    except QueryError as error:
        raise BadRequest(f"Cannot search for {query!r}: {error}") from error
    return FilterArguments(
        [f"rowid in (select rowid from {fulltext.TABLE} where {fulltext.TABLE} match "
         ":pd_search)"],
        {"pd_search": match},
        [f'search matches "{query}"'],
        context,
    )


def search_facets_url(datasette: Any, args: Any) -> str:
    """The articles table filtered like a search page's parameters, to facet it."""
    params = {"_search": args.get("q", "")}
    if args.get("since"):
        params["published_at__gte"] = args["since"]
    if args.get("until"):
        # as the search's prefix comparison: "2021-01-15" takes in all of that day,
        # whose times all sort below "2021-01-15~"
        params["published_at__lt"] = args["until"] + "~"
    if args.get("column"):
        params["column_id"] = args["column"]
    return f"{datasette.urls.table(DATABASE, ARTICLES)}?{urlencode(params)}"


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

@hookimpl
def render_cell(row: sqlite3.Row, value: Any, column: str, table: str | None, database: str,
                datasette: Any) -> markupsafe.Markup | str | None:
    if database != DATABASE:
        return None
    if column == "snippet" and table is None:
        return marked_html(value)
    has_id = "article_id" in row.keys()  # noqa: SIM118 (`in` a Row looks at values)
    if column == "title" and table in (ARTICLES, None) and has_id:
        url = datasette.urls.row(DATABASE, ARTICLES, row["article_id"])
        return markupsafe.Markup('<a href="{}">{}</a>').format(url, value)
    if column in PEOPLE_COLUMNS and table == ARTICLES and value:
        return "、".join(json.loads(value))
    return None


@hookimpl
def prepare_jinja2_environment(env: Any, datasette: Any) -> None:
    env.globals["pd_article"] = article_view
    env.globals["pd_search_facets_url"] = lambda args: search_facets_url(datasette, args)
    env.filters["pd_marked"] = marked_html
    env.filters["pd_highlight"] = title_html


@hookimpl
def extra_css_urls(datasette: Any) -> list[str]:
    return [datasette.urls.path("/pdarchive-static/pdarchive.css")]
