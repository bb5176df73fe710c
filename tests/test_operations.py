"""Running unattended: the crawl lock, ``pdarchive schedule``, exit codes and the runs
table for monitoring, failed pages retried by later runs with backoff."""

from __future__ import annotations

import fcntl
import json
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import pytest

from archive.schedule import MAX_JITTER, ScheduleError, Timetable
from archive.store import Archive
from crawler.config import ConfigError, load_config, parse_duration
from tests.support import checks
from tests.support.cli import pdarchive
from tests.support.reference import EXPECTED_CRAWL, FAULT_CONFIG, SITE
from tests.support.replay import ReplayServer, StatusSequence

pytestmark = pytest.mark.timeout(90)

CONFIG = FAULT_CONFIG
HOST = "http://js.people.com.cn"
K = f"{HOST}/n2/2021/0908/c360300-34401096.html"
EXPECTED_IDS = {record["article_id"]
                for record in json.loads(EXPECTED_CRAWL.read_text("utf-8"))["articles"]}


def crawl_args(db: Path, config: Path = CONFIG) -> list[str | Path]:
    return ["--db", db, "--column", "360300", "--config", config]


def crawl(db: Path, server: ReplayServer, config: Path = CONFIG) -> Any:
    return pdarchive("crawl", *crawl_args(db, config), proxy=server, timeout=60)



def start(*args: str | Path, server: ReplayServer) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "archive.cli", *map(str, args)],
                            env=server.client_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@contextmanager
def lock_held(db: Path, holder: str = "pid 4242 (a test)") -> Iterator[None]:
    """Hold the archive's crawl lock as a running crawl would."""
    with open(db.with_name(db.name + ".lock"), "w") as handle:
        handle.write(holder)
        handle.flush()
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


