"""The full-text index's one-character prefix index (FTS5 ``prefix='1'``): kept or dropped?

A one-character query is a prefix query (every character starts an index term: see
archive/textnorm.py). With ``prefix='1'`` FTS5 keeps an index of those prefixes;
without it, it reads every term that starts with the character. The index costs
space and indexing time on every write; this bench measures what it buys.

Two copies of one synthetic archive (tests/support/synthetic.py, default 100,000
articles; ``--archive`` to use one built before), each index rebuilt from the articles
table (``fulltext.rebuild``, optimised), one with the shipped schema and one without
``prefix='1'``; then ``search_page(q, limit=20)`` (rank and count every match, the 20
best with snippets) for common and rare one-character queries and a two-character one,
the two archives interleaved, ``--runs`` times each. Run as
``python -m bench.prefix_index [--write]`` from the repository root.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from archive import fulltext
from archive.search import search_page
from archive.store import Archive
from bench.report import write_section
from tests.support.synthetic import ensure_archive, machine

QUERIES = ("党", "黨", "江", "锦", "錦", "党建")


def _copy(source: Path, target: Path, prefix: bool) -> tuple[float, int]:
    """A copy of ``source`` with its index rebuilt, with or without the prefix index:
    the rebuild's seconds and the index's bytes."""
    shutil.copy(source, target)
    archive = Archive(target)
    started = time.perf_counter()
    with archive.transaction():
        fulltext.rebuild(archive.db, prefix=prefix)
    seconds = time.perf_counter() - started
    size = archive.conn.execute(f"SELECT sum(length(block)) FROM {fulltext.TABLE}_data"
                                ).fetchone()[0]
    archive.close()
    return seconds, int(size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--archive", type=Path, help="a synthetic archive built before")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    source = args.archive or ensure_archive(args.articles)
    kinds = {"prefix='1' (shipped)": True, "no prefix index": False}
    with tempfile.TemporaryDirectory(dir=source.parent) as scratch:
        built = {}
        for number, (kind, prefix) in enumerate(kinds.items()):
            print(f"rebuilding the index of a copy: {kind} …", file=sys.stderr)
            path = Path(scratch) / f"copy{number}.db"
            built[kind] = (path, *_copy(source, path, prefix))
        archives = {kind: Archive(path, readonly=True) for kind, (path, _, _) in built.items()}
        articles = archives[next(iter(kinds))].conn.execute(
            "SELECT count(*) FROM articles").fetchone()[0]
        matches = {(kind, query): search_page(archive, query, limit=20).total
                   for kind, archive in archives.items() for query in QUERIES}
        times: dict[tuple[str, str], list[float]] = {key: [] for key in matches}
        for _ in range(args.runs):
            for query in QUERIES:
                for kind, archive in archives.items():
                    started = time.perf_counter()
                    search_page(archive, query, limit=20)
                    times[kind, query].append(1000 * (time.perf_counter() - started))
        for archive in archives.values():
            archive.close()

    def p95(values: list[float]) -> float:
        return sorted(values)[round(0.95 * (len(values) - 1))]

    names = list(kinds)
    lines = [
        f"{articles:,} synthetic articles, two copies, each index rebuilt and optimised; "
        f"`search_page(q, limit=20)` in process (rank and count every match, the 20 best "
        f"with snippets), {args.runs} runs per query, interleaved; {machine()}, "
        f"{date.today()}. Times in ms.",
        "",
        "| query | matches | " + " | ".join(f"{name} p50 | {name} p95" for name in names)
        + " | without / with (p50) |",
        "|---|---:|" + "---:|" * (2 * len(names) + 1),
    ]
    for query in QUERIES:
        cells = [f"{statistics.median(times[name, query]):.1f} | {p95(times[name, query]):.1f}"
                 for name in names]
        ratio = (statistics.median(times[names[1], query])
                 / statistics.median(times[names[0], query]))
        lines.append(f"| {query} | {matches[names[0], query]:,} | {' | '.join(cells)} | "
                     f"{ratio:.2f}× |")
    lines += ["", "| index | rebuild (s) | index data (MB) |", "|---|---:|---:|"]
    lines += [f"| {name} | {seconds:.0f} | {size / 1e6:.0f} |"
              for name, (_, seconds, size) in built.items()]
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section("prefix_index", table, "Full-text index: the one-character prefix index")


if __name__ == "__main__":
    main()
