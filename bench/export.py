"""Export throughput and memory: ``pdarchive export`` in each format, as a user runs it.

The archive is tests/support/synthetic.py's with a capture per article (default 100,000
articles, each saved with its raw page as a crawl saves it; built on first use and
kept), so that the WARC export has pages to write. Each export is a fresh
``pdarchive export --format F -o FILE`` process; its wall time (start-up included)
gives articles per second and ``os.wait4`` its peak resident memory. The same
exports of the newest tenth of the archive (``--since``) show whether memory grows
with the archive. Every output is checked: it parses (JSON, JSON Lines, CSV with
the BOM, WARC through warcio) and holds every article (WARC: a response record for
each article's page).

    python -m bench.export [--articles N] [--db PATH] [--write]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from archive.store import Archive
from bench.report import write_section
from tests.support.synthetic import default_path, ensure_archive, machine

ROOT = Path(__file__).resolve().parents[1]

RATE_TARGET = 20_000  # JSON Lines articles per second
MEMORY_TARGET_MB = 200
FORMATS: dict[str, list[str]] = {"jsonl": [], "json": [], "csv": ["--bom"], "warc": []}
WARC_RATE_TARGET = 2_000  # WARC articles (request + response + metadata) per second


@dataclass(frozen=True)
class Run:
    format: str
    articles: int
    seconds: float
    peak_mb: float
    size_mb: float

    @property
    def rate(self) -> float:
        return self.articles / self.seconds


#: run in a child process, so that this one stays small: a child's peak memory
#: includes its parent's at the time it was started (fork, then exec)
COUNT = """
import csv, json, sys
path, format = sys.argv[1:]
if format == "json":
    with open(path, encoding="utf-8") as file:
        print(len(json.load(file)))
elif format == "warc":
    from warcio.archiveiterator import ArchiveIterator
    with open(path, "rb") as file:
        print(sum(1 for record in ArchiveIterator(file) if record.rec_type == "response"))
elif format == "jsonl":
    with open(path, encoding="utf-8") as file:
        print(sum(1 for line in file if json.loads(line)))
else:
    with open(path, encoding="utf-8-sig", newline="") as file:
        print(sum(1 for _ in csv.DictReader(file)))
"""


def count_output(path: Path, format: str) -> int:
    """How many articles the file holds, parsing all of it."""
    result = subprocess.run([sys.executable, "-c", COUNT, str(path), format],
                            capture_output=True, text=True, check=True)
    return int(result.stdout)


def export(db: Path, format: str, out: Path, extra: list[str]) -> tuple[float, float]:
    """(seconds, peak resident MB) of one ``pdarchive export`` process."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "archive.cli", "export", "--db", str(db), "--format",
             format, "-o", str(out), *extra], cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)  # the rusage of this child alone
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            errors.seek(0)
            raise SystemExit(f"export --format {format} failed: {errors.read().decode()}")
    return seconds, usage.ru_maxrss / 1024  # kilobytes on Linux


def newest_tenth(db: Path, articles: int) -> str:
    """A --since date that takes in about the newest tenth of the archive."""
    archive = Archive(db, readonly=True)
    try:
        row = archive.db.execute("SELECT published_at FROM articles ORDER BY rowid DESC "
                                 "LIMIT 1 OFFSET ?", [articles // 10]).fetchone()
        return str(row[0])[:10]
    finally:
        archive.close()


def measure(db: Path, articles: int) -> list[Run]:
    since = newest_tenth(db, articles)
    runs = []
    with tempfile.TemporaryDirectory() as directory:
        for extra, label in (([], "all"), (["--since", since], "newest")):
            for format, options in FORMATS.items():
                out = Path(directory) / ("export.warc.gz" if format == "warc"
                                         else f"export.{format}")
                seconds, peak = export(db, format, out, [*options, *extra])
                count = count_output(out, format)
                if label == "all" and count != articles:
                    raise SystemExit(f"{format}: {count} articles exported, not {articles}")
                runs.append(Run(format, count, seconds, peak, out.stat().st_size / 1e6))
                out.unlink()
                print(f"  {format} ({label}): {count} articles, {seconds:.1f} s, "
                      f"{peak:.0f} MB peak", file=sys.stderr)
    return runs


def section(runs: list[Run], articles: int, db: Path) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run {when} on {machine()}. Archive: {articles:,} synthetic articles "
        "(tests/support/synthetic.py, each with a capture of its page), "
        f"{db.stat().st_size / 1e6:,.0f} MB. Each row is one "
        "`pdarchive export --format F -o FILE` process (CSV with `--bom`); articles/s is "
        "over its wall time, start-up included; peak memory is its maximum resident "
        "set (`os.wait4`). The second group exports the newest tenth of the archive "
        "(`--since`): peak memory that does not grow with the export is flat.",
        "",
        "| format | articles | seconds | articles/s | peak memory (MB) | output (MB) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {run.format} | {run.articles:,} | {run.seconds:.1f} | {run.rate:,.0f} | "
              f"{run.peak_mb:.0f} | {run.size_mb:,.0f} |" for run in runs]
    jsonl = next(run for run in runs if run.format == "jsonl" and run.articles == articles)
    warc = next(run for run in runs if run.format == "warc" and run.articles == articles)
    peak = max(run.peak_mb for run in runs)
    lines += [
        "",
        "Targets:",
        "",
        f"- {'met' if jsonl.rate >= RATE_TARGET else '**not met**'}: JSON Lines at "
        f"{RATE_TARGET:,} articles/s or more: {jsonl.rate:,.0f}",
        f"- {'met' if warc.rate >= WARC_RATE_TARGET else '**not met**'}: WARC (gzip per "
        f"record; a response, a request and a metadata record an article) at "
        f"{WARC_RATE_TARGET:,} articles/s or more: {warc.rate:,.0f}",
        f"- {'met' if peak < MEMORY_TARGET_MB else '**not met**'}: peak resident memory "
        f"under {MEMORY_TARGET_MB} MB in every format: at most {peak:.0f} MB",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="the synthetic archive (default: in /tmp)")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args(argv)
    db = ensure_archive(args.articles, args.db or default_path(args.articles, captures=True),
                        captures=True)
    text = section(measure(db, args.articles), args.articles, db)
    print(text)
    if args.write:
        write_section("export", text, "Export throughput and memory (`bench/export.py`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
