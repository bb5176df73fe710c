"""The command line documents itself: a version, help for every option of every
command, options shared between commands defined once, and `schedule` passing on
every crawl option; and it starts without importing what only other commands need."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.cli import _crawl_argv, build_parser
from archive.store import Archive
from tests.support.oracle import EXPECTED


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
              ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def test_every_option_of_every_command_has_help() -> None:
    missing = [f"pdarchive {' '.join(path)} {action.option_strings or action.dest}"
               for path, parser in _commands(build_parser()) for action in parser._actions
               if not action.help or action.help == argparse.SUPPRESS]
    assert missing == []


def test_help_names_the_formats() -> None:
    helps = {path: " ".join(filter(None, [parser.description, *(
                 action.help for action in parser._actions)]))
             for path, parser in _commands(build_parser())}
    assert "YYYY-MM-DD" in helps[("search",)] and "YYYY-MM-DD" in helps[("crawl",)]
    assert "jsonl: one article a line" in helps[("export",)]
    assert '"a phrase"' in helps[("search",)] and "NOT word" in helps[("search",)]
    assert "cron expression" in helps[("schedule",)]


def test_version_and_nested_help() -> None:
    version = subprocess.run([sys.executable, "-m", "archive.cli", "--version"],
                             capture_output=True, text=True, check=True)
    assert version.stdout.startswith("pdarchive ")
    discover = subprocess.run([sys.executable, "-m", "archive.cli", "columns", "discover",
                               "--help"], capture_output=True, text=True, check=True)
    assert discover.stdout.startswith("usage: pdarchive columns discover")
    assert "--log-level" in discover.stdout and "--db" not in discover.stdout


def test_columns_options_before_or_after_the_action() -> None:
    parser = build_parser()
    for argv in (["columns", "--config", "c.toml", "discover"],
                 ["columns", "discover", "--config", "c.toml"]):
        args = parser.parse_args(argv)
        assert (args.action, str(args.config), args.log_level) == ("discover", "c.toml",
                                                                    "WARNING")
    args = parser.parse_args(["columns", "--db", "x.db"])
    assert (args.action, str(args.db), args.config) == ("list", "x.db", None)
    assert str(parser.parse_args(["columns", "list", "--db", "y.db"]).db) == "y.db"


def test_config_is_defined_once() -> None:
    parsers = [parser for _, parser in _commands(build_parser())]
    actions = {id(action) for parser in parsers for action in parser._actions
               if "--config" in action.option_strings}
    # one definition for the commands, one (defaults left out) for columns' own
    assert len(actions) == 2


def test_schedule_passes_on_every_crawl_option() -> None:
    parser = build_parser()
    crawl_options = {option for action in _commands_named(parser, "crawl")._actions
                     for option in action.option_strings}
    schedule_options = {option for action in _commands_named(parser, "schedule")._actions
                        for option in action.option_strings}
    distributed = {"--redis", "--idle-timeout"}  # a worker's, not a scheduled crawl's
    assert crawl_options - distributed <= schedule_options
    args = parser.parse_args([
        "schedule", "--every", "1h", "--db", "a.db", "--column", "360300", "--edition", "big5",
        "--max-list-pages", "2", "--since", "2020-01-01", "--until", "2020-12-31",
        "--max-articles", "5", "--full", "--config", "c.toml", "--log-level", "INFO"])
    crawl = parser.parse_args(["crawl", *_crawl_argv(args)])
    for name in ("db", "column", "edition", "max_list_pages", "since", "until",
                 "max_articles", "full", "config", "log_level"):
        assert getattr(crawl, name) == getattr(args, name), name


def _commands_named(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    return dict(_commands(parser))[(name,)]


def test_help_never_breaks_a_date_format_or_an_option_at_its_hyphen() -> None:
    for _, parser in _commands(build_parser()):
        text = parser.format_help()
        assert not re.search(r"\w-\n", text), text



#: what a command that only reads never imports: the crawler, the writer's library, the
#: browser view, the parsers, the package metadata (each from a few to hundreds of
#: milliseconds of start-up)
HEAVY = ("scrapy", "twisted", "sqlite_utils", "datasette", "bs4", "lxml",
         "importlib.metadata", "importlib.resources")
#: one pdarchive command in a fresh interpreter: its exit code, what it printed, and the
#: modules it imported beyond those the interpreter starts with
_IMPORTS = """
import contextlib, io, json, sys
before = set(sys.modules)
from archive.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exit:
        code = exit.code
print(json.dumps({"code": code, "out": out.getvalue(),
                  "imported": sorted(set(sys.modules) - before)}))
"""


def _fresh(*argv: str | Path) -> tuple[str, set[str]]:
    """What ``pdarchive ARGV`` printed and which modules it imported."""
    done = subprocess.run([sys.executable, "-c", _IMPORTS, *map(str, argv)],
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    assert result["code"] == 0, done.stderr
    return result["out"], set(result["imported"])


def _of(modules: set[str], packages: tuple[str, ...]) -> set[str]:
    return {module for module in modules
            if any(module == name or module.startswith(name + ".") for name in packages)}


def test_help_imports_neither_the_archive_nor_the_configuration() -> None:
    out, imported = _fresh("--help")
    assert out.startswith("usage: pdarchive")
    assert _of(imported, HEAVY) == set()
    assert _of(imported, ("archive.store", "crawler.config", "sqlite3")) == set()


@pytest.mark.parametrize(("command", "shown"), [
    (["search", "住房城乡建设厅"], EXPECTED[0]["title"]),
    (["stats"], f"articles: {len(EXPECTED)}\n"),
])
def test_reading_commands_import_no_crawler_and_no_writer(
        fresh_db: Archive, command: list[str], shown: str) -> None:
    for record in EXPECTED:
        fresh_db.save_article(dict(record), [], run_id=None)
    out, imported = _fresh(*command, "--db", fresh_db.path)
    assert shown in out
    assert "archive.store" in imported and "crawler.config" in imported
    assert _of(imported, HEAVY) == set()
