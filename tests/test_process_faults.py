"""Process faults: the machine misbehaves under the crawl.

``kill -9`` in the middle of writing, a disk that fills up, an archive that cannot be
written, a damaged archive file. Each must end with a clear message and lose nothing
already committed. The disk-full and read-only tests mount small filesystems
(tmpfs, read-only bind mounts): they need root, as in CI, and are skipped with the
reason otherwise. Every mount is undone, whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import checks
from tests.support.cli import one_line_error, pdarchive
from tests.support.mirror import build_mirror
from tests.support.mounts import mounted, remount, tmpfs
from tests.support.reference import FAULT_CONFIG, SITE
from tests.support.replay import ReplayServer

pytestmark = pytest.mark.timeout(120)

CONFIG = FAULT_CONFIG
N_ARTICLES = 150


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic column of N_ARTICLES articles, a few of them multi-page."""
    return build_mirror(tmp_path_factory.mktemp("mirror") / "site", N_ARTICLES,
                        per_list_page=25, multi_page_every=9)


def expected(site: Path) -> list[dict[str, Any]]:
    return list(json.loads((site / "EXPECTED.json").read_text("utf-8"))["articles"])


def crawl(db: Path, server: ReplayServer) -> Any:
    return pdarchive("crawl", "--db", db, "--column", "360300", "--config", CONFIG,
                     proxy=server, timeout=100)


