"""``pdarchive``: crawl, parse, search, export, stats, serve, reparse.

Exit codes: 0 success; 1 the command ran but something failed (a page could not
be parsed, nothing to export); 2 usage error, missing file or unusable archive;
3 a crawl finished but looks wrong (most pages refused or parsed by the generic
fallback: the site's layout probably changed); 4 another crawl holds the archive;
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

from crawler.config import ConfigError

from .store import Archive, ArchiveError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_WARNING, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


class UsageError(Exception):
    """A one-line message for the user; exit code 2."""


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
    from crawler.run import CrawlLocked, run_crawl

    try:
        result = run_crawl(
            db=args.db, config_path=args.config, columns=args.column, editions=args.edition,
            max_list_pages=args.max_list_pages, full=args.full, log_level=args.log_level,
        )
    except CrawlLocked as error:
        print(f"pdarchive: {error}", file=sys.stderr)
        return EXIT_LOCKED
    print(result.summary(), file=sys.stderr)
    if result.status == "interrupted":
        return EXIT_INTERRUPTED
    if result.status == "warning":
        return EXIT_WARNING
    return EXIT_OK


# -- export, stats, reparse -------------------------------------------------------

def cmd_export(args: argparse.Namespace) -> int:
    from .export import Filters, iter_records, write_jsonl

    archive = _open(args.db, readonly=True)
    records = iter_records(archive, Filters(args.since, args.until, args.column))
    if args.output:
        from .atomic import atomic_text_file

        with atomic_text_file(Path(args.output)) as out:
            count = write_jsonl(records, out)
    else:
        count = write_jsonl(records, sys.stdout)
    print(f"exported {count} articles", file=sys.stderr)
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from .stats import collect, render_text

    stats = collect(_open(args.db, readonly=True))
    if args.format == "json":
        print(json.dumps(stats, ensure_ascii=False, indent=2))
    else:
        print(render_text(stats))
    return EXIT_OK


def cmd_reparse(args: argparse.Namespace) -> int:
    from .reparse import reparse

    result = reparse(_open(args.db))
    print(result.summary(), file=sys.stderr)
    return EXIT_FAILED if result.failed else EXIT_OK


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

    crawl = commands.add_parser("crawl", parents=[common], help="crawl columns into the archive")
    crawl.add_argument("--column", action="append", metavar="ID",
                       help="column id to crawl (repeatable; default: the configured set)")
    crawl.add_argument("--edition", action="append", choices=["gb", "big5"],
                       help="edition to fetch (repeatable; default from config: gb)")
    crawl.add_argument("--max-list-pages", type=int, metavar="N",
                       help="follow at most N list pages per column")
    crawl.add_argument("--full", action="store_true",
                       help="re-fetch every listed article and update changed ones")
    crawl.add_argument("--config", type=Path, help="TOML configuration file")
    crawl.add_argument("--log-level", default="WARNING",
                       choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                       help="Scrapy log level (default: WARNING; progress is shown anyway)")
    crawl.set_defaults(handler=cmd_crawl)

    parse = commands.add_parser("parse", parents=[common],
                                help="fetch or read single pages and print their parse")
    parse.add_argument("url", nargs="*", help="page URLs to fetch and parse")
    parse.add_argument("--html", metavar="FILE", help="parse this saved page instead")
    parse.add_argument("--url", dest="url_option", metavar="URL",
                       help="the URL the --html page was served from")
    parse.add_argument("--content-type", metavar="CT", help="its HTTP Content-Type")
    parse.add_argument("--config", type=Path, help="TOML configuration (User-Agent, timeout)")
    parse.set_defaults(handler=cmd_parse)

    export = commands.add_parser("export", parents=[common], help="write articles out")
    export.add_argument("--format", required=True, choices=["json", "jsonl", "csv"])
    export.add_argument("-o", "--output", metavar="FILE", help="file to write (default: stdout)")
    export.add_argument("--since", type=_date, metavar="DATE")
    export.add_argument("--until", type=_date, metavar="DATE")
    export.add_argument("--column", metavar="ID")
    export.set_defaults(handler=cmd_export)

    stats = commands.add_parser("stats", parents=[common], help="what the archive holds")
    stats.add_argument("--format", choices=["text", "json"], default="text")
    stats.set_defaults(handler=cmd_stats)

    reparse = commands.add_parser("reparse", parents=[common],
                                  help="re-extract every article from the stored raw pages")
    reparse.set_defaults(handler=cmd_reparse)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "url_option", None):
            args.url = [*args.url, args.url_option]
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except (UsageError, ArchiveError, ConfigError) as error:
        print(f"pdarchive: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("pdarchive: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
