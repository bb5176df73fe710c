"""Soak test: many consecutive incremental crawls of a site that keeps publishing.

Not part of the test suite (it takes minutes). It builds a synthetic mirror
(tests/support/mirror.py), serves it on loopback (tests/support/replay.py) and runs ``pdarchive
crawl`` ``--runs`` times into one archive, as cron would, publishing ``--add`` new
articles before each run. Along the way it injects faults:

- permanent: ``--permanent`` articles answer 404 for good (some published before the
  first run, some in the middle);
- transient: one new article in every third run answers 503 until its retries are
  used up; a later run must pick it up (failures are retried with backoff).

At the end it checks that every published article but the permanent failures is in
the archive exactly once, with the text the mirror holds, that the open failures are
exactly the permanent ones, and that every run finished; prints one result line
(the one RELIABILITY.md quotes) and exits 1 if any check failed.

    python -m bench.soak                  # 50 runs, 200 articles then 5 per run
    python -m bench.soak --runs 10 --keep # keep the work directory to look at
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support import checks
from tests.support.mirror import add_articles, build_mirror
from tests.support.reference import FAULT_CONFIG
from tests.support.replay import ReplayServer, StatusSequence

ROOT = Path(__file__).resolve().parents[1]

#: fast retries, failures due again after 2 s (doubling): a crawl every few seconds
#: then plays the part of the hourly cron job
CONFIG = FAULT_CONFIG


def crawl(db: Path, server: ReplayServer) -> subprocess.CompletedProcess[str]:
    env = server.client_env()
    return subprocess.run(
        [sys.executable, "-m", "archive.cli", "crawl", "--db", str(db), "--column", "360300",
         "--config", str(CONFIG)],
        env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)


def exported_ids(db: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "archive.cli", "export", "--db", str(db), "--format", "jsonl"],
        capture_output=True, text=True, timeout=600, check=True, cwd=ROOT)
    return [json.loads(line)["article_id"] for line in result.stdout.splitlines()]


def expected_records(site: Path) -> list[dict[str, Any]]:
    """Every article the mirror has published, as EXPECTED.json describes it."""
    return list(json.loads((site / "EXPECTED.json").read_text("utf-8"))["articles"])


def soak(work: Path, runs: int, initial: int, per_run: int, permanent: int,
         seed: int) -> tuple[str, list[str]]:
    """Run the soak in ``work``; return the result line and the problems found."""
    rng = random.Random(seed)
    site = build_mirror(work / "site", initial, per_list_page=20, multi_page_every=8, seed=seed)
    db = work / "archive.db"
    published: list[str] = [r["url"] for r in expected_records(site)]
    broken = set(rng.sample(published, permanent - permanent // 2))  # before the first run
    transient: set[str] = set()
    problems: list[str] = []
    requests = 0
    began = time.monotonic()
    with ReplayServer(site) as server:
        for url in broken:
            server.inject(url, StatusSequence([404]))
        for run in range(1, runs + 1):
            if run > 1:
                new = add_articles(site, per_run)
                server.reload()
                published += new
                if run == runs // 2:  # the rest of the permanent failures, mid-way
                    for url in new[: permanent // 2]:
                        broken.add(url)
                        server.inject(url, StatusSequence([404]))
                elif run % 3 == 0 and run < runs - 3:
                    # 503 for the three tries of this run, then fine
                    transient.add(new[-1])
                    server.inject(new[-1], StatusSequence([503, 503, 503, 200]))
            result = crawl(db, server)
            status = checks.runs(db)[-1]
            requests += int(status["requests"])
            if result.returncode != 0 or status["status"] != "finished":
                problems.append(f"run {run}: exit {result.returncode}, status "
                                f"{status['status']}: {result.stderr.strip()[-300:]}")
    elapsed = time.monotonic() - began

    expected = {r["article_id"]: r for r in expected_records(site)}
    wanted = {r["article_id"] for r in expected.values() if r["url"] not in broken}
    ids = exported_ids(db)
    duplicates = len(ids) - len(set(ids))
    missing, extra = wanted - set(ids), set(ids) - wanted
    if duplicates or missing or extra:
        problems.append(f"archive: {duplicates} duplicated, {len(missing)} missing "
                        f"({sorted(missing)[:5]}), {len(extra)} unexpected")
    try:
        checks.assert_every_article_is_expected(db, list(expected.values()))
    except AssertionError as error:
        problems.append(f"an article differs from the mirror: {error}")
    open_failures = set(checks.failures(db))
    if open_failures != broken:
        problems.append(f"open failures {sorted(open_failures - broken)} beyond the injected, "
                        f"injected not open {sorted(broken - open_failures)}")
    recovered = sum(1 for url in transient if url not in open_failures)
    if recovered != len(transient):
        problems.append(f"only {recovered} of {len(transient)} transient faults recovered")
    if checks.integrity(db) != "ok":
        problems.append("integrity_check failed")
    statuses = [run["status"] for run in checks.runs(db)]

    line = (f"soak: {runs} incremental crawls, {len(published)} articles published "
            f"({initial} + {per_run}/run), {len(set(ids))} archived, {duplicates} duplicated, "
            f"{len(missing)} missing; open failures {len(open_failures)} = the {len(broken)} "
            f"injected permanent 404s: {open_failures == broken}; {recovered}/{len(transient)} "
            f"transient 503s recovered by a later run; runs finished "
            f"{statuses.count('finished')}/{len(statuses)}; {requests / runs:.1f} requests "
            f"and {elapsed / runs:.1f} s per run; integrity ok: {checks.integrity(db) == 'ok'}")
    return line, problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--initial", type=int, default=200, help="articles before run 1")
    parser.add_argument("--add", type=int, default=5, help="articles published before each run")
    parser.add_argument("--permanent", type=int, default=2, help="articles that answer 404")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="work directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.permanent < 1 or args.runs < 4:
        parser.error("needs --permanent >= 1 and --runs >= 4")
    work = args.work or Path(tempfile.mkdtemp(prefix="pdarchive-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        line, problems = soak(work, args.runs, args.initial, args.add, args.permanent,
                              args.seed)
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(line)
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    if args.keep:
        print(f"work directory: {work}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
