"""``pdarchive``: crawl, schedule, parse, search, export, stats, serve, reparse.

Exit codes: 0 success; 1 the command ran but something failed (a page could not
be parsed, nothing to export); 2 usage error, missing file or unusable archive;
3 a crawl finished but looks wrong (most pages refused or parsed by the generic
fallback, or a list page that links to nothing: the site's layout probably
changed); 4 another writer (crawl, ingest, reparse, reindex) holds the archive;
5 a crawl stopped because the archive could not be written (disk full, file made
read-only or damaged under it: what was committed before is kept); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

from crawler.config import ConfigError

from .errors import UsageError
from .locking import CrawlLocked
from .progress import ProgressLine
from .store import Archive, ArchiveError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_WARNING, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_UNWRITABLE = 5


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _open(db: Path, *, create: bool = False, readonly: bool = False) -> Archive:
    return Archive(db, create=create, readonly=readonly)


# -- parse ------------------------------------------------------------------------

def _fetch(url: str, user_agent: str, timeout: float) -> tuple[bytes, str | None]:
    """One page through urllib, which honours http_proxy/https_proxy like Scrapy."""
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": user_agent})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read(), response.headers.get("Content-Type")


def cmd_parse(args: argparse.Namespace) -> int:
    from crawler.config import load_config
    from crawler.parse import ParseRefused, parse_page

    def emit(obj: dict[str, Any]) -> None:
        print(json.dumps(obj, ensure_ascii=False), flush=True)

    if args.html:
        if not args.url or len(args.url) != 1:
            raise UsageError("--html FILE needs exactly one --url URL")
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
    )
    print(result.summary(), file=sys.stderr)
    if result.status == "failed":
        return EXIT_UNWRITABLE
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
    if args.max_list_pages is not None:
        argv += ["--max-list-pages", str(args.max_list_pages)]
    if args.config is not None:
        argv += ["--config", str(args.config)]
    if args.full:
        argv.append("--full")
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
    if args.max_runs is not None and args.max_runs < 1:
        raise UsageError("--max-runs needs at least 1")
    return Scheduler(timetable, _crawl_argv(args), max_runs=args.max_runs).run()


# -- export, stats, reparse -------------------------------------------------------

def cmd_export(args: argparse.Namespace) -> int:
    from .export import Filters, iter_json, iter_records, write_csv, write_json, write_jsonl
    from .search import QueryError

    if args.bom and args.format != "csv":
        raise UsageError("--bom is for --format csv")
    if args.format in ("warc", "wacz"):
        return _export_captures(args)
    if args.versions and args.format not in ("json", "jsonl"):
        raise UsageError("--versions is for --format json or jsonl")
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
    if args.output:
        from .atomic import atomic_binary_file, atomic_text_file

        # JSON comes as UTF-8 bytes; CSV writes its own CRLF row ends (newline="")
        with (atomic_text_file(Path(args.output), newline="") if args.format == "csv"
              else atomic_binary_file(Path(args.output))) as out:
            count = write(records, out)
    else:
        count = write(records, sys.stdout if args.format == "csv" else sys.stdout.buffer)
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
    from archive.topics import PARTY_BUILDING, topics_from_config
    from crawler.config import load_config

    if args.topic is None and args.min_score is None:
        return None, None
    name = args.topic or PARTY_BUILDING
    topics = {topic.name: topic for topic in topics_from_config(load_config(args.config).extra)}
    if name not in topics:
        raise UsageError(f"no topic {name!r} in the configuration "
                         f"(configured: {', '.join(sorted(topics)) or 'none'})")
    return name, args.min_score if args.min_score is not None else topics[name].threshold


def cmd_explain(args: argparse.Namespace) -> int:
    from archive.topics import explain, score_all, topics_from_config
    from crawler.config import load_config

    archive = _open(args.db, readonly=True)
    article = archive.article(args.article_id)
    if article is None:
        raise UsageError(f"no article {args.article_id} in {args.db}")
    print(f"{article['article_id']} {article['title']} ({article['published_at'][:10]})")
    topics = topics_from_config(load_config(args.config).extra)
    stored = archive.topic_scores(args.article_id)
    for topic, result in zip(topics, score_all(topics, article), strict=True):
        print(explain(result, topic))
        if topic.name in stored and stored[topic.name]["score"] != result.score:
            print(f"  (the archive holds score {stored[topic.name]['score']:g}, from an "
                  "earlier vocabulary: `pdarchive reparse` brings it up to date)")
    return EXIT_OK


def cmd_columns(args: argparse.Namespace) -> int:
    from crawler.config import load_config

    config = load_config(args.config)
    if args.action == "discover":
        from crawler.discover import discover_columns

        proposals = discover_columns(args.config, args.log_level)
        if not proposals:
            print("no column linked from the channel is missing from the configuration")
        for proposal in proposals:
            print(f"{proposal.column_id}\t{proposal.name or '(no name on its links)'}\t"
                  f"linked from {len(proposal.found_on)} page(s), e.g. {proposal.found_on[0]}")
        if proposals:
            print("\nadd one to your configuration:\n\n[[columns]]\n"
                  f'id = "{proposals[0].column_id}"\nname = "{proposals[0].name}"\n'
                  "default = true", file=sys.stderr)
        return EXIT_OK
    counts: dict[str, tuple[int, str | None]] = {}
    if args.db.exists():
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
    from .search import ANSI_MARKS, TEXT_MARKS, QueryError, format_text, search

    if args.limit < 1:
        raise UsageError("--limit needs at least 1")
    on_terminal = (args.format == "text" and sys.stdout.isatty()
                   and not os.environ.get("NO_COLOR"))
    try:
        topic, min_score = _topic_filter(args)
        hits = search(_open(args.db, readonly=True), args.query, since=args.since,
                      until=args.until, column=args.column, source=args.source,
                      topic=topic, min_score=min_score, limit=args.limit,
                      marks=ANSI_MARKS if on_terminal else TEXT_MARKS)
    except QueryError as error:
        raise UsageError(f"cannot search for {args.query!r}: {error}") from error
    if args.format == "json":
        print(json.dumps([hit.as_json() for hit in hits], ensure_ascii=False, indent=2))
    elif hits:
        print(format_text(hits, args.query, ANSI_MARKS if on_terminal else None))
    else:
        print(f"no article matches {args.query!r}", file=sys.stderr)
    return EXIT_OK


@contextmanager
def _sole_writer(db: Path, command: str, *, create: bool = False
                 ) -> Iterator[tuple[Archive, ProgressLine]]:
    """The archive, opened for a long write under the write lock (a crawl started
    meanwhile exits at once; one already running makes this command exit 4), and a
    progress line for it."""
    from .locking import crawl_lock

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
        print(render_text(stats))
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
    serve(args.db, sock)
    return EXIT_OK


# -- the parser -------------------------------------------------------------------

def _date(value: str) -> str:
    from datetime import date

    try:
        date.fromisoformat(value[:10])
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from error
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pdarchive", description=(
        "Crawl, search and export People's Daily Online Jiangsu channel "
        "(js.people.com.cn) party-building articles."))
    common = _Parser(add_help=False)
    common.add_argument("--db", type=Path, default=Path("archive.db"),
                        help="archive file (default: archive.db in the working directory)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    # What a crawl job covers: shared by `crawl`, `schedule` and `seed`.
    job_scope = _Parser(add_help=False)
    job_scope.add_argument(
        "--column", action="append", metavar="ID",
        help="column id to crawl (repeatable; default: the configured set)")
    job_scope.add_argument("--edition", action="append", choices=["gb", "big5"],
                           help="edition to fetch (repeatable; default from config: gb)")
    job_scope.add_argument("--max-list-pages", type=int, metavar="N",
                           help="follow at most N list pages per column")
    job_scope.add_argument("--full", action="store_true",
                           help="re-fetch every listed article and update changed ones")
    job_scope.add_argument("--config", type=Path, help="TOML configuration file")
    dates = _Parser(add_help=False)
    dates.add_argument("--since", type=_date, metavar="DATE",
                       help="fetch only articles published on or after DATE, and stop "
                            "walking a column's list pages once they reach before it")
    dates.add_argument("--until", type=_date, metavar="DATE",
                       help="fetch only articles published on or before DATE")
    log_level = _Parser(add_help=False)
    log_level.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="Scrapy log level (default: WARNING; progress is shown anyway)")

    crawl = commands.add_parser("crawl", parents=[common, job_scope, dates, log_level],
                                help="crawl columns into the archive")
    crawl.add_argument("--max-articles", type=int, metavar="N",
                       help="fetch at most N new articles in this run")
    crawl.set_defaults(handler=cmd_crawl)
    from .distributed_cli import add_commands as add_distributed_commands

    add_distributed_commands(commands, crawl, seed_parents=[common, job_scope, dates])

    schedule = commands.add_parser(
        "schedule", parents=[common, job_scope, log_level],
        help="run crawls on a schedule, in the foreground (containers, tmux)",
        description="Run `pdarchive crawl` with the given crawl options on a schedule, each "
                    "run in a fresh process, logging one line per run. Ctrl-C or SIGTERM "
                    "stops it (a running crawl stops cleanly first).")
    when = schedule.add_mutually_exclusive_group(required=True)
    when.add_argument("--every", metavar="DURATION",
                      help="run now, then every DURATION (90s, 30m, 6h, 1d)")
    when.add_argument("--cron", metavar="EXPR",
                      help='run at the times of a cron expression, local time ("0 * * * *")')
    schedule.add_argument("--jitter", metavar="DURATION",
                          help="random delay added to each run (default: 5%% of the period, "
                               "at most 10m; 0 for none)")
    schedule.add_argument("--max-runs", type=int, metavar="N", help="stop after N runs")
    schedule.set_defaults(handler=cmd_schedule)

    parse = commands.add_parser("parse", parents=[common],
                                help="fetch or read single pages and print their parse")
    parse.add_argument("url", nargs="*", help="page URLs to fetch and parse")
    parse.add_argument("--html", metavar="FILE", help="parse this saved page instead")
    parse.add_argument("--url", dest="url_option", metavar="URL",
                       help="the URL the --html page was served from")
    parse.add_argument("--content-type", metavar="CT", help="its HTTP Content-Type")
    parse.add_argument("--config", type=Path, help="TOML configuration (User-Agent, timeout)")
    parse.set_defaults(handler=cmd_parse)

    topic_options = _Parser(add_help=False)
    topic_options.add_argument(
        "--topic", metavar="NAME",
        help="keep articles scoring at least the topic's threshold (e.g. party-building)")
    topic_options.add_argument(
        "--min-score", type=float, metavar="X",
        help="keep articles whose topic score is at least X (topic: party-building)")
    topic_options.add_argument("--config", type=Path,
                               help="TOML configuration (topic vocabularies)")

    export = commands.add_parser("export", parents=[common, topic_options],
                                 help="write articles out")
    export.add_argument("--format", required=True,
                        choices=["json", "jsonl", "csv", "warc", "wacz"])
    export.add_argument("-o", "--output", metavar="FILE", help="file to write (default: stdout)")
    export.add_argument("--since", type=_date, metavar="DATE")
    export.add_argument("--until", type=_date, metavar="DATE")
    export.add_argument("--column", metavar="ID")
    export.add_argument("--source", metavar="TEXT", help="only articles whose source has TEXT")
    export.add_argument("--query", metavar="Q",
                        help="only articles that `pdarchive search Q` finds (all of them)")
    export.add_argument("--bom", action="store_true",
                        help="start a CSV with a UTF-8 byte order mark (for Excel)")
    export.add_argument("--versions", action="store_true",
                        help="give each article its earlier versions (json, jsonl)")
    export.set_defaults(handler=cmd_export)

    import_ = commands.add_parser(
        "import", parents=[common],
        help="read a WARC (any tool's, or an export) into the archive",
        description="Read the site's article pages, list pages and pictures out of a "
                    "WARC (.warc or .warc.gz) through the crawl's parser and write path; "
                    "other records are counted and skipped.")
    import_.add_argument("file", metavar="FILE.warc[.gz]")
    import_.add_argument("--config", type=Path,
                         help="TOML configuration (the site, topic vocabularies)")
    import_.set_defaults(handler=cmd_import)

    history = commands.add_parser(
        "history", parents=[common],
        help="an article's versions, when each was captured and what changed")
    history.add_argument("article_id", metavar="ARTICLE_ID")
    history.add_argument("--format", choices=["text", "json"], default="text")
    history.set_defaults(handler=cmd_history)

    search = commands.add_parser(
        "search", parents=[common, topic_options], help="full-text search, in either script",
        description="Ranked full-text search (BM25, titles first) in simplified or "
                    "traditional script. Words must all occur; \"a phrase\" in quotes; "
                    "-word excludes; a OR b takes either.")
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--since", type=_date, metavar="DATE")
    search.add_argument("--until", type=_date, metavar="DATE")
    search.add_argument("--column", metavar="ID")
    search.add_argument("--source", metavar="TEXT", help="only articles whose source has TEXT")
    search.add_argument("--limit", type=int, default=20, metavar="N",
                        help="show the best N (default: 20)")
    search.add_argument("--format", choices=["text", "json"], default="text")
    search.set_defaults(handler=cmd_search)

    reindex = commands.add_parser("reindex", parents=[common],
                                  help="rebuild the full-text index from the articles")
    reindex.set_defaults(handler=cmd_reindex)

    stats = commands.add_parser("stats", parents=[common, topic_options],
                                help="what the archive holds")
    stats.add_argument("--format", choices=["text", "json"], default="text")
    stats.set_defaults(handler=cmd_stats)

    reparse = commands.add_parser("reparse", parents=[common],
                                  help="re-extract every article from the stored raw pages")
    reparse.add_argument("--config", type=Path, help="TOML configuration (topic vocabulary)")
    reparse.set_defaults(handler=cmd_reparse)

    explain = commands.add_parser("explain", parents=[common],
                                  help="why an article scored as it did for each topic")
    explain.add_argument("article_id", metavar="ARTICLE_ID")
    explain.add_argument("--config", type=Path, help="TOML configuration (topic vocabulary)")
    explain.set_defaults(handler=cmd_explain)

    columns = commands.add_parser(
        "columns", parents=[common],
        help="list the configured columns; `columns discover` proposes missing ones")
    columns.add_argument("action", nargs="?", choices=["list", "discover"], default="list")
    columns.add_argument("--config", type=Path, help="TOML configuration file")
    columns.add_argument("--log-level", default="WARNING",
                         choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    columns.set_defaults(handler=cmd_columns)

    serve = commands.add_parser("serve", parents=[common],
                                help="browse and search the archive in a web browser (read-only)")
    serve.add_argument("--port", type=int, default=8001,
                       help="port to listen on (default: 8001; 0: any free port)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, this machine only)")
    serve.set_defaults(handler=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args: argparse.Namespace | None = None
    try:
        args = parser.parse_args(argv)
        if getattr(args, "url_option", None):
            args.url = [*args.url, args.url_option]
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except (UsageError, ArchiveError, ConfigError) as error:
        print(f"pdarchive: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.DatabaseError as error:
        # Damage the opening checks did not see (only `crawl` reads every page first).
        print(f"pdarchive: error: {getattr(args, 'db', 'the archive')} cannot be read: {error} "
              "(`sqlite3 FILE 'PRAGMA integrity_check'` tells more)", file=sys.stderr)
        return EXIT_USAGE
    except CrawlLocked as error:  # another writer holds the archive
        print(f"pdarchive: {error}", file=sys.stderr)
        return EXIT_LOCKED
    except KeyboardInterrupt:
        print("pdarchive: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