class Lines:
    """The lines a process writes to ``stream``, waited for with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} in {timeout} s; saw {self.seen}")




# -- the crawl lock -----------------------------------------------------------------

def test_second_crawl_of_a_locked_archive_exits_at_once_with_code_4(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    with ReplayServer(SITE) as server, lock_held(db):
        began = time.monotonic()
        result = crawl(db, server)
        assert result.returncode == 4, result.stderr
        assert time.monotonic() - began < 20
        assert "is being written by pid 4242 (a test); this crawl exits" in result.stderr
        assert result.stderr.count("\n") == 1, "one line, no traceback"
        assert server.requests == [], "a locked-out crawl fetched something"
    assert not db.exists(), "a locked-out crawl touched the archive"


def test_reparse_of_an_archive_a_crawl_is_writing_exits_with_code_4(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    Archive(db).close()
    with lock_held(db):
        result = pdarchive("reparse", "--db", db)
    assert result.returncode == 4, result.stderr
    assert "is being written by pid 4242 (a test); this reparse exits" in result.stderr


def test_two_crawls_at_once_make_one_writer(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    with ReplayServer(SITE, latency=1.0) as server:  # a first crawl that takes a while
        first = start("crawl", *crawl_args(db), server=server)
        checks.wait_until(lambda: checks.stored(db) >= 1,
                          what="the first crawl to store an article")
        second = crawl(db, server)
        assert second.returncode == 4, second.stderr
        assert f"pid {first.pid} (pdarchive crawl)" in second.stderr
        _, errors = first.communicate(timeout=60)
        assert first.returncode == 0, errors
    assert set(checks.articles(db)) == EXPECTED_IDS
    assert [run["status"] for run in checks.runs(db)] == ["finished"]


def test_lock_left_by_a_dead_crawl_is_no_obstacle(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    db.with_name("archive.db.lock").write_text("pid 999999")  # its holder is long gone
    with ReplayServer(SITE) as server:
        result = crawl(db, server)
    assert result.returncode == 0, result.stderr
    assert set(checks.articles(db)) == EXPECTED_IDS


# -- monitoring: exit codes, the runs table, stats -------------------------------------

def _relayout(page: bytes) -> bytes:
    """The same article in a redesigned page: none of the known class names or ids."""
    return page.replace(b'class="', b'class="v2-').replace(b'id="', b'id="v2-')


def test_layout_change_is_a_warning_not_a_success(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    manifest = json.loads((SITE / "MANIFEST.json").read_text("utf-8"))
    with ReplayServer(SITE) as server:
        for url, entry in manifest.items():
            if "/n" in url and entry.get("status", 200) == 200:
                server.add_page(url, _relayout((SITE / entry["file"]).read_bytes()),
                                headers=entry["headers"])
        result = crawl(db, server)

    assert result.returncode == 3, result.stderr
    assert "the site's layout may have changed" in result.stderr
    run = checks.runs(db)[-1]
    assert run["status"] == "warning" and "layout may have changed" in run["message"]
    for row in checks.articles(db).values():  # whatever the fallback kept is flagged, not empty
        assert row["extractor"] == "fallback" and row["title"] and json.loads(row["body"])
    text = pdarchive("stats", "--db", db, check=True).stdout
    assert "warning" in text and "layout may have changed" in text


def _config(tmp_path: Path, retry_after: str) -> Path:
    config = tmp_path / "retry.toml"
    text = CONFIG.read_text("utf-8").replace(
        'failure_retry_after = "2s"', f'failure_retry_after = "{retry_after}"')
    config.write_text(text.replace('failure_retry_max = "1m"', 'failure_retry_max = "7d"'),
                      "utf-8")
    return config


def _wait(row: dict[str, Any]) -> float:
    """Seconds between a failure and its next attempt."""
    return (datetime.fromisoformat(row["next_attempt_at"])
            - datetime.fromisoformat(row["last_seen_at"])).total_seconds()


def test_failed_page_waits_out_its_backoff(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    config = _config(tmp_path, "1h")
    with ReplayServer(SITE) as server:
        server.inject(K, StatusSequence([503]))
        assert crawl(db, server, config).returncode == 0
        assert checks.failures(db)[K]["attempts"] == 1
        assert _wait(checks.failures(db)[K]) == 3600
        fetched = server.count(K)

        server.clear_faults(K)  # recovered, but not due for an hour
        assert crawl(db, server, config).returncode == 0
        assert server.count(K) == fetched, "retried before its backoff ran out"
    assert checks.failures(db)[K]["attempts"] == 1
    assert "34401096" not in checks.articles(db)


def test_failed_page_is_retried_by_later_runs_with_backoff_and_then_forgotten(
        tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    config = _config(tmp_path, "2s")
    assert load_config(config).failure_retry_after == 2

    def failure() -> dict[str, Any]:
        return checks.failures(db)[K]

    def sleep_until_due() -> None:
        due = datetime.fromisoformat(failure()["next_attempt_at"])
        time.sleep(max((due - datetime.now(timezone.utc)).total_seconds(), 0) + 1.1)

    with ReplayServer(SITE) as server:
        server.inject(K, StatusSequence([503]))
        assert crawl(db, server, config).returncode == 0
        assert failure()["attempts"] == 1 and failure()["reason"] == "HTTP 503"
        assert _wait(failure()) == 2
        fetched = server.count(K)

        # Due: tried again, fails again, and now waits twice as long.
        sleep_until_due()
        assert crawl(db, server, config).returncode == 0
        assert server.count(K) > fetched
        assert failure()["attempts"] == 2 and _wait(failure()) == 4

        # The site recovers: the next due run stores it and the failure is gone.
        server.clear_faults(K)
        sleep_until_due()
        assert crawl(db, server, config).returncode == 0
    assert K not in checks.failures(db)
    assert set(checks.articles(db)) == EXPECTED_IDS
    stats = json.loads(pdarchive("stats", "--db", db, "--format", "json", check=True).stdout)
    assert K not in {row["url"] for row in stats["failures"]}
    assert [run["status"] for run in stats["last_runs"]] == ["finished"] * 3


def test_stats_shows_the_last_runs_and_open_failures(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    with ReplayServer(SITE) as server:
        assert crawl(db, server).returncode == 0
    text = pdarchive("stats", "--db", db, check=True).stdout
    assert "last runs:" in text
    assert "#1 " in text and "finished: " in text and "19 new" in text
    assert "open failures: 2" in text
    assert f"{HOST}/n2/2021/0220/c360300-34600777.html [fetch] HTTP 500 (attempts 1" in text


# -- pdarchive schedule ----------------------------------------------------------------

def test_schedule_runs_crawls_one_after_another(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    with ReplayServer(SITE) as server:
        result = pdarchive("schedule", *crawl_args(db), "--every", "1s", "--jitter", "0",
                           "--max-runs", "2", proxy=server, timeout=80)
    assert result.returncode == 0, result.stderr
    assert "run 1 exited 0 (ok)" in result.stdout and "run 2 exited 0 (ok)" in result.stdout
    assert [run["status"] for run in checks.runs(db)] == ["finished", "finished"]
    assert checks.runs(db)[1]["new"] == 0
    assert set(checks.articles(db)) == EXPECTED_IDS


def test_schedule_keeps_going_after_failed_runs(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    with ReplayServer(SITE) as server, lock_held(db):
        result = pdarchive("schedule", *crawl_args(db), "--every", "0.5s", "--jitter", "0",
                           "--max-runs", "3", proxy=server, timeout=80)
    assert result.returncode == 0, result.stderr
    for run in (1, 2, 3):
        assert f"run {run} exited 4 (locked: another crawl is running)" in result.stdout


@pytest.mark.parametrize("how, code", [(signal.SIGTERM, 0), (signal.SIGINT, 130)],
                         ids=["sigterm", "ctrl-c"])
def test_schedule_stops_cleanly_while_waiting(tmp_path: Path, how: signal.Signals,
                                              code: int) -> None:
    db = tmp_path / "archive.db"
    with ReplayServer(SITE) as server, lock_held(db):
        process = start("schedule", *crawl_args(db), "--every", "1h", server=server)
        lines = Lines(process.stdout)  # type: ignore[arg-type]
        lines.wait_for("run 1 exited 4")
        lines.wait_for("next run at")
        process.send_signal(how)
        assert process.wait(timeout=10) == code
    lines.wait_for("stopped (SIGTERM)" if how == signal.SIGTERM else "interrupted")


@pytest.mark.parametrize("how, code", [(signal.SIGTERM, 0), (signal.SIGINT, 130)],
                         ids=["sigterm", "ctrl-c"])
def test_schedule_stopped_during_a_crawl_lets_it_stop_cleanly(
        tmp_path: Path, how: signal.Signals, code: int) -> None:
    db = tmp_path / "archive.db"
    with ReplayServer(SITE, latency=0.2) as server:
        process = start("schedule", *crawl_args(db), "--every", "1h", server=server)
        lines = Lines(process.stdout)  # type: ignore[arg-type]
        checks.wait_until(lambda: checks.stored(db) >= 2,
                          what="the scheduled crawl to store articles")
        process.send_signal(how)  # to the scheduler alone, as a terminal's Ctrl-C now is
        assert process.wait(timeout=60) == code
    lines.wait_for("run 1 exited 130 (interrupted)")
    lines.wait_for("stopped (SIGTERM)" if how == signal.SIGTERM else "interrupted, stopping")
    assert checks.runs(db)[-1]["status"] == "interrupted"
    assert checks.integrity(db) == "ok"


def test_schedule_refuses_a_bad_timetable(tmp_path: Path) -> None:
    for args in (["--cron", "61 * * * *"], ["--every", "soon"], ["--every", "0"],
                 ["--every", "1h", "--cron", "0 * * * *"], []):
        result = pdarchive("schedule", "--db", tmp_path / "a.db", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("pdarchive: error:")


# -- the timetable, without waiting for it ------------------------------------------------

START = datetime(2024, 3, 1, 10, 0, tzinfo=timezone.utc)


def test_every_runs_at_once_then_on_its_period_skipping_overrun_slots() -> None:
    table = Timetable(every=6 * 3600, jitter=0)
    slot, due = table.first(START)
    assert slot == due == START
    slot, due = table.following(slot, START + timedelta(minutes=20))
    assert due == START + timedelta(hours=6)
    slot, due = table.following(slot, START + timedelta(hours=13))  # a 7-hour crawl
    assert due == START + timedelta(hours=18)


def test_cron_runs_at_its_times_with_jitter_within_bounds() -> None:
    table = Timetable(cron="0 * * * *", jitter=120, rng=random.Random(1))
    slot, due = table.first(START + timedelta(minutes=5))
    assert slot == START + timedelta(hours=1)
    assert slot <= due <= slot + timedelta(seconds=120)
    slot, due = table.following(slot, slot + timedelta(minutes=3))
    assert slot == START + timedelta(hours=2)
    assert slot <= due <= slot + timedelta(seconds=120)


def test_default_jitter_is_five_percent_of_the_period_at_most_ten_minutes() -> None:
    assert Timetable(every=3600).jitter == 180
    assert Timetable(every=6 * 3600).jitter == MAX_JITTER == 600
    assert Timetable(cron="*/10 * * * *").jitter == 30


def test_timetable_and_duration_errors() -> None:
    with pytest.raises(ScheduleError):
        Timetable(cron="every day")
    with pytest.raises(ScheduleError):
        Timetable()
    assert parse_duration("1h30m") == 5400 and parse_duration("90") == 90
    assert parse_duration(2.5) == 2.5 and parse_duration("1d") == 86400
    for bad in ("", "h", "1 week", "-1s", True):
        with pytest.raises(ConfigError):
            parse_duration(bad)  # type: ignore[arg-type]


def test_failure_retry_after_is_read_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[crawl]\nfailure_retry_after = "30m"\nfailure_retry_max = 86400\n')
    loaded = load_config(config)
    assert (loaded.failure_retry_after, loaded.failure_retry_max) == (1800, 86400)
    assert load_config(None).failure_retry_after == 3600
    config.write_text('[crawl]\nfailure_retry_after = "soon"\n')
    with pytest.raises(ConfigError, match="failure_retry_after"):
        load_config(config)
