"""Search latency: pdarchive's search against a LIKE scan, on the same archive, in one run.

The archive is bench/synthetic.py's (default 100,000 articles, built on first use
and kept). The query set is fixed: one, two, four and eight characters, each a
common and a rare term, each in simplified and in traditional script (16 queries).

- ours: ``archive.search.search(archive, query, limit=20)`` in this process, the
  work ``pdarchive search`` does after start-up: parse and compile the query, find
  and rank the matches, fetch the 20 best and build their snippets.
- browser: the *Search articles* page's query (archive/datasette_plugin.py), run as
  ``pdarchive serve`` runs it: its SQL on a read-only connection with the plugin's
  functions, ranking the matches (the newest 500 when more match) and building a
  snippet for each row it returns.
- scan: what a search without the index has to do, finding every matching article
  (ranking needs them all): ``SELECT article_id FROM articles WHERE title || ' ' ||
  body LIKE '%q%'``, over the stored text, the query converted to simplified script
  with OpenCC first (the stored text is the GB edition's).

Each query runs once untimed (and the scan once over the whole table, so the file
is in the page cache for both), then ``--rounds`` times for ours and
``--scan-rounds`` times for the scan. p50 and p95 are over all timed runs of all
queries, for ours and for the scan; the speed-up of a query is the ratio of its
medians. For the rare queries the bench also checks that ours finds (with no limit)
the same articles as the scan.

    python bench/search.py [--articles N] [--db PATH] [--rounds N] [--scan-rounds N] [--write]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from opencc import OpenCC  # noqa: E402

from archive import datasette_plugin, fulltext  # noqa: E402
from archive.search import RANK_WINDOW, compile_query, search  # noqa: E402
from archive.store import Archive  # noqa: E402
from bench.report import write_section  # noqa: E402
from bench.synthetic import default_path, ensure_archive, machine  # noqa: E402

P95_TARGET_MS = 30.0
SPEEDUP_TARGET = 50.0


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
    ours: list[float]
    scan: list[float]
    browser: list[float]
    same_set: bool | None = None

    @property
    def speedup(self) -> float:
        return statistics.median(self.scan) / statistics.median(self.ours)


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


def browser_connection(path: Path) -> Callable[[str], object]:
    """Run the search page's query as ``pdarchive serve`` does, on a connection of its
    own; returns a function of the query."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    datasette_plugin.prepare_connection(connection, datasette_plugin.DATABASE)
    sql = datasette_plugin.search_sql()

    def run(query: str) -> object:
        return connection.execute(sql, {
            "q": query, "_pd_match": datasette_plugin.pd_match(query), "since": "",
            "until": "", "column": "", "topic": "", "min_score": ""}).fetchall()

    return run


def measure(archive: Archive, path: Path, rounds: int, scan_rounds: int) -> list[Result]:
    connection = archive.db.conn
    scan(connection, "党建")  # the whole table into the page cache
    browser = browser_connection(path)
    results = []
    for case in CASES:
        matches = connection.execute(
            f"SELECT count(*) FROM {fulltext.TABLE} WHERE {fulltext.TABLE} MATCH ?",
            [compile_query(case.query)]).fetchone()[0]
        search(archive, case.query)
        browser(case.query)
        result = Result(case, matches,
                        ours=timed(lambda q=case.query: search(archive, q), rounds),
                        scan=timed(lambda q=case.query: scan(connection, q), scan_rounds),
                        browser=timed(lambda q=case.query: browser(q), scan_rounds))
        if case.kind == "rare":
            found = {hit.article_id for hit in search(archive, case.query, limit=None)}
            result.same_set = found == scan(connection, case.query)
        results.append(result)
        print(f"  {case.query}: {matches} matches, ours {statistics.median(result.ours) * 1e3:.2f}"
              f" ms, scan {statistics.median(result.scan) * 1e3:.0f} ms, browser "
              f"{statistics.median(result.browser) * 1e3:.0f} ms", file=sys.stderr)
    return results


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}" if seconds < 0.1 else f"{seconds * 1e3:.0f}"


