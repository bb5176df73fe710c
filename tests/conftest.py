"""Fixtures shared by the test modules: the reference mirror served on loopback, fresh
and crawled archives. Helpers that are not fixtures are in tests/support/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.store import Archive
from tests.support.cli import crawl
from tests.support.reference import SITE
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
