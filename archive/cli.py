"""``pdarchive``: crawl, schedule, parse, search, export, stats, serve, reparse.

Exit codes: 0 success; 1 the command ran but something failed (a page could not
be parsed, nothing to export); 2 usage error, missing file or unusable archive;
3 a crawl finished but looks wrong (most pages refused or parsed by the generic
fallback, or a list page that links to nothing: the site's layout probably
changed); 4 another writer (crawl, ingest, reparse, reindex) holds the archive;
5 a crawl stopped because the archive could not be written (disk full, file made
read-only or damaged under it: what was committed before is kept); 6 a crawl failed
because the site could not be reached or refused it (most requests failed to
download or were blocked, or it kept refusing pages in a row); 130 interrupted.

Each command imports what it needs when it runs, so that ``--help``, ``search`` and
``stats`` start in under a tenth of a second (bench/startup.py): not Scrapy,
not sqlite-utils, not even the archive for ``--help``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from .errors import UsageError

if TYPE_CHECKING:
    from .progress import ProgressLine
    from .store import Archive

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_WARNING, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_UNWRITABLE = 5
EXIT_UNREACHABLE = 6


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's, without breaking lines at hyphens: YYYY-MM-DD and --max-articles
    stay whole."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(" ".join(text.split()), width, initial_indent=indent,
                             subsequent_indent=indent, break_on_hyphens=False)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _is_empty_file(db: Path) -> bool:
    """Is ``db`` a file of 0 bytes? False where it cannot be looked at (a directory
    that denies us): the archive's own open then names that cause."""
    try:
        return db.is_file() and db.stat().st_size == 0
    except OSError:
        return False


def _open(db: Path, *, create: bool = False, readonly: bool = False) -> Archive:
    from .store import Archive

    if not create and _is_empty_file(db):
        # SQLite takes an empty file for an empty database, which the archive would
        # call one that "needs a schema upgrade"
        raise UsageError(f"{db} is an empty file, not a pdarchive archive "
                         "(`pdarchive crawl --db FILE` makes one)")
    return Archive(db, create=create, readonly=readonly)


# -- parse ------------------------------------------------------------------------

def _fetch(url: str, user_agent: str, timeout: float) -> tuple[bytes, str | None]:
    """One page through urllib, which honours http_proxy/https_proxy like Scrapy."""
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": user_agent})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read(), response.headers.get("Content-Type")


def _check_url(url: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"not a URL: {url!r} (give http://… or https://…; a saved page: "
                         "--html FILE --url URL)")


def cmd_parse(args: argparse.Namespace) -> int:
    from crawler.config import load_config
    from crawler.parse import ParseRefused, parse_page

    def emit(obj: dict[str, Any]) -> None:
        print(json.dumps(obj, ensure_ascii=False), flush=True)

    if args.html:
        if not args.url or len(args.url) != 1:
            raise UsageError("--html FILE needs exactly one --url URL")
        _check_url(args.url[0])
        html = Path(args.html)
        if not html.is_file():
            raise UsageError(f"no such file: {html}")

        def read_saved() -> tuple[bytes, str | None]:
            return html.read_bytes(), args.content_type

        jobs: list[tuple[str, Callable[[], tuple[bytes, str | None]]]] = [
            (args.url[0], read_saved)]
    else:
        if not args.url:
            raise UsageError("give one or more URLs, or --html FILE --url URL")
        for url in args.url:
            _check_url(url)
        config = load_config(args.config)
        jobs = [(url, partial(_fetch, url, config.user_agent, config.timeout))
                for url in args.url]

    failed = 0
    for url, get in jobs:
        try:
            body, content_type = get()
            emit(parse_page(body, url, content_type))
        except ParseRefused as refusal:
            failed += 1
            emit({"url": url, "error": refusal.kind, "reason": refusal.reason})
        except OSError as error:  # urllib's HTTPError and URLError are OSErrors
            failed += 1
            reason = getattr(error, "reason", None) or str(error)
            code = getattr(error, "code", None)
            emit({"url": url, "error": "fetch_error",
                  "reason": f"HTTP {code}" if code else str(reason)})
    return EXIT_FAILED if failed else EXIT_OK


# -- crawl ------------------------------------------------------------------------

