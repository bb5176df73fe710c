"""Reparse throughput: ``pdarchive reparse`` of one archive with this parser and with
the parser of another git revision, in the same run, records checked identical.

One run builds a synthetic mirror (bench/mirror.py, default 5,000 articles), crawls
it into an archive through the loopback replay (tests/replay.py, as bench/crawl.py
does), then reparses fresh copies of that archive, alternately:

1. with this working tree's code;
2. with the same code but ``crawler/parse`` taken from ``--against REV``
   (``git archive``), so that only the parser differs.

Each reparse is a ``python -m archive.cli reparse`` process with ``PYTHONPATH``
at its code (its parse workers start from the same path). ``reparse`` re-extracts
every article version from its stored pages, whatever changed. After each, the
archive is exported (``export --format jsonl``): every export must be the same,
record for record, or the bench fails. The best round of each counts (the one
least disturbed by other load on the shared machine).

    python -m bench.reparse --against REV [--articles N] [--rounds N] [--write]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.report import write_section
from tests.support.mirror import build_mirror
from tests.support.replay import ReplayServer
from tests.support.synthetic import machine

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("crawler", "archive")
PARSER = "crawler/parse"
CONFIG = """
[crawl]
delay = 0
autothrottle = false
concurrent_per_host = 8
retries = 1
backoff_base = 0
"""


@dataclass
class Run:
    seconds: float
    #: CPU seconds of the command and its parse workers
    cpu: float
    stderr: str

    @property
    def summary(self) -> str:
        """reparse's summary line: ``reparsed N articles: …``."""
        return next((line for line in self.stderr.splitlines() if line.startswith("reparsed")),
                    "")


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pdarchive(command: list[str], code: Path, env: dict[str, str] | None = None) -> Run:
    """``python -m archive.cli COMMAND…`` on the code in ``code``; exits on failure."""
    env = dict(env or os.environ, PYTHONPATH=str(code))
    cpu = _cpu_of_children()
    started = time.perf_counter()
    # cwd is the code too: ``-m`` puts the working directory first on sys.path
    result = subprocess.run([sys.executable, "-m", "archive.cli", *command], cwd=code, env=env,
                            capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"pdarchive {command[0]} on {code} failed ({result.returncode}):\n"
                         f"{result.stderr[-2000:]}")
    return Run(seconds, _cpu_of_children() - cpu, result.stderr)


def check_imports(code: Path) -> None:
    """The code a command run on ``code`` imports is ``code``'s (PYTHONPATH before
    the installed package)."""
    probe = "import archive, crawler.parse; print(archive.__file__); print(crawler.parse.__file__)"
    found = subprocess.run([sys.executable, "-c", probe], cwd=code, capture_output=True,
                           text=True, check=True, env=dict(os.environ, PYTHONPATH=str(code)))
    for path in found.stdout.split():
        if not Path(path).resolve().is_relative_to(code.resolve()):
            raise SystemExit(f"a command run on {code} imports {path}")


def code_with_parser_of(revision: str, into: Path) -> Path:
    """A copy of this tree's packages with ``crawler/parse`` as of ``revision``."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, into / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(into / PARSER)
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision, PARSER],
                         capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(into, filter="data")
    return into


def commit_of(revision: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", revision],
                          capture_output=True, text=True, check=True).stdout.strip()


def copy_archive(source: Path, target: Path) -> Path:
    """A consistent copy of the archive (SQLite's backup: the WAL included)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def exported(db: Path, code: Path, scratch: Path) -> bytes:
    out = scratch / f"{db.stem}.jsonl"
    pdarchive(["export", "--db", str(db), "--format", "jsonl", "-o", str(out)], code)
    return out.read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, metavar="REV",
                        help="git revision whose crawler/parse is the baseline")
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2,
                        help="reparses of each parser; the best counts")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    if args.rounds < 1 or args.articles < 1:
        parser.error("--rounds and --articles must be at least 1")
    baseline_commit = commit_of(args.against)

    runs: dict[str, list[Run]] = {"this": [], "baseline": []}
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        codes = {"this": ROOT, "baseline": code_with_parser_of(args.against, scratch / "base")}
        for code in codes.values():
            check_imports(code)
        print(f"building a mirror of {args.articles} articles …", file=sys.stderr)
        site = build_mirror(scratch / "site", args.articles)
        config = scratch / "bench.toml"
        config.write_text(CONFIG)
        crawled = scratch / "crawled.db"
        with ReplayServer(site) as server:
            print("crawling it …", file=sys.stderr)
            crawl_seconds = pdarchive(["crawl", "--db", str(crawled), "--column", "360300",
                                       "--no-images", "--config", str(config)],
                                      ROOT, server.client_env()).seconds
        exports: dict[str, bytes] = {}
        for round_ in range(args.rounds):
            order = ("this", "baseline") if round_ % 2 == 0 else ("baseline", "this")
            for name in order:
                db = copy_archive(crawled, scratch / f"{name}{round_}.db")
                runs[name].append(pdarchive(["reparse", "--db", str(db), "--config",
                                             str(config)], codes[name]))
                exports[f"{name}{round_}"] = exported(db, ROOT, scratch)
                print(f"round {round_ + 1}, {name}: {runs[name][-1].seconds:.1f} s "
                      f"({runs[name][-1].summary})", file=sys.stderr)
        records = exports["this0"].count(b"\n")
        different = sorted(key for key, text in exports.items() if text != exports["this0"])
        if different:
            raise SystemExit(f"records differ from this parser's in {', '.join(different)}")
        if records < args.articles:
            raise SystemExit(f"the archive holds {records} articles, not {args.articles}")

    this = min(runs["this"], key=lambda run: run.seconds)
    baseline = min(runs["baseline"], key=lambda run: run.seconds)
    seconds = lambda name: ", ".join(f"{run.seconds:.1f}" for run in runs[name])  # noqa: E731
    table = "\n".join([
        f"`pdarchive reparse` of a crawled archive of {args.articles:,} articles (synthetic "
        f"mirror, crawled in {crawl_seconds:.0f} s), each reparse on a fresh copy of it; "
        f"{machine()}, {date.today()}. Best of {args.rounds} rounds each, alternating "
        f"(all rounds: this parser {seconds('this')} s; `{baseline_commit}`'s "
        f"{seconds('baseline')} s). Only `crawler/parse` differs between the two.",
        "",
        "| parser | seconds | articles/s | CPU s (ms/article) | vs baseline |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| `{baseline_commit}` (`--against {args.against}`) | {baseline.seconds:.1f} |"
        f" {args.articles / baseline.seconds:.0f} |"
        f" {baseline.cpu:.1f} ({baseline.cpu / args.articles * 1000:.2f}) | 1.00× |",
        f"| this tree | {this.seconds:.1f} | {args.articles / this.seconds:.0f} |"
        f" {this.cpu:.1f} ({this.cpu / args.articles * 1000:.2f}) |"
        f" {this.seconds / baseline.seconds:.2f}× |",
        "",
        f"Records: the {records:,} exported articles (`export --format jsonl`) are identical "
        f"after every reparse, by both parsers ({this.summary}).",
    ])
    print(table)
    if args.write:
        write_section("reparse", table, "Reparse: this parser against an earlier one")


if __name__ == "__main__":
    main()
