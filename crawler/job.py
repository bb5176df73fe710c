"""A crawl job: what to crawl (the scope) and what the archive already holds.

Planned once, before Scrapy starts (``plan_job``), by whoever starts the crawl:
``pdarchive crawl`` (crawler/run.py), ``pdarchive seed`` (crawler/distributed.py, which
puts the job's JSON form in Redis for the workers), or the ``jiangsu`` spider itself
when started as ``scrapy crawl jiangsu -a column=…`` (from its settings). The spider is
given the job and never opens the archive; what it learns while crawling (which
articles it scheduled, which walks completed) is its own.

The scope is checked here and only here (``plan_scope``): a bad one is a
``ScopeError``, a ``ConfigError`` that ``archive/cli.py``'s ``main()`` turns into one
line and exit code 2 before anything starts. See docs/ARCHITECTURE.md, step 4.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from archive.store import Archive
from crawler.config import Config, ConfigError
from crawler.parse.urls import parse_article_url, parse_list_url

#: the editions the site publishes: simplified (gb) and traditional (big5)
EDITIONS = ("gb", "big5")


class ScopeError(ConfigError):
    """What to crawl cannot be crawled: no column, an unknown edition, a bad number or date."""


def _split(value: Any) -> list[str]:
    """A list from the command line (``--column`` repeated) or a spider argument
    (``-a column=360300,360301``)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _count(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if isinstance(value, bool) or number < 0 or (isinstance(value, float) and number != value):
        raise ScopeError(f"{name} needs a whole number of at least 0, not {value!r}")
    return number


def _day(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ScopeError(f"{name} needs a date (YYYY-MM-DD), not {value!r}") from None
    return str(value)


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Scope:
    """What a crawl takes: checked, with the configuration's defaults filled in."""

    columns: tuple[str, ...]
    editions: tuple[str, ...]
    #: list pages followed per column (0: all)
    max_list_pages: int
    #: fetch archived articles again, and walk every list to its end
    full: bool = False
    #: publication days (YYYY-MM-DD) outside which articles are not fetched
    since: str | None = None
    until: str | None = None
    #: articles fetched at most (0: no limit)
    max_articles: int = 0
    #: fetch the pictures the articles show (``images`` in ``[crawl]``, ``--no-images``)
    images: bool = True


def plan_scope(config: Config, *, columns: Any = None, editions: Any = None,
               max_list_pages: Any = None, full: Any = False, since: Any = None,
               until: Any = None, max_articles: Any = None, images: Any = None) -> Scope:
    """The scope the options (or spider arguments, as strings) ask for; raises
    ScopeError when it cannot be crawled. ``images`` None: the configuration's."""
    column_ids = _split(columns) or [column.id for column in config.default_columns()]
    if not column_ids:
        raise ScopeError("no column to crawl: give --column or mark one default in config")
    for column in column_ids:
        if not (column.isdigit() and column.isascii()):
            raise ScopeError(f"not a column id (the number in /GB/ID/index.html, e.g. "
                             f"360300): {column!r}")
    wanted = _split(editions) or list(config.editions)
    unknown = sorted(set(wanted) - set(EDITIONS))
    if unknown:
        raise ScopeError(f"unknown edition {unknown}: use gb or big5")
    return Scope(
        columns=tuple(dict.fromkeys(column_ids)), editions=tuple(dict.fromkeys(wanted)),
        max_list_pages=_count(max_list_pages, "max_list_pages", config.max_list_pages),
        full=_flag(full), since=_day(since, "since"), until=_day(until, "until"),
        max_articles=_count(max_articles, "max_articles", 0),
        images=config.images if images is None or images == "" else _flag(images))


@dataclass(frozen=True)
class CrawlJob:
    """A crawl's scope and the archive's state it starts from, read once at planning."""

    scope: Scope
    #: article ids already archived
    known: frozenset[str] = frozenset()
    #: articles whose failed pages still wait out their backoff (none with --full):
    #: the list walk leaves them alone
    backing_off: frozenset[str] = frozenset()
    #: column → may its walk stop at the first list page holding a known article?
    may_stop_early: Mapping[str, bool] = field(default_factory=dict)
    #: column → the list pages where its last walks stopped at a recorded failure:
    #: the walk is resumed there as well as started again at page 1
    resume_pages: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    #: archived article → the editions it has pages of, or is known to lack
    held_editions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: column → articles archived
    column_counts: Mapping[str, int] = field(default_factory=dict)
    #: the failed article pages of the scope's columns that are due again
    retries: tuple[str, ...] = ()
    #: pictures not to ask for: captured already, or failed and still waiting out their
    #: backoff (none of the latter with --full)
    known_pictures: frozenset[str] = frozenset()
    #: failed pictures of the scope's columns due again: (url, article id, column id)
    picture_retries: tuple[tuple[str, str | None, str | None], ...] = ()

    # -- the JSON form ------------------------------------------------------------

    #: the fields a worker needs besides the big sets (which go to Redis sets):
    #: the scope, and what its walks decide by
    FRONTIER_FIELDS = ("may_stop_early", "column_counts", "known_pictures")

    def to_json(self, *, state: Iterable[str] | None = None) -> dict[str, Any]:
        """The job as JSON-ready values: the scope's fields at the top level, then
        the state (every field, or only those named in ``state``)."""
        data: dict[str, Any] = {
            "columns": list(self.scope.columns), "editions": list(self.scope.editions),
            "max_list_pages": self.scope.max_list_pages, "full": self.scope.full,
            "since": self.scope.since, "until": self.scope.until,
            "max_articles": self.scope.max_articles, "images": self.scope.images,
        }
        every = {
            "known": sorted(self.known), "backing_off": sorted(self.backing_off),
            "may_stop_early": dict(self.may_stop_early),
            "resume_pages": {column: list(pages) for column, pages in
                             self.resume_pages.items()},
            "held_editions": {article: sorted(editions) for article, editions in
                              self.held_editions.items()},
            "column_counts": dict(self.column_counts), "retries": list(self.retries),
            "known_pictures": sorted(self.known_pictures),
            "picture_retries": [list(retry) for retry in self.picture_retries],
        }
        names = every if state is None else list(state)
        return {**data, **{name: every[name] for name in names}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, known: Iterable[str] | None = None,
                  backing_off: Iterable[str] | None = None) -> CrawlJob:
        """The job ``to_json`` gave (fields left out are empty); ``known`` and
        ``backing_off`` given apart (a worker reads them from Redis sets)."""
        scope = Scope(
            columns=tuple(data["columns"]), editions=tuple(data["editions"]),
            max_list_pages=int(data["max_list_pages"]), full=bool(data["full"]),
            since=data.get("since"), until=data.get("until"),
            max_articles=int(data.get("max_articles") or 0),
            images=bool(data.get("images", True)))
        return cls(
            scope=scope,
            known=frozenset(data.get("known", ()) if known is None else known),
            backing_off=frozenset(data.get("backing_off", ()) if backing_off is None
                                  else backing_off),
            may_stop_early={str(k): bool(v) for k, v in
                            (data.get("may_stop_early") or {}).items()},
            resume_pages={str(k): tuple(int(page) for page in v) for k, v in
                          (data.get("resume_pages") or {}).items()},
            held_editions={str(k): frozenset(v) for k, v in
                           (data.get("held_editions") or {}).items()},
            column_counts={str(k): int(v) for k, v in
                           (data.get("column_counts") or {}).items()},
            retries=tuple(data.get("retries") or ()),
            known_pictures=frozenset(data.get("known_pictures") or ()),
            picture_retries=tuple((str(url), article, column) for url, article, column in
                                  data.get("picture_retries") or ()))


def read_job(archive: Archive, scope: Scope) -> CrawlJob:
    """What an incremental crawl of ``scope`` needs to know of ``archive``."""
    #: columns with archived articles that lack an edition now asked for: their walk
    #: goes on past the known articles, which are fetched in that edition
    lacking = archive.columns_lacking_editions(list(scope.editions))
    due = archive.failures_due()
    due_urls = {failure["url"] for failure in due}
    failures = archive.failures()
    backing_off = frozenset() if scope.full else frozenset(
        failure["article_id"] for failure in failures
        if failure["article_id"] and failure["url"] not in due_urls
        and failure["stage"] != "picture")
    may_stop_early = {
        column: (not scope.full and column not in lacking
                 and archive.column_walk_completed(column))
        for column in scope.columns
    }
    resume_pages: dict[str, tuple[int, ...]] = {}
    for column in scope.columns:
        pages = sorted({found[1] for failure in archive.list_failures(column)
                        if (found := parse_list_url(failure["url"]))
                        and found[0] == column and found[1] > 1})
        if pages and may_stop_early[column]:
            resume_pages[column] = tuple(pages[:1])
    retries = tuple(failure["url"] for failure in due
                    if failure["stage"] != "picture"
                    and (parsed := parse_article_url(failure["url"]))
                    and parsed.column_id in scope.columns)
    known_pictures: frozenset[str] = frozenset()
    picture_retries: tuple[tuple[str, str | None, str | None], ...] = ()
    if scope.images:
        # a picture captured once is never asked for again; a failed one when due
        waiting = () if scope.full else (
            failure["url"] for failure in failures
            if failure["stage"] == "picture" and failure["url"] not in due_urls)
        known_pictures = frozenset(archive.picture_urls()) | frozenset(waiting)
        picture_retries = tuple(
            (failure["url"], failure["article_id"], failure["column_id"]) for failure in due
            if failure["stage"] == "picture" and failure["column_id"] in scope.columns)
    return CrawlJob(
        scope=scope, known=frozenset(archive.known_article_ids()), backing_off=backing_off,
        may_stop_early=may_stop_early, resume_pages=resume_pages,
        held_editions={article: frozenset(editions) for article, editions in
                       archive.article_editions().items()},
        column_counts=dict(archive.column_article_counts()), retries=retries,
        known_pictures=known_pictures, picture_retries=picture_retries)


def plan_job(config: Config, db: str | Path, **scope: Any) -> CrawlJob:
    """The job the options ask for over the archive at ``db`` (made if missing):
    the scope checked first, then the archive read. ``scope``: plan_scope's options."""
    checked = plan_scope(config, **scope)
    archive = Archive(db)
    try:
        return read_job(archive, checked)
    finally:
        archive.close()