def cmd_crawl(args: argparse.Namespace) -> int:
    if args.redis:  # a worker of a distributed crawl
        from .distributed_cli import crawl_worker

        return crawl_worker(args)
    from crawler.run import run_crawl

    result = run_crawl(
        db=args.db, config_path=args.config, columns=args.column, editions=args.edition,
        max_list_pages=args.max_list_pages, full=args.full, log_level=args.log_level,
        since=args.since, until=args.until, max_articles=args.max_articles,
        images=args.images,
    )
    print(result.summary(), file=sys.stderr)
    if result.status == "failed":
        return (EXIT_UNREACHABLE if result.stats.get("pdarchive/failure") == "site"
                else EXIT_UNWRITABLE)
    if result.status == "interrupted":
        return EXIT_INTERRUPTED
    if result.status == "warning":
        return EXIT_WARNING
    return EXIT_OK


def _crawl_argv(args: argparse.Namespace) -> list[str]:
    """The ``pdarchive crawl`` options that ``args`` (of ``schedule``) carries."""
    argv = ["--db", str(args.db), "--log-level", args.log_level]
    for column in args.column or []:
        argv += ["--column", column]
    for edition in args.edition or []:
        argv += ["--edition", edition]
    for option in ("max_list_pages", "since", "until", "max_articles", "config"):
        if getattr(args, option) is not None:
            argv += ["--" + option.replace("_", "-"), str(getattr(args, option))]
    if args.full:
        argv.append("--full")
    if args.images is False:
        argv.append("--no-images")
    return argv


def cmd_schedule(args: argparse.Namespace) -> int:
    from crawler.config import load_config, parse_duration

    from .schedule import ScheduleError, Scheduler, Timetable

    load_config(args.config)  # a bad config fails now, not at every run
    try:
        timetable = Timetable(
            every=parse_duration(args.every) if args.every else None, cron=args.cron,
            jitter=parse_duration(args.jitter) if args.jitter is not None else None)
    except ScheduleError as error:
        raise UsageError(str(error)) from error
    return Scheduler(timetable, _crawl_argv(args), max_runs=args.max_runs).run()


# -- export, stats, reparse -------------------------------------------------------

