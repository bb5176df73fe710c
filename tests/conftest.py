"""Fixtures shared by the test modules: the reference mirror served on loopback, fresh
and crawled archives. Helpers that are not fixtures are in tests/support/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.store import Archive
from tests.support import checks
from tests.support.cli import crawl, pdarchive
from tests.support.reference import FAULT_CONFIG, SITE, UNSEEN
from tests.support.replay import ReplayServer


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    with ReplayServer(SITE) as server:
        yield server


@pytest.fixture
def fresh_db(tmp_path: Path) -> Iterator[Archive]:
    """A new, empty archive: real SQLite in the test's directory."""
    archive = Archive(tmp_path / "archive.db")
    yield archive
    archive.close()


@pytest.fixture(scope="session")
def archive_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference column crawled in both editions, once per test session: the
    search, export and serve tests only read it."""
    db = tmp_path_factory.mktemp("reference") / "archive.db"
    with ReplayServer(SITE) as server:
        result = crawl(db, server, "--edition", "gb", "--edition", "big5")
    assert result.returncode == 0, result.stderr
    return db


@pytest.fixture(scope="session")
def reference_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference column crawled once (GB edition), closed (no -wal beside it): for
    tests to copy and then spoil, never to change."""
    db = tmp_path_factory.mktemp("reference-gb") / "archive.db"
    with ReplayServer(SITE) as server:
        result = crawl(db, server)
    assert result.returncode == 0, result.stderr
    return db


def _copy(archive: Path, tmp_path: Path) -> Path:
    db = tmp_path / "archive.db"
    shutil.copyfile(archive, db)  # closed by its crawl: the file alone is the archive
    return db


@pytest.fixture
def reference_copy(reference_archive: Path, tmp_path: Path) -> Path:
    """This test's own copy of ``reference_archive``: ``tmp_path / "archive.db"``."""
    return _copy(reference_archive, tmp_path)


@pytest.fixture(scope="session")
def baseline_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference column crawled (GB edition, the fault tests' configuration) while
    its article ``UNSEEN`` answered 404: 18 articles and that failure. A crawl of the
    whole mirror after it fetches one new article. Closed: to copy, never to change."""
    db = tmp_path_factory.mktemp("baseline") / "archive.db"
    with ReplayServer(SITE) as server:
        server.remove_page(UNSEEN)
        result = pdarchive("crawl", "--db", db, "--column", "360300", "--config", FAULT_CONFIG,
                           proxy=server, timeout=50)
    assert result.returncode == 0, result.stderr
    assert checks.article_count(db) == 18
    assert checks.failures(db)[UNSEEN]["reason"] == "HTTP 404"
    return db


@pytest.fixture
def baseline_copy(baseline_archive: Path, tmp_path: Path) -> Path:
    """This test's own copy of ``baseline_archive``: ``tmp_path / "archive.db"``."""
    return _copy(baseline_archive, tmp_path)