def start_crawl(db: Path, server: ReplayServer) -> subprocess.Popen[str]:
    env = server.client_env()
    return subprocess.Popen(
        [sys.executable, "-m", "archive.cli", "crawl", "--db", str(db), "--column", "360300",
         "--config", str(CONFIG)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stored(db: Path) -> int:
    try:
        return checks.article_count(db)
    except sqlite3.Error:
        return 0


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def kill_9(process: subprocess.Popen[str]) -> None:
    """``kill -9`` the crawl, then end the helpers it started, which a SIGKILL does
    not reach (its parse workers would otherwise live on as orphans)."""
    helpers = descendants(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    for helper in helpers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(helper, signal.SIGKILL)


# -- kill -9 --------------------------------------------------------------------------

def test_kill_9_while_writing_loses_nothing_committed(tmp_path: Path, mirror: Path) -> None:
    db = tmp_path / "archive.db"
    want = expected(mirror)
    # A page takes 50 ms: the writer commits a group every quarter second, a score of
    # articles or so, so each crawl is killed mid-stream, right after a commit.
    with ReplayServer(mirror, latency=0.05) as server:
        # Killed three times at different points of the write stream, then let finish.
        for _ in range(3):
            before = stored(db)
            process = start_crawl(db, server)
            deadline = time.monotonic() + 60
            while stored(db) <= before:
                assert process.poll() is None, f"crawl ended early: {process.communicate()}"
                assert time.monotonic() < deadline, "crawl too slow to be killed"
                time.sleep(0.01)
            kill_9(process)
            assert checks.integrity(db) == "ok"
            checks.assert_every_article_is_expected(db, want)  # whole, right, once
            killed = checks.runs(db)[-1]
            assert killed["status"] == "running"  # as the killed crawl left it
            # its counts were committed with its articles: true, though it never finished
            assert killed["new"] == stored(db) - before, killed

        result = crawl(db, server)  # at once: the dead crawl's lock is no obstacle
    assert result.returncode == 0, result.stderr
    assert checks.integrity(db) == "ok"
    checks.assert_every_article_is_expected(db, want)
    assert checks.article_count(db) == N_ARTICLES
    assert [run["status"] for run in checks.runs(db)] == ["interrupted"] * 3 + ["finished"]
    assert sum(run["new"] for run in checks.runs(db)) == N_ARTICLES
    assert checks.failures(db) == {}


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_writer_leaves_at_once_when_its_crawl_is_killed(tmp_path: Path,
                                                           mirror: Path) -> None:
    """The writer process (crawler/writer_process.py) ends by itself when the crawl
    dies, rolling back the group it held open: it never lives on holding the archive,
    and never commits for a crawl that is gone."""
    db = tmp_path / "archive.db"
    want = expected(mirror)
    with ReplayServer(mirror) as server:
        process = start_crawl(db, server)
        checks.wait_until(lambda: stored(db) >= 15, what="15 articles stored")
        helpers = descendants(process.pid)
        writers = [pid for pid in helpers
                   if Path(f"/proc/{pid}/comm").read_text().strip() == "pdarchive-write"]
        assert len(writers) == 1, helpers
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        killed_at = stored(db)
        checks.wait_until(lambda: not _alive(writers[0]), timeout=5,
                          what="the writer to leave with its crawl")
        for helper in helpers:  # (a parse worker leaves within a second by itself)
            with contextlib.suppress(ProcessLookupError):
                os.kill(helper, signal.SIGKILL)
        assert stored(db) == killed_at  # nothing committed after the crawl died
        assert checks.integrity(db) == "ok"
        checks.assert_every_article_is_expected(db, want)
        assert checks.runs(db)[-1]["new"] == stored(db)  # the counts are true
        result = crawl(db, server)
    assert result.returncode == 0, result.stderr
    assert checks.article_count(db) == N_ARTICLES


# -- a full disk ------------------------------------------------------------------------

def test_full_disk_stops_the_crawl_cleanly_and_keeps_what_was_committed(
        tmp_path: Path, mirror: Path) -> None:
    want = expected(mirror)
    # 3 MB of the 4 MB the whole crawl takes: the writer commits in groups (of up to 64
    # articles), and a smaller disk may fill before the first group is committed
    with tmpfs(tmp_path / "small", "3m") as disk, ReplayServer(mirror) as server:
        db = disk / "archive.db"
        result = crawl(db, server)

        assert result.returncode == 5, result.stderr
        assert "the disk is full" in result.stderr
        assert "Traceback" not in result.stderr
        kept = checks.article_count(db)
        assert 0 < kept < N_ARTICLES
        assert checks.integrity(db) == "ok"
        checks.assert_every_article_is_expected(db, want)
        assert checks.runs(db)[-1]["status"] in ("failed", "running")  # if it could say so

        # Space is freed: the next crawl completes the archive.
        assert remount(disk, "size=64m").returncode == 0
        result = crawl(db, server)
        assert result.returncode == 0, result.stderr
        assert checks.article_count(db) == N_ARTICLES
        checks.assert_every_article_is_expected(db, want)
        assert checks.integrity(db) == "ok"
        assert checks.runs(db)[0]["status"] in ("failed", "interrupted")


# -- an archive that cannot be written --------------------------------------------------

def test_read_only_filesystem_is_a_clear_usage_error(tmp_path: Path,
                                                     reference_archive: Path) -> None:
    with tmpfs(tmp_path / "disk", "16m") as disk, ReplayServer(SITE) as server:
        db = disk / "archive.db"
        shutil.copyfile(reference_archive, db)
        digest = checks.file_digest(db)
        assert remount(disk, "ro").returncode == 0
        try:
            result = crawl(db, server)
            assert result.returncode == 2, result.stderr
            assert "Read-only file system" in one_line_error(result.stderr)
            assert server.requests == []
            assert checks.file_digest(db) == digest
        finally:
            remount(disk, "rw")


def test_read_only_archive_file_is_a_clear_usage_error(tmp_path: Path,
                                                       reference_archive: Path) -> None:
    """The archive file alone cannot be written (another user's file, say); its
    directory can. Simulated with a read-only bind mount of the file onto itself,
    which binds root too (root ignores file permissions)."""
    db = tmp_path / "archive.db"
    shutil.copyfile(reference_archive, db)
    digest = checks.file_digest(db)
    with ReplayServer(SITE) as server, mounted(db, "--bind", str(db)):
        assert remount(db, "ro,bind").returncode == 0
        result = crawl(db, server)
        assert result.returncode == 2, result.stderr
        line = one_line_error(result.stderr)
        assert "cannot be written: the archive is read-only" in line, line
        assert server.requests == []
        # still readable: stats and search go on working
        stats = pdarchive("stats", "--db", db, "--format", "json", check=True)
        assert json.loads(stats.stdout)["articles"] == 19
    assert checks.file_digest(db) == digest


# -- a damaged archive ---------------------------------------------------------------

def _overwrite(path: Path, offset: int, size: int, seed: int = 7) -> None:
    noise = random.Random(seed).randbytes(size)
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(noise)


def test_archive_with_a_destroyed_header_is_refused_and_left_alone(
        tmp_path: Path, reference_archive: Path) -> None:
    db = tmp_path / "archive.db"
    shutil.copyfile(reference_archive, db)
    _overwrite(db, 0, 100)
    digest = checks.file_digest(db)
    with ReplayServer(SITE) as server:
        result = crawl(db, server)
        assert server.requests == []
    assert result.returncode == 2, result.stderr
    assert "is not a usable archive" in one_line_error(result.stderr)
    for command in (["stats"], ["export", "--format", "jsonl"]):
        other = pdarchive(*command, "--db", db)
        assert other.returncode == 2, other.stderr
        one_line_error(other.stderr)
    assert checks.file_digest(db) == digest


def test_archive_damaged_in_the_middle_is_refused_and_left_alone(
        tmp_path: Path, reference_archive: Path) -> None:
    db = tmp_path / "archive.db"
    shutil.copyfile(reference_archive, db)
    with sqlite3.connect(db) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        root = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'articles'").fetchone()[0]
    connection.close()
    assert root > 1 and db.stat().st_size > root * page_size  # a page mid-file
    _overwrite(db, (root - 1) * page_size, page_size)  # the articles table's b-tree page
    digest = checks.file_digest(db)
    with ReplayServer(SITE) as server:
        result = crawl(db, server)
        assert server.requests == []
    assert result.returncode == 2, result.stderr
    line = one_line_error(result.stderr)
    assert "is damaged" in line and "left as it is" in line, line
    stats = pdarchive("stats", "--db", db)
    assert stats.returncode == 2, stats.stderr
    one_line_error(stats.stderr)
    assert checks.file_digest(db) == digest
