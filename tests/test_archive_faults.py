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
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.locking import lock_path
from tests.support import checks
from tests.support.cli import one_line_error, pdarchive
from tests.support.mounts import remount, tmpfs
from tests.support.reference import CRAWL_CONFIG, SITE
from tests.support.replay import ReplayServer

pytestmark = pytest.mark.timeout(120)


def crawl_args(db: Path) -> list[str]:
    return ["--db", str(db), "--column", "360300", "--config", str(CRAWL_CONFIG)]


def crawl(db: Path, server: ReplayServer, *extra: str) -> subprocess.CompletedProcess[str]:
    return pdarchive("crawl", *crawl_args(db), *extra, proxy=server, timeout=100)




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

    with ReplayServer(SITE, latency=2.0) as server:  # a first crawl that takes a while
        first = subprocess.Popen(
            [sys.executable, "-m", "archive.cli", "crawl", *crawl_args(db)],
            env=server.client_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        try:
            checks.wait_until(lambda: checks.stored(db) >= 1,
                              what="the first crawl to store an article")
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
                           [b"x\x9c" + random.Random(7).randbytes(2000), url])
        total = connection.execute(
            "SELECT count(DISTINCT article_id) FROM pages WHERE kind = 'article'").fetchone()[0]
    connection.close()

    result = pdarchive("reparse", "--db", db)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert f"reparsed {total} articles" in result.stderr, result.stderr
    assert "1 page could not be read" in result.stderr, result.stderr
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


# -- 10. an archive that can only be read ----------------------------------------------

