"""Start-up: how long ``pdarchive --help``, ``search`` and ``stats`` take, whole process.

Each command is the installed ``pdarchive`` script, run as a user runs it, and timed
from the start of the process to its end (wall time, what a user waits), beside
bare ``python -c pass`` of the same interpreter, measured in the same rounds: the
difference is what pdarchive adds. ``search`` and ``stats`` read a small archive
(bench/synthetic.py's articles, a few hundred, built in a temporary folder), so
that what is measured is the start-up, not the query. The commands are interleaved,
in a new order each round; bytecode is cached, as in an installed package, in a
temporary ``PYTHONPYCACHEPREFIX`` (written by one untimed run of each command), so
that nothing is written into the tree and ``PYTHONDONTWRITEBYTECODE`` does not leave
every run compiling.

    python -m bench.startup [--rounds N] [--articles N] [--write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from random import Random

from bench.report import write_section
from tests.support.synthetic import ensure_archive, machine

#: the whole process of each command, at most (the issue's bar)
TARGET_MS = 100.0
BARE = "python -c pass"


def commands(db: Path) -> dict[str, list[str]]:
    """Each measured command line, by the name the table gives it."""
    script = Path(sys.executable).with_name("pdarchive")
    if not script.exists():
        raise SystemExit(f"no {script}: install pdarchive in this environment first "
                         "(pip install -e .)")
    return {
        BARE: [sys.executable, "-c", "pass"],
        "pdarchive --help": [str(script), "--help"],
        "pdarchive search 党": [str(script), "search", "党", "--db", str(db)],
        "pdarchive stats": [str(script), "stats", "--db", str(db)],
    }


def run(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    """Milliseconds from starting ``argv`` to its end; it must succeed."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): "
                         f"{done.stderr.decode(errors='replace').strip()}")
    return elapsed


def measure(rounds: int, articles: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="pdarchive-startup-") as folder:
        work = Path(folder)
        db = ensure_archive(articles, work / "archive.db")
        env = {key: value for key, value in os.environ.items()
               if key != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        lines = commands(db)
        for argv in lines.values():  # untimed: writes the bytecode
            run(argv, env, work)
        times: dict[str, list[float]] = {name: [] for name in lines}
        order, rng = list(lines), Random(0)
        for _ in range(rounds):
            rng.shuffle(order)
            for name in order:
                times[name].append(run(lines[name], env, work))
        return times


def section(times: dict[str, list[float]], rounds: int, articles: int) -> str:
    best = {name: min(runs) for name, runs in times.items()}
    median = {name: statistics.median(runs) for name, runs in times.items()}
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run {when} on {machine()}; 1-minute load average {os.getloadavg()[0]:.2f} at the "
        f"end of the run. Each command is a whole process, the installed `pdarchive` "
        f"script, timed from start to end (wall time), {rounds} runs each, interleaved "
        f"with `{BARE}` in a new order every round; `search` and `stats` read an archive "
        f"of {articles:,} synthetic articles. Best runs are the least disturbed by the "
        "other work on the shared machine; medians show the spread.",
        "",
        "| command | best (ms) | median (ms) | over bare python, best (ms) "
        "| over bare python, median (ms) |",
        "|---|---|---|---|---|",
    ]
    for name in times:
        over = ("" if name == BARE else f"{best[name] - best[BARE]:.1f}",
                "" if name == BARE else f"{median[name] - median[BARE]:.1f}")
        lines.append(f"| `{name}` | {best[name]:.1f} | {median[name]:.1f} | {over[0]} "
                     f"| {over[1]} |")
    slowest = max((name for name in times if name != BARE), key=best.__getitem__)
    lines += [
        "",
        f"Target: each command in at most {TARGET_MS:.0f} ms, whole process (best run): "
        + ("met" if best[slowest] <= TARGET_MS else "**not met**")
        + f", the slowest `{slowest}` in {best[slowest]:.1f} ms.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="runs of each command")
    parser.add_argument("--articles", type=int, default=300,
                        help="articles in the archive searched")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args(argv)
    text = section(measure(args.rounds, args.articles), args.rounds, args.articles)
    print(text)
    if args.write:
        write_section("startup", text, "Start-up (`bench/startup.py`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
