"""Fixtures shared by the test modules: the reference mirror served on loopback, fresh
and crawled archives. Helpers that are not fixtures are in tests/support/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

from archive.store import Archive
from tests.support import checks
from tests.support.cli import crawl, pdarchive
from tests.support.reference import FAULT_CONFIG, SITE, UNSEEN
from tests.support.replay import ReplayServer


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (pyproject.toml): one worker more than this process may use cores.
    Most tests spend much of their time waiting, on a crawl process, a server, a
    browser or a timer, so one worker a core left cores idle (the fault tests: 93 s
    with 2 workers on 2 cores, 71 s with 3)."""
    usable = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
              else os.cpu_count() or 1)
    return usable + 1


#: test modules whose tests share costly module-scoped fixtures (an archive built for
#: them, a browser session): each runs on one worker, rather than building them again
#: on every worker its tests reach
ONE_WORKER_MODULES = frozenset({"tests/test_serve_research.py"})


class _Scheduling(LoadScopeScheduling):
    """xdist's ``--dist load`` (each test a unit of work, handed to the next idle
    worker), except that each of ONE_WORKER_MODULES is one unit. (``--dist loadgroup``
    with an ``xdist_group`` mark did this until pytest 9.2, whose node ids xdist can no
    longer suffix with the group: pytest-xdist issue 1386.)"""

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        return module if module in ONE_WORKER_MODULES else nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> _Scheduling:
    return _Scheduling(config, log)


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