def section(results: list[Result], articles: int, path: Path, rounds: int,
            scan_rounds: int) -> str:
    ours = [t for result in results for t in result.ours]
    scans = [t for result in results for t in result.scan]
    browsers = [t for result in results for t in result.browser]
    p95 = percentile(ours, 0.95)
    p50_ratio = statistics.median(scans) / statistics.median(ours)
    p95_ratio = percentile(scans, 0.95) / p95
    slowest = min(results, key=lambda result: result.speedup)
    checked = [result for result in results if result.same_set is not None]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run {when} on {machine()}. Archive: {articles:,} synthetic articles "
        f"(bench/synthetic.py), {path.stat().st_size / 1e6:,.0f} MB. Ours: "
        f"`archive.search.search(archive, q, limit=20)` in process (parse, match, rank, "
        "fetch the 20 best, snippets); scan: `SELECT article_id FROM articles WHERE title "
        "|| ' ' || body LIKE '%q%'` with q converted to simplified (every match, as ranking "
        "needs); browser: the *Search articles* page's SQL as `pdarchive serve` runs it "
        "(every returned row with its snippet). "
        f"{rounds} timed runs of ours and {scan_rounds} of the scan and the browser's per "
        "query, "
        "after a warm-up; times in ms. \"ranked\": all matches, or the "
        f"{RANK_WINDOW:,} most recent when more match (see archive/search.py).",
        "",
        "| query | chars | script | kind | matches | ranked | ours p50 | ours p95 | "
        "scan p50 | speed-up | browser p50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        case = result.case
        lines.append(
            f"| {case.query} | {len(case.query)} | {case.script} | {case.kind} | "
            f"{result.matches:,} | {'all' if result.matches <= RANK_WINDOW else 'recent'} | "
            f"{ms(statistics.median(result.ours))} | {ms(percentile(result.ours, 0.95))} | "
            f"{ms(statistics.median(result.scan))} | {result.speedup:,.0f}× | "
            f"{ms(statistics.median(result.browser))} |")
    lines += [
        f"| **all {len(results)} queries** | | | | | | **{ms(statistics.median(ours))}** | "
        f"**{ms(p95)}** | **{ms(statistics.median(scans))}** | **{p50_ratio:,.0f}×** | "
        f"**{ms(statistics.median(browsers))}** |",
        "",
        "Targets:",
        "",
        f"- {'met' if p95 * 1e3 < P95_TARGET_MS else '**not met**'}: p95 under "
        f"{P95_TARGET_MS:g} ms at {articles:,} articles: {ms(p95)} ms",
        f"- {'met' if min(p50_ratio, p95_ratio) >= SPEEDUP_TARGET else '**not met**'}: at "
        f"least {SPEEDUP_TARGET:g}× faster than the scan: p50 {ms(statistics.median(ours))} "
        f"ms against {ms(statistics.median(scans))} ms ({p50_ratio:,.0f}×), p95 {ms(p95)} ms "
        f"against {ms(percentile(scans, 0.95))} ms ({p95_ratio:,.0f}×)",
        "",
        f"Per query (ratio of medians) the speed-up runs from {slowest.speedup:,.0f}× "
        f"({slowest.case.query}, {slowest.matches:,} matches) to "
        f"{max(result.speedup for result in results):,.0f}×. The scan is quickest for "
        "common terms: LIKE stops at the first hit in a row, early when nearly every row "
        "has it.",
        "",
        f"Correctness check: for the {len(checked)} rare queries, ours with no limit finds "
        f"{'the same' if all(r.same_set for r in checked) else '**not the same**'} "
        "articles as the scan.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="the synthetic archive (default: in /tmp)")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--scan-rounds", type=int, default=3)
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