def _check_output(path: Path) -> None:
    """Refuse, before anything is written, an output file that cannot be made."""
    if path.is_dir():
        raise UsageError(f"{path} is a directory: give the file to write, "
                         f"e.g. -o {path / 'articles.jsonl'}")
    folder = path.absolute().parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: no such directory {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {path}: the directory {folder} is not writable")


def _counted(items: Iterable[Any], progress: ProgressLine, what: str) -> Iterator[Any]:
    for done, item in enumerate(items, 1):
        progress.count(done, None, what)
        yield item


def cmd_export(args: argparse.Namespace) -> int:
    from .export import Filters, iter_json, iter_records, write_csv, write_json, write_jsonl
    from .progress import ProgressLine
    from .search import QueryError

    if args.bom and args.format != "csv":
        raise UsageError("--bom is for --format csv")
    signal.signal(signal.SIGTERM, _raise_terminated)
    if args.format in ("warc", "wacz"):
        return _export_captures(args)
    if args.versions and args.format not in ("json", "jsonl"):
        raise UsageError("--versions is for --format json or jsonl")
    if args.output:
        _check_output(Path(args.output))
    archive = _open(args.db, readonly=True)
    filters = Filters(args.since, args.until, args.column, args.source,
                      *_topic_filter(args))
    try:
        if args.versions:
            from .history import iter_json_with_versions

            records: Any = iter_json_with_versions(archive, filters, args.query)
        else:
            records = (iter_records if args.format == "csv" else iter_json)(
                archive, filters, args.query)
    except QueryError as error:
        raise UsageError(f"cannot search for {args.query!r}: {error}") from error
    writers: dict[str, Callable[[Any, Any], int]] = {
        "jsonl": write_jsonl, "json": write_json,
        "csv": partial(write_csv, bom=args.bom)}
    write = writers[args.format]
    progress = ProgressLine()
    if args.output or not sys.stdout.isatty():  # never over the export on a terminal
        records = _counted(records, progress, "articles exported")
    if args.output:
        from .atomic import atomic_binary_file, atomic_text_file

        # JSON comes as UTF-8 bytes; CSV writes its own CRLF row ends (newline="")
        with (atomic_text_file(Path(args.output), newline="") if args.format == "csv"
              else atomic_binary_file(Path(args.output))) as out:
            count = write(records, out)
    else:
        count = write(records, sys.stdout if args.format == "csv" else sys.stdout.buffer)
    progress.close()
    print(f"exported {count} articles", file=sys.stderr)
    return EXIT_OK


def _export_captures(args: argparse.Namespace) -> int:
    """``export --format warc|wacz``: the matching articles' captures."""
    from .export import Filters
    from .search import QueryError
    from .warc import write_wacz, write_warc

    if args.versions:
        raise UsageError("--versions is for --format json or jsonl (a WARC holds every "
                         "capture of every version anyway)")
    if args.format == "wacz" and not args.output:
        raise UsageError("--format wacz needs -o FILE (a WACZ is a zip file)")
    archive = _open(args.db, readonly=True)
    filters = Filters(args.since, args.until, args.column, args.source,
                      *_topic_filter(args))
    try:
        if args.format == "wacz":
            import shutil
            import tempfile

            from .atomic import atomic_binary_file

            with tempfile.TemporaryDirectory(prefix="pdarchive-wacz-") as directory:
                made = Path(directory) / "export.wacz"
                result = write_wacz(archive, made, filters, args.query)
                with atomic_binary_file(Path(args.output)) as out, made.open("rb") as wacz:
                    shutil.copyfileobj(wacz, out)
        elif args.output:
            from .atomic import atomic_binary_file

            with atomic_binary_file(Path(args.output)) as out:
                result = write_warc(archive, out, filters, args.query,
                                    filename=Path(args.output).name)
        else:
            result = write_warc(archive, sys.stdout.buffer, filters, args.query)
    except QueryError as error:
        raise UsageError(f"cannot search for {args.query!r}: {error}") from error
    print(f"exported {result.articles} articles, {result.captures} captures", file=sys.stderr)
    if result.damaged:
        count = len(result.damaged)
        print(f"{count} stored cop{'ies' if count != 1 else 'y'} damaged, left out "
              "(`pdarchive reparse` lists them and has them fetched again):", file=sys.stderr)
        for damaged in result.damaged:
            print(f"  {damaged}", file=sys.stderr)
    return EXIT_FAILED if result.damaged else EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from archive.topics import topics_from_config
    from crawler.config import load_config

    from .warc import NotAWarc, import_warc

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    config = load_config(args.config)
    host = config.base_url.split("://", 1)[-1].split("/", 1)[0]
    with _sole_writer(args.db, "import", create=True) as (archive, progress):
        try:
            result = import_warc(archive, path, topics_from_config(config.extra),
                                 site_host=host, on_progress=lambda done, total: progress.count(
                                     done, total, "articles imported"))
        except NotAWarc as error:
            raise UsageError(str(error)) from error
    print(result.summary(), file=sys.stderr)
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from .history import render_text, versions

    archive = _open(args.db, readonly=True)
    told = versions(archive, args.article_id)
    if not told:
        raise UsageError(f"no article {args.article_id} in {args.db}")
    if args.format == "json":
        print(json.dumps({"article_id": args.article_id, "versions": told},
                         ensure_ascii=False, indent=2))
    else:
        print(render_text(args.article_id, told))
    return EXIT_OK


# -- search, reindex --------------------------------------------------------------

def _topic_filter(args: argparse.Namespace) -> tuple[str | None, float | None]:
    """``(topic, min_score)`` from --topic / --min-score: a topic alone keeps the
    articles at or above its configured threshold; --min-score alone applies to
    the party-building topic."""
    if args.topic is None and args.min_score is None:
        return None, None
    from archive.topics import PARTY_BUILDING, topics_from_config
    from crawler.config import load_config

    name = args.topic or PARTY_BUILDING
    topics = {topic.name: topic for topic in topics_from_config(load_config(args.config).extra)}
    if name not in topics:
        raise UsageError(f"no topic {name!r} in the configuration "
                         f"(configured: {', '.join(sorted(topics)) or 'none'})")
    return name, args.min_score if args.min_score is not None else topics[name].threshold


def cmd_explain(args: argparse.Namespace) -> int:
    from archive.topics import explain, score_all, topics_from_config
    from crawler.config import load_config

    from .terminal import safe

    archive = _open(args.db, readonly=True)
    article = archive.article(args.article_id)
    if article is None:
        raise UsageError(f"no article {args.article_id} in {args.db}")
    print(safe(f"{article['article_id']} {article['title']} ({article['published_at'][:10]})"))
    topics = topics_from_config(load_config(args.config).extra)
    stored = archive.topic_scores(args.article_id)
    for topic, result in zip(topics, score_all(topics, article), strict=True):
        print(safe(explain(result, topic)))
        if topic.name in stored and stored[topic.name]["score"] != result.score:
            print(f"  (the archive holds score {stored[topic.name]['score']:g}, from an "
                  "earlier vocabulary: `pdarchive reparse` brings it up to date)")
    return EXIT_OK


def cmd_columns(args: argparse.Namespace) -> int:
    from crawler.config import load_config

    config = load_config(args.config)
    if args.action == "discover":
        from crawler.discover import NothingRead, discover_columns

        try:
            proposals = discover_columns(args.config, args.log_level)
        except NothingRead as nothing:
            print(f"pdarchive: error: {nothing}", file=sys.stderr)
            return EXIT_UNREACHABLE
        if not proposals:
            print("no column linked from the channel is missing from the configuration")
        from .terminal import safe

        for proposal in proposals:  # names are link texts of crawled pages
            print(safe(f"{proposal.column_id}\t{proposal.name or '(no name on its links)'}\t"
                  f"linked from {len(proposal.found_on)} page(s), e.g. {proposal.found_on[0]}"))
        if proposals:
            print("\nto crawl them, add to your configuration:", file=sys.stderr)
            for proposal in proposals:
                name = proposal.name.replace("\\", "\\\\").replace('"', '\\"')
                print(safe(f'\n[[columns]]\nid = "{proposal.column_id}"\nname = "{name}"\n'
                           "default = true"), file=sys.stderr)
        return EXIT_OK
    archive = _open(args.db, readonly=True)
    counts = {row["column_id"]: (row["articles"], row["last_crawled"])
              for row in archive.column_summary()}
    print("column\tname\tdefault\tarticles\tlast crawled")
    for column in config.columns:
        articles, last = counts.get(column.id, (0, None))
        print(f"{column.id}\t{column.name}\t{'yes' if column.default else 'no'}\t"
              f"{articles}\t{last or 'never'}")
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from . import terminal
    from .filters import FilterError, Filters
    from .search import ANSI_MARKS, TEXT_MARKS, QueryError, format_text, search_page

    on_terminal = (args.format == "text" and sys.stdout.isatty()
                   and not os.environ.get("NO_COLOR"))
    # text is printed without the crawled text's control characters: it is marked
    # with placeholders that survive terminal.safe, which then puts in the marks
    marked = terminal.placeholders() if args.format == "text" else TEXT_MARKS
    offset = args.offset if args.offset is not None else (args.page - 1) * args.limit
    try:
        topic, min_score = _topic_filter(args)
        filters = Filters(args.since, args.until, args.column, args.source, topic, min_score)
        page = search_page(_open(args.db, readonly=True), args.query, filters,
                           sort=args.sort, offset=offset, limit=args.limit, marks=marked)
    except (QueryError, FilterError) as error:
        raise UsageError(f"cannot search for {args.query!r}: {error}") from error
    hits = page.hits
    if hits:
        print(f"{page.total:,} articles match; {offset + 1}–{offset + len(hits)} shown, "
              f"{SORT_NAMES[args.sort]}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps([hit.as_json() for hit in hits], ensure_ascii=False, indent=2))
    elif hits:
        text = format_text(hits, args.query, marked if on_terminal else None,
                           start=offset + 1)
        print(terminal.safe(text, marked, ANSI_MARKS if on_terminal else TEXT_MARKS))
    else:
        print(f"no article matches {args.query!r}" if not page.total else
              f"{page.total:,} articles match {args.query!r}, none from {offset + 1}",
              file=sys.stderr)
    return EXIT_OK


@contextmanager
def _sole_writer(db: Path, command: str, *, create: bool = False
                 ) -> Iterator[tuple[Archive, ProgressLine]]:
    """The archive, opened for a long write under the write lock (a crawl started
    meanwhile exits at once; one already running makes this command exit 4), and a
    progress line for it."""
    from .locking import crawl_lock
    from .progress import ProgressLine

    archive = _open(db, create=create)
    progress = ProgressLine()
    try:
        with crawl_lock(db, command):
            yield archive, progress
    finally:
        progress.close()
        archive.close()


def cmd_reindex(args: argparse.Namespace) -> int:
    from . import fulltext

    with _sole_writer(args.db, "reindex") as (archive, progress), archive.transaction():
        count = fulltext.rebuild(archive.db, lambda done, total: progress.count(
            done, total, "articles indexed"))
    print(f"reindexed {count} articles", file=sys.stderr)
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from .stats import collect, render_text

    topic, min_score = _topic_filter(args)
    stats = collect(_open(args.db, readonly=True), topic, min_score)
    if args.format == "json":
        print(json.dumps(stats, ensure_ascii=False, indent=2))
    else:
        from .terminal import safe

        print(safe(render_text(stats)))  # failure reasons quote what servers said
    return EXIT_OK


def cmd_reparse(args: argparse.Namespace) -> int:
    from archive.topics import topics_from_config
    from crawler.config import load_config
    from crawler.parser_pool import worker_count

    from .reparse import reparse

    config = load_config(args.config)
    # under the write lock: never a re-extraction of older pages over what a running
    # crawl just fetched
    with _sole_writer(args.db, "reparse") as (archive, progress):
        result = reparse(archive, topics_from_config(config.extra),
                         workers=worker_count(config.parse_workers, keep_a_core=False),
                         on_progress=lambda done, total: progress.count(
                             done, total, "articles reparsed"))
    print(result.summary(), file=sys.stderr)
    return EXIT_FAILED if result.failed or result.unreadable else EXIT_OK


# -- serve ------------------------------------------------------------------------

def cmd_serve(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0 to 65535, not {args.port}")
    _open(args.db, readonly=True).close()  # a missing or foreign file: say so now
    from .serve import listen, serve  # Datasette takes a while to import

    try:
        sock = listen(args.host, args.port)
    except OSError as error:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from error
    serve(args.db, sock, [args.host, *(args.allow_host or [])])
    return EXIT_OK


# -- the parser -------------------------------------------------------------------

DATE_FORMAT = "YYYY-MM-DD"
SORT_NAMES = {"relevance": "best first", "newest": "newest first", "oldest": "oldest first"}


def _date(value: str) -> str:
    from datetime import date

    try:
        date.fromisoformat(value[:10])
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date ({DATE_FORMAT}): {value!r}") from error
    return value


def _when(value: str) -> str:
    """A date or time a filter can compare as an instant (archive.filters)."""
    from .filters import FilterError, parse_time

    try:
        parse_time(value)
    except FilterError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
    return value


def _column_id(value: str) -> str:
    if not (value.isdigit() and value.isascii()):
        raise argparse.ArgumentTypeError(
            f"not a column id (the number in /GB/ID/index.html, e.g. 360300): {value!r}")
    return value


def _count(minimum: int) -> Callable[[str], int]:
    def count(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = minimum - 1
        if number < minimum:
            raise argparse.ArgumentTypeError(
                f"needs a whole number of at least {minimum}, not {value!r}")
        return number
    return count


class _Options:
    """Every option more than one command takes, each defined once, as argparse
    parent parsers. ``suppress``: leave an option absent when not given, for the
    nested commands of ``columns`` (argparse lets a subcommand's defaults overwrite
    what its parent command already parsed)."""

    def __init__(self, *, suppress: bool = False) -> None:
        def parent() -> _Parser:
            return _Parser(add_help=False,
                           argument_default=argparse.SUPPRESS if suppress else None)

        def default(value: Any) -> Any:
            return argparse.SUPPRESS if suppress else value

        self.archive = parent()
        self.archive.add_argument(
            "--db", type=Path, default=default(Path("archive.db")), metavar="PATH",
            help="archive file (default: archive.db in the working directory)")
        self.config = parent()
        self.config.add_argument(
            "--config", type=Path, metavar="FILE",
            help="TOML configuration: columns, politeness, topic vocabularies (default: "
                 "the shipped crawler/default_config.toml); checked before anything runs")
        self.log_level = parent()
        self.log_level.add_argument(
            "--log-level", default=default("WARNING"),
            choices=["DEBUG", "INFO", "WARNING", "ERROR"],
            help="Scrapy log level (default: WARNING; progress is shown anyway)")
        # What a crawl job covers: `crawl`, `schedule` and `seed`.
        self.job_scope = parent()
        self.job_scope.add_argument(
            "--column", action="append", type=_column_id, metavar="ID",
            help="column id to crawl, e.g. 360300 (repeatable; default: the columns the "
                 "configuration marks default)")
        self.job_scope.add_argument(
            "--edition", action="append", choices=["gb", "big5"],
            help="edition to fetch: gb (simplified) or big5 (traditional) (repeatable; "
                 "default from the configuration: gb)")
        self.job_scope.add_argument(
            "--max-list-pages", type=_count(0), metavar="N",
            help="follow at most N list pages per column (0: all)")
        self.job_scope.add_argument(
            "--full", action="store_true",
            help="re-fetch every listed article and update changed ones (default: only "
                 "what is new)")
        self.job_scope.add_argument(
            "--no-images", dest="images", action="store_false", default=default(None),
            help="do not fetch the pictures the articles show (default: each picture is "
                 "archived once, as the configuration's `images` says)")
        self.job_dates = parent()
        self.job_dates.add_argument(
            "--since", type=_date, metavar="DATE",
            help=f"fetch only articles published on or after DATE ({DATE_FORMAT}), and stop "
                 "walking a column's list pages once they reach before it")
        self.job_dates.add_argument(
            "--until", type=_date, metavar="DATE",
            help=f"fetch only articles published on or before DATE ({DATE_FORMAT})")
        # A crawl in one process (`crawl`, `schedule`), not a distributed job.
        self.job_limit = parent()
        self.job_limit.add_argument(
            "--max-articles", type=_count(1), metavar="N",
            help="fetch at most N new articles in this run")
        # Which articles: `search`, `export`, `stats`.
        self.topic = parent()
        self.topic.add_argument(
            "--topic", metavar="NAME",
            help="keep articles scoring at least the topic's configured threshold "
                 "(e.g. party-building)")
        self.topic.add_argument(
            "--min-score", type=float, metavar="X",
            help="keep articles whose topic score is at least X (topic: --topic, or "
                 "party-building)")
        self.filters = parent()
        self.filters.add_argument(
            "--since", type=_when, metavar="DATE",
            help=f"only articles published on or after DATE ({DATE_FORMAT}; also "
                 "2021/1/15, 2021年1月15日, a month 2021-01, a year; or a time with its "
                 "zone, 2021-01-15T03:00:00Z, Beijing time without one)")
        self.filters.add_argument(
            "--until", type=_when, metavar="DATE",
            help="only articles published on or before DATE (as for --since; a date, "
                 "month or year takes in all of it)")
        self.filters.add_argument(
            "--column", type=_column_id, metavar="ID",
            help="only articles of this column, e.g. 360300")
        self.filters.add_argument(
            "--source", metavar="TEXT", help="only articles whose source contains TEXT")


QUERY_HELP = ("words that must all occur, in either script (党建 finds 黨建); \"a phrase\" "
              "in quotes; -word or NOT word excludes; a OR b takes either; a query that "
              "starts with - goes after --")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pdarchive")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


class _VersionAction(argparse.Action):
    """argparse's ``action="version"``, with the version looked up only when asked for:
    importlib.metadata costs every command 20 ms."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0,
                         help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> NoReturn:
        print(f"pdarchive {_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pdarchive", description=(
        "Crawl, search and export People's Daily Online Jiangsu channel "
        "(js.people.com.cn) party-building articles."))
    parser.add_argument("--version", action=_VersionAction,
                        help="print pdarchive's version and exit")
    options = _Options()
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser,
        help="what to do (`pdarchive COMMAND --help` for its options)")
    commands.required = True

    crawl_options = [options.archive, options.config, options.job_scope, options.job_dates,
                     options.job_limit, options.log_level]
    crawl = commands.add_parser("crawl", parents=crawl_options,
                                help="crawl columns into the archive",
                                description="Crawl the columns into the archive: incremental "
                                            "unless --full, politely (see the configuration).")
    crawl.set_defaults(handler=cmd_crawl)
    from .distributed_cli import add_commands as add_distributed_commands

    add_distributed_commands(commands, crawl, seed_parents=[
        options.archive, options.config, options.job_scope, options.job_dates])

    schedule = commands.add_parser(
        "schedule", parents=crawl_options,
        help="run crawls on a schedule, in the foreground (containers, tmux)",
        description="Run `pdarchive crawl` with the given crawl options on a schedule, each "
                    "run in a fresh process, logging one line per run. Ctrl-C or SIGTERM "
                    "stops it (a running crawl stops cleanly first).")
    when = schedule.add_mutually_exclusive_group(required=True)
    when.add_argument("--every", metavar="DURATION",
                      help="run now, then every DURATION (90s, 30m, 6h, 1d, 1h30m)")
    when.add_argument("--cron", metavar="EXPR",
                      help='run at the times of a cron expression, local time ("0 * * * *")')
    schedule.add_argument("--jitter", metavar="DURATION",
                          help="random delay added to each run (default: 5%% of the period, "
                               "at most 10m; 0 for none)")
    schedule.add_argument("--max-runs", type=_count(1), metavar="N",
                          help="stop after N runs (default: run until stopped)")
    schedule.set_defaults(handler=cmd_schedule)

    parse = commands.add_parser(
        "parse", parents=[options.archive, options.config],
        help="fetch or read single pages and print their parse",
        description="Fetch pages (no following) or read a saved one, and print each page's "
                    "parse as one JSON object a line; the configuration gives the "
                    "User-Agent and timeout.")
    parse.add_argument("url", nargs="*", metavar="URL",
                       help="page URLs to fetch and parse (http:// or https://)")
    parse.add_argument("--html", metavar="FILE", help="parse this saved page instead")
    parse.add_argument("--url", dest="url_option", metavar="URL",
                       help="the URL the --html page was served from")
    parse.add_argument("--content-type", metavar="CT",
                       help='its HTTP Content-Type (e.g. "text/html; charset=GB2312"; '
                            "default: read from the page)")
    parse.set_defaults(handler=cmd_parse)

    export = commands.add_parser(
        "export", parents=[options.archive, options.config, options.filters, options.topic],
        help="write articles out",
        description="Stream articles out, oldest first, as JSON, JSON Lines or CSV, or every "
                    "stored capture of them as WARC or WACZ.")
    export.add_argument("--format", required=True,
                        choices=["json", "jsonl", "csv", "warc", "wacz"],
                        help="json: one array; jsonl: one article a line; csv: one row an "
                             "article, the JSON record's fields as columns; warc: WARC/1.1 "
                             "request and response records of every stored capture; wacz: "
                             "that WARC packaged with its index for ReplayWeb.page (needs -o)")
    export.add_argument("-o", "--output", metavar="FILE",
                        help="file to write, replaced only once the export is whole "
                             "(default: stdout)")
    export.add_argument("--query", metavar="Q",
                        help="only articles that `pdarchive search Q` finds (all of them); "
                             "Q as for search")
    export.add_argument("--bom", action="store_true",
                        help="CSV for Excel: start with a UTF-8 byte order mark, and put ' "
                             "before a cell that a spreadsheet would run as a formula "
                             "(= + - @ tab CR)")
    export.add_argument("--versions", action="store_true",
                        help="give each article its earlier versions (json, jsonl)")
    export.set_defaults(handler=cmd_export)

    import_ = commands.add_parser(
        "import", parents=[options.archive, options.config],
        help="read a WARC (any tool's, or an export) into the archive",
        description="Read the site's article pages, list pages and pictures out of a "
                    "WARC (.warc or .warc.gz) through the crawl's parser and write path; "
                    "other records are counted and skipped.")
    import_.add_argument("file", metavar="FILE.warc[.gz]",
                         help="the WARC to read (.warc, or .warc.gz)")
    import_.set_defaults(handler=cmd_import)

    history = commands.add_parser(
        "history", parents=[options.archive],
        help="an article's versions, when each was captured and what changed")
    history.add_argument("article_id", metavar="ARTICLE_ID", help="the article's id")
    history.add_argument("--format", choices=["text", "json"], default="text",
                         help="text (default) or json")
    history.set_defaults(handler=cmd_history)

    search = commands.add_parser(
        "search", parents=[options.archive, options.config, options.filters, options.topic],
        help="full-text search, in either script",
        description="Ranked full-text search (BM25, titles first) in simplified or "
                    "traditional script. Words must all occur; \"a phrase\" in quotes; "
                    "-word excludes; a OR b takes either.")
    search.add_argument("query", metavar="QUERY", help=QUERY_HELP)
    search.add_argument("--limit", type=_count(1), default=20, metavar="N",
                        help="show N hits (default: 20)")
    where = search.add_mutually_exclusive_group()
    where.add_argument("--offset", type=_count(0), metavar="N",
                       help="skip the first N hits")
    where.add_argument("--page", type=_count(1), default=1, metavar="P",
                       help="show page P of --limit hits (default: 1)")
    search.add_argument("--sort", choices=list(SORT_NAMES), default="relevance",
                        help="relevance (default: BM25, best first), newest or oldest "
                             "first; the total of matches goes to stderr")
    search.add_argument("--format", choices=["text", "json"], default="text",
                        help="text (default): numbered hits; json: a list of {article_id, "
                             "url, title, published_at, source, snippet, score}")
    search.set_defaults(handler=cmd_search)

    reindex = commands.add_parser("reindex", parents=[options.archive],
                                  help="rebuild the full-text index from the articles")
    reindex.set_defaults(handler=cmd_reindex)

    stats = commands.add_parser("stats", parents=[options.archive, options.config,
                                                  options.topic],
                                help="what the archive holds")
    stats.add_argument("--format", choices=["text", "json"], default="text",
                       help="text (default) or json: counts by column, month and edition, "
                            "the last runs, open failures")
    stats.set_defaults(handler=cmd_stats)

    reparse = commands.add_parser("reparse", parents=[options.archive, options.config],
                                  help="re-extract every article from the stored raw pages")
    reparse.set_defaults(handler=cmd_reparse)

    explain = commands.add_parser("explain", parents=[options.archive, options.config],
                                  help="why an article scored as it did for each topic")
    explain.add_argument("article_id", metavar="ARTICLE_ID",
                         help="the article's id, the last number of its URL (34359164)")
    explain.set_defaults(handler=cmd_explain)

    columns = commands.add_parser(
        "columns", parents=[options.archive, options.config],
        help="list the configured columns; `columns discover` proposes missing ones",
        description="List the configured columns with their article counts and last crawl "
                    "(`columns` or `columns list`), or find columns the channel links to "
                    "that the configuration lacks (`columns discover`).")
    columns.set_defaults(handler=cmd_columns, log_level="WARNING")
    nested = _Options(suppress=True)
    actions = columns.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser,
                                     help="list (the default) or discover")
    actions.default = "list"  # `pdarchive columns` alone lists
    actions.add_parser("list", parents=[nested.archive, nested.config],
                       help="the configured columns, articles, last crawl (the default)",
                       description="The configured columns, their articles in the archive "
                                   "and their last crawl.")
    actions.add_parser("discover", parents=[nested.config, nested.log_level],
                       help="columns the channel links to, not yet configured",
                       description="Read the channel's home and list pages through the "
                                   "polite crawler and print the columns they link to "
                                   "that the configuration lacks, with a [[columns]] entry "
                                   "to paste.")

    serve = commands.add_parser("serve", parents=[options.archive],
                                help="browse and search the archive in a web browser (read-only)")
    serve.add_argument("--port", type=int, default=8001,
                       help="port to listen on (default: 8001; 0: any free port)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, this machine only); "
                            "requests must name it, or localhost, in their Host header")
    serve.add_argument("--allow-host", action="append", metavar="NAME",
                       help="also answer requests for this host name (repeatable), e.g. the "
                            "name a proxy forwards; any other Host is refused (421)")
    serve.set_defaults(handler=cmd_serve)
    return parser


class Terminated(Exception):
    """SIGTERM (a service manager's stop, ``kill``) during an export: raised where the
    export is, so that its ``.part`` file is cleaned up as on Ctrl-C. (Only there:
    servers and crawls have handlers of their own, and SQLite writers roll back.)"""


def _raise_terminated(signum: int, frame: Any) -> NoReturn:
    raise Terminated()


def _reported(error: Exception, args: argparse.Namespace | None) -> int | None:
    """The exit code of an error a user can act on, its one line printed; None for
    any other (a bug, whose traceback is wanted). Imports the errors' modules only
    now: ``--help`` needs none of them, and a command that raised one has them."""
    import sqlite3

    from crawler.config import ConfigError

    from .locking import CrawlLocked
    from .store import ArchiveError

    if isinstance(error, (UsageError, ArchiveError, ConfigError)):
        print(f"pdarchive: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(error, sqlite3.DatabaseError):
        # Damage the opening checks did not see (only `crawl` reads every page first).
        print(f"pdarchive: error: {getattr(args, 'db', 'the archive')} cannot be read: {error} "
              "(`sqlite3 FILE 'PRAGMA integrity_check'` tells more)", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(error, CrawlLocked):  # another writer holds the archive
        print(f"pdarchive: {error}", file=sys.stderr)
        return EXIT_LOCKED
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Every failure a user can act on ends here as one line on stderr and its exit
    code: usage errors, bad configuration and unusable archives exit 2."""
    parser = build_parser()
    args: argparse.Namespace | None = None
    try:
        args = parser.parse_args(argv)
        if getattr(args, "url_option", None):
            args.url = [*args.url, args.url_option]
        if "config" in vars(args):
            from crawler.config import load_config

            load_config(args.config)  # a bad configuration stops every command up front
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except (KeyboardInterrupt, Terminated):
        print("pdarchive: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as error:
        code = _reported(error, args)
        if code is None:
            raise
        return code


if __name__ == "__main__":
    sys.exit(main())
