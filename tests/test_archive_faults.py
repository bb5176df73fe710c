"""The archive file under faults of its own: the same archive reached through a
symlink, a stored page damaged in place, an archive that can only be read (a
read-only filesystem, a read-only file in a directory this user may not write).

Real ``pdarchive`` processes on real archive files. The read-only tests drop to the
``nobody`` user when they run as root (root ignores file permissions), or mount a
read-only filesystem (root only); they say why when they cannot.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.locking import lock_path
from tests import checks
from tests.conftest import CRAWL_CONFIG, SITE, pdarchive
from tests.replay import ReplayServer

pytestmark = pytest.mark.timeout(120)


def crawl_args(db: Path) -> list[str]:
    return ["--db", str(db), "--column", "360300", "--config", str(CRAWL_CONFIG)]


def crawl(db: Path, server: ReplayServer, *extra: str) -> subprocess.CompletedProcess[str]:
    return pdarchive("crawl", *crawl_args(db), *extra, proxy=server, timeout=100)


def wait_until(condition: Any, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stored(db: Path) -> int:
    try:
        return checks.article_count(db)
    except sqlite3.Error:
        return 0


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("pdarchive: error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.fixture(scope="module")
def reference_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference column crawled once (gb edition), to copy and then spoil."""
    db = tmp_path_factory.mktemp("reference") / "archive.db"
    with ReplayServer(SITE) as server:
        result = crawl(db, server)
    assert result.returncode == 0, result.stderr
    return db


def copy_archive(source: Path, target: Path) -> Path:
    """A whole, checkpointed copy (the file alone holds everything: no -wal)."""
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as reader, \
            sqlite3.connect(target) as writer:
        reader.backup(writer)
    reader.close()
    writer.close()
    with sqlite3.connect(target) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    for side in ("-wal", "-shm"):
        Path(f"{target}{side}").unlink(missing_ok=True)
    return target


# -- 7. the write lock and symlinks ---------------------------------------------------

def test_the_lock_is_the_archives_own_through_a_symlink_or_a_symlinked_directory(
        tmp_path: Path) -> None:
    real = tmp_path / "srv"
    real.mkdir()
    db = real / "archive.db"
    (tmp_path / "link.db").symlink_to(db)
    (tmp_path / "linked").symlink_to(real, target_is_directory=True)
    aliases = [tmp_path / "link.db", tmp_path / "linked" / "archive.db"]
    assert {lock_path(alias) for alias in aliases} == {lock_path(db)}

    with ReplayServer(SITE, latency=1.0) as server:  # a first crawl that takes a while
        first = subprocess.Popen(
            [sys.executable, "-m", "archive.cli", "crawl", *crawl_args(db)],
            env=server.client_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        try:
            wait_until(lambda: stored(db) >= 1, what="the first crawl to store an article")
            for alias in aliases:
                second = crawl(alias, server)
                assert second.returncode == 4, second.stderr
                assert f"is being written by pid {first.pid} (pdarchive crawl)" in second.stderr
            reparse = pdarchive("reparse", "--db", aliases[0])
            assert reparse.returncode == 4, reparse.stderr
            _, errors = first.communicate(timeout=90)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
        assert first.returncode == 0, errors
    assert [run["status"] for run in checks.runs(db)] == ["finished"], "one writer, one run"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["link.db", "linked", "srv"]


# -- 8. a damaged stored page and reparse ---------------------------------------------

def _single_page_article_url(db: Path) -> tuple[str, str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        row = connection.execute(
            "SELECT p.url, p.article_id FROM pages AS p JOIN articles AS a USING (article_id) "
            "WHERE p.kind = 'article' AND a.page_count = 1 ORDER BY p.url LIMIT 1").fetchone()
    connection.close()
    return str(row[0]), str(row[1])


def test_reparse_goes_past_a_damaged_page_lists_it_and_the_next_crawl_mends_it(
        tmp_path: Path, reference_archive: Path) -> None:
    db = copy_archive(reference_archive, tmp_path / "archive.db")
    url, article_id = _single_page_article_url(db)
    before = checks.articles(db)
    with sqlite3.connect(db) as connection:  # the stored copy, overwritten in place
        connection.execute("UPDATE pages SET body = ? WHERE url = ?",
                           [b"x\x9c" + os.urandom(2000), url])
        total = connection.execute(
            "SELECT count(DISTINCT article_id) FROM pages WHERE kind = 'article'").fetchone()[0]
    connection.close()

    result = pdarchive("reparse", "--db", db)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert f"reparsed {total} articles" in result.stderr, result.stderr
    assert "1 pages could not be read" in result.stderr, result.stderr
    listed = [line.strip() for line in result.stderr.splitlines()
              if line.strip().startswith(f"{url}: ")]
    assert len(listed) == 1 and "the stored copy is damaged (error:" in listed[0], listed
    assert checks.articles(db) == before, "every article kept, the damaged one's text too"
    failure = checks.failures(db)[url]
    assert (failure["stage"], failure["article_id"]) == ("store", article_id)
    assert failure["next_attempt_at"] <= failure["last_seen_at"], "due at once"

    with ReplayServer(SITE) as server:  # the failure is due: the crawl fetches it again
        mended = crawl(db, server)
        assert mended.returncode == 0, mended.stderr
        assert server.count(url, "GET") == 1, server.requests
    assert url not in checks.failures(db)
    assert checks.articles(db)[article_id]["content_hash"] == before[article_id]["content_hash"]
    again = pdarchive("reparse", "--db", db)
    assert again.returncode == 0, again.stderr
    assert "could not be read" not in again.stderr
    assert checks.integrity(db) == "ok"


def test_reparse_goes_past_a_page_the_parser_crashes_on(
        tmp_path: Path, reference_archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A parser bug on one page (the real parser has none known: one is planted, in
    this process, parse_workers 0) costs that article its re-extraction, no more."""
    import crawler.parser_pool
    from archive.reparse import reparse
    from archive.store import Archive

    db = copy_archive(reference_archive, tmp_path / "archive.db")
    url, _ = _single_page_article_url(db)
    real = crawler.parser_pool.parse_document

    def buggy(body: bytes, page_url: str, content_type: str | None) -> Any:
        if page_url == url:
            raise KeyError("class")
        return real(body, page_url, content_type)

    monkeypatch.setattr(crawler.parser_pool, "parse_document", buggy)
    before = checks.articles(db)
    archive = Archive(db)
    try:
        result = reparse(archive, workers=0)
    finally:
        archive.close()
    assert result.unreadable == [f"{url}: the parser crashed (KeyError: 'class')"]
    assert result.articles == len(before) and result.failed == 0
    assert checks.articles(db) == before
    assert url not in checks.failures(db), "a parser bug is not the page's fault"
