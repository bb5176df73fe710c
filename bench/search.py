"""Search latency: the browser's results page and ``pdarchive search``, beside a LIKE scan.

The archive is tests/support/synthetic.py's (default 100,000 articles, built on first use
and kept). The query set is fixed: one, two, four and eight characters, each a
common and a rare term, each in simplified and in traditional script (16 queries).
Every match is ranked and counted (no window of recent matches).

- browser: ``GET /archive/search?q=...`` from a real ``pdarchive serve`` process over
  loopback: the HTML results page as a browser gets it, with the exact total, the
  20 best matches with their snippets and the facet counts over every match.
- cli: ``archive.search.search_page(archive, q, limit=20)`` in this process, the work
  ``pdarchive search`` does after start-up: parse and compile the query, rank every
  match, count them, fetch the 20 best and build their snippets.
- scan: what a search without the index has to do, finding every matching article
  (ranking needs them all): ``SELECT article_id FROM articles WHERE title || ' ' ||
  body LIKE '%q%'``, over the stored text, the query converted to simplified script
  with OpenCC first (the stored text is the GB edition's).

Each query runs once untimed (and the scan once over the whole table, so the file
is in the page cache), then ``--rounds`` times for the browser and the CLI and
``--scan-rounds`` times for the scan. p50 and p95 are per query and over all timed
runs of all queries. For the rare queries the bench also checks that the CLI finds
(with no limit) the same articles as the scan, and that the page's total is the
scan's count.

    python -m bench.search [--articles N] [--db PATH] [--rounds N] [--scan-rounds N] [--write]
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from urllib.parse import quote

from opencc import OpenCC

from archive import fulltext
from archive.search import compile_query, search, search_page
from archive.store import Archive
from bench.report import write_section
from tests.support.serving import fetch, served
from tests.support.synthetic import default_path, ensure_archive, machine

#: the issue's bar: a results page with its total for 党 at 100,000 articles
P95_TARGET_MS = 300.0


@dataclass(frozen=True)
class Case:
    query: str
    kind: str  # "common" or "rare"
    script: str  # "simplified" or "traditional"


#: (simplified, traditional) pairs: common and rare, of 1, 2, 4 and 8 characters
PAIRS = (
    ("党", "黨", "common"), ("锦", "錦", "rare"),
    ("党建", "黨建", "common"), ("蓝藻", "藍藻", "rare"),
    ("党建工作", "黨建工作", "common"), ("太湖蓝藻", "太湖藍藻", "rare"),
    ("江苏省住房和城乡", "江蘇省住房和城鄉", "common"),
    ("茅山新四军纪念馆", "茅山新四軍紀念館", "rare"),
)
CASES = tuple(case for simplified, traditional, kind in PAIRS
              for case in (Case(simplified, kind, "simplified"),
                           Case(traditional, kind, "traditional")))
_T2S = OpenCC("t2s")


@dataclass
class Result:
    case: Case
    matches: int
    browser: list[float]
    cli: list[float]
    scan: list[float]
    same_set: bool | None = None
    total_ok: bool = True

    @property
    def speedup(self) -> float:
        return statistics.median(self.scan) / statistics.median(self.browser)


def scan(connection: sqlite3.Connection, query: str) -> set[str]:
    pattern = f"%{_T2S.convert(query)}%"
    return {row[0] for row in connection.execute(
        "SELECT article_id FROM articles WHERE title || ' ' || body LIKE ?", [pattern])}


def timed(function: Callable[[], object], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


_TOTAL = re.compile(rb'class="pd-total" data-total="(\d+)"')


def page(url: str, query: str) -> int:
    """The results page for ``query``; returns the total it shows."""
    status, body = fetch(f"{url}/archive/search?q={quote(query)}")
    found = _TOTAL.search(body)
    if status != 200 or not found:
        raise RuntimeError(f"the search page for {query!r} answered {status}: {body[:300]!r}")
    return int(found.group(1))


def measure(archive: Archive, path: Path, rounds: int, scan_rounds: int) -> list[Result]:
    connection = archive.db.conn
    scan(connection, "党建")  # the whole table into the page cache
    results = []
    with served(path, timeout=120) as server:
        page(server.url, "党")  # the server's first search reads the facet values
        for case in CASES:
            matches = connection.execute(
                f"SELECT count(*) FROM {fulltext.TABLE} WHERE {fulltext.TABLE} MATCH ?",
                [compile_query(case.query)]).fetchone()[0]
            shown = page(server.url, case.query)
            search_page(archive, case.query)
            result = Result(
                case, matches,
                browser=timed(partial(page, server.url, case.query), rounds),
                cli=timed(partial(search_page, archive, case.query), rounds),
                scan=timed(partial(scan, connection, case.query), scan_rounds),
                total_ok=shown == matches)
            if case.kind == "rare":
                found = {hit.article_id for hit in search(archive, case.query, limit=None)}
                expected = scan(connection, case.query)
                result.same_set = found == expected and shown == len(expected)
            results.append(result)
            print(f"  {case.query}: {matches} matches, browser "
                  f"{statistics.median(result.browser) * 1e3:.0f} ms (p95 "
                  f"{percentile(result.browser, 0.95) * 1e3:.0f}), cli "
                  f"{statistics.median(result.cli) * 1e3:.1f} ms, scan "
                  f"{statistics.median(result.scan) * 1e3:.0f} ms", file=sys.stderr)
    return results


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}" if seconds < 0.1 else f"{seconds * 1e3:.0f}"


def target_line(result: Result, articles: int) -> str:
    p95 = percentile(result.browser, 0.95)
    verdict = "met" if p95 * 1e3 <= P95_TARGET_MS else "**not met**"
    return (f"- {verdict}: the results page with its total for {result.case.query} at "
            f"{articles:,} articles, p95 at most {P95_TARGET_MS:g} ms: {ms(p95)} ms")


def section(results: list[Result], articles: int, path: Path, rounds: int,
            scan_rounds: int) -> str:
    browsers = [t for result in results for t in result.browser]
    clis = [t for result in results for t in result.cli]
    scans = [t for result in results for t in result.scan]
    common = [result for result in results if result.case.query in ("党", "黨")]
    p95 = percentile(browsers, 0.95)
    ratio = statistics.median(scans) / statistics.median(browsers)
    checked = [result for result in results if result.same_set is not None]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    lines = [
        f"Run {when} on {machine()}. Archive: {articles:,} synthetic articles "
        f"(tests/support/synthetic.py), {path.stat().st_size / 1e6:,.0f} MB. Every match is "
        "ranked (FTS5 bm25) and counted. browser: `GET /archive/search?q=…` from a "
        "`pdarchive serve` process over loopback, the whole HTML results page (exact "
        "total, the 20 best with snippets, facet counts over every match); cli: "
        "`archive.search.search_page(archive, q, limit=20)` in process (rank and count "
        "every match, the 20 best with snippets), what `pdarchive search` does after "
        "start-up; scan: `SELECT article_id FROM articles WHERE title || ' ' || body "
        "LIKE '%q%'` with q converted to simplified. "
        f"{rounds} timed runs of the browser's and the CLI's path and {scan_rounds} of "
        "the scan per query, after a warm-up; times in ms, on a machine shared with "
        f"other work (load average at the end: {load}).",
        "",
        "| query | chars | script | kind | matches | browser p50 | browser p95 | "
        "cli p50 | cli p95 | scan p50 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        case = result.case
        lines.append(
            f"| {case.query} | {len(case.query)} | {case.script} | {case.kind} | "
            f"{result.matches:,} | {ms(statistics.median(result.browser))} | "
            f"{ms(percentile(result.browser, 0.95))} | {ms(statistics.median(result.cli))} | "
            f"{ms(percentile(result.cli, 0.95))} | {ms(statistics.median(result.scan))} |")
    lines += [
        f"| **all {len(results)} queries** | | | | | **{ms(statistics.median(browsers))}** | "
        f"**{ms(p95)}** | **{ms(statistics.median(clis))}** | "
        f"**{ms(percentile(clis, 0.95))}** | **{ms(statistics.median(scans))}** |",
        "",
        "Targets:",
        "",
        *(target_line(result, articles) for result in common),
        f"- {'met' if p95 * 1e3 <= P95_TARGET_MS else '**not met**'}: the same for all "
        f"{len(results)} queries: p95 {ms(p95)} ms",
        "",
        f"The whole page, p50 {ms(statistics.median(browsers))} ms, against the bare scan's "
        f"{ms(statistics.median(scans))} ms ({ratio:,.1f}×), which finds the matches but "
        "neither ranks, counts by facet nor renders them.",
        "",
        f"Correctness: every page's total is the index's count: "
        f"{'yes' if all(result.total_ok for result in results) else '**no**'}; for the "
        f"{len(checked)} rare queries the CLI with no limit finds "
        f"{'the same' if all(r.same_set for r in checked) else '**not the same**'} "
        "articles as the scan, and the page's total is their number.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="the synthetic archive (default: in /tmp)")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--scan-rounds", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args(argv)
    path = ensure_archive(args.articles, args.db or default_path(args.articles))
    archive = Archive(path, readonly=True)
    results = measure(archive, path, args.rounds, args.scan_rounds)
    text = section(results, args.articles, path, args.rounds, args.scan_rounds)
    print(text)
    if args.write:
        write_section("search", text, "Search latency (`bench/search.py`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