def _reader_prefix() -> list[str]:
    """How to run a command as a user whom permissions bind: as it is when this is not
    root, else ``setpriv`` (or ``runuser``) to ``nobody``."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv"):
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
    elif shutil.which("runuser"):
        prefix = ["runuser", "-u", "nobody", "--"]
    else:
        pytest.skip("running as root, which ignores file permissions, and neither setpriv "
                    "nor runuser is here to drop to another user")
    probe = subprocess.run([*prefix, sys.executable, "-c", "import archive.cli"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip("running as root, which ignores file permissions, and nobody cannot run "
                    f"this checkout's Python: {probe.stderr.strip()[-200:]}")
    return prefix


def as_reader(prefix: list[str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("http_proxy", "https_proxy")}
    env["HOME"] = "/nonexistent"  # root's home is not nobody's to read
    return subprocess.run([*prefix, sys.executable, "-m", "archive.cli", *map(str, args)],
                          env=env, capture_output=True, text=True, timeout=100)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another user may enter (pytest's own tmp_path is root's alone);
    made writable again and removed afterwards, whatever its mode by then."""
    directory = Path(tempfile.mkdtemp(prefix="pdarchive-readonly-", dir="/tmp"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        for path in (directory, *directory.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(directory)


def _reads(run: Any, db: Path) -> dict[str, Any]:
    """What the reading commands answer on ``db`` (``run(*args)`` runs pdarchive)."""
    answers: dict[str, Any] = {}
    for name, args in {"search": ["search", "党建", "--format", "json", "--limit", "50"],
                       "search_big5": ["search", "黨建", "--format", "json"],
                       "export": ["export", "--format", "jsonl"],
                       "stats": ["stats", "--format", "json"]}.items():
        result = run(*args, "--db", db)
        assert result.returncode == 0, f"{name}: {result.stderr}"
        answers[name] = (json.loads(result.stdout) if args[-1] == "json"
                         else result.stdout.splitlines())
    return answers


def _served_reads(db: Path, prefix: list[str]) -> tuple[Any, Any]:
    from tests.support.serving import served

    with served(db, prefix=prefix) as server:
        status, body = server.get("/archive/articles.json", _shape="array", _size="max")
        assert status == 200, body[:500]
        articles = sorted(row["article_id"] for row in json.loads(body))
        status, body = server.get("/archive/search.json", q="黨建", _shape="array")
        assert status == 200, body[:500]
        hits = [row["article_id"] for row in json.loads(body)]
        assert not [line for line in server.errors() if "Traceback" in line], server.log
    return articles, hits


def _expected_reads(reference: Path, tmp_path: Path) -> tuple[dict[str, Any], Any]:
    db = copy_archive(reference, tmp_path / "writable.db")
    return _reads(lambda *args: pdarchive(*args), db), _served_reads(db, [])


def test_reading_commands_work_in_a_directory_this_user_may_not_write(
        tmp_path: Path, shared_dir: Path, reference_archive: Path) -> None:
    """Another user's archive (file 0444 in a directory 0555): search, export, stats
    and serve read it, and nothing is written beside it (no -wal, no -shm)."""
    prefix = _reader_prefix()
    expected, expected_served = _expected_reads(reference_archive, tmp_path)
    db = copy_archive(reference_archive, shared_dir / "archive.db")
    digest = checks.file_digest(db)
    db.chmod(0o444)
    shared_dir.chmod(0o555)
    denied = as_reader(prefix, "crawl", "--db", db, "--config", CRAWL_CONFIG)
    assert denied.returncode == 2, "this user cannot write here: the test would prove nothing"

    assert _reads(lambda *args: as_reader(prefix, *args), db) == expected
    assert _served_reads(db, prefix) == expected_served
    assert [path.name for path in shared_dir.iterdir()] == ["archive.db"]
    assert checks.file_digest(db) == digest


def test_reading_commands_work_on_a_read_only_filesystem(
        tmp_path: Path, reference_archive: Path) -> None:
    expected, expected_served = _expected_reads(reference_archive, tmp_path)
    with tmpfs(tmp_path / "disk", "16m") as disk:
        db = copy_archive(reference_archive, disk / "archive.db")
        digest = checks.file_digest(db)
        assert remount(disk, "ro").returncode == 0
        try:
            assert _reads(lambda *args: pdarchive(*args), db) == expected
            assert _served_reads(db, []) == expected_served
            assert [path.name for path in disk.iterdir()] == ["archive.db"]
            assert checks.file_digest(db) == digest
        finally:
            remount(disk, "rw")


def test_an_archive_that_cannot_be_opened_says_why(
        shared_dir: Path, reference_archive: Path) -> None:
    prefix = _reader_prefix()

    def error(*args: str | Path) -> str:
        result = as_reader(prefix, *args)
        assert result.returncode == 2, result.stderr
        return one_line_error(result.stderr)

    locked_away = shared_dir / "private"
    locked_away.mkdir()
    copy_archive(reference_archive, locked_away / "archive.db")
    locked_away.chmod(0o000)
    assert (f"cannot open {locked_away / 'archive.db'}: permission denied on the directory "
            f"{locked_away}") in error("stats", "--db", locked_away / "archive.db")

    unreadable = copy_archive(reference_archive, shared_dir / "unreadable.db")
    unreadable.chmod(0o000)
    assert "permission denied (this user may not read the file)" in error(
        "search", "党建", "--db", unreadable)
    assert f"no archive at {shared_dir / 'missing.db'}" in error(
        "export", "--format", "json", "--db", shared_dir / "missing.db")
    assert f"{locked_away} is a directory, not an archive file" in error(
        "stats", "--db", locked_away)
    foreign = shared_dir / "notes.db"
    foreign.write_bytes(b"not a database, just some text " * 100)
    assert "is not a usable archive: file is not a database" in error(
        "stats", "--db", foreign)

    # A copy taken while a writer was at work: its -wal holds the last commit.
    pending = shared_dir / "pending.db"
    copy_archive(reference_archive, tmp := shared_dir / "writer.db")
    writer = sqlite3.connect(tmp)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("UPDATE runs SET message = 'written after the checkpoint'")
    writer.commit()
    shutil.copyfile(tmp, pending)
    shutil.copyfile(f"{tmp}-wal", f"{pending}-wal")
    writer.close()
    shared_dir.chmod(0o555)
    line = error("stats", "--db", pending)
    assert "pending.db-wal holds writes not yet in the file" in line, line
