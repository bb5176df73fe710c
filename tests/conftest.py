"""Fixtures shared by the test modules: the reference mirror served on loopback, fresh
and crawled archives. Helpers that are not fixtures are in tests/support/."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

from archive.store import Archive
from tests.support import checks
from tests.support.cli import pdarchive
from tests.support.reference import CRAWL_CONFIG, FAULT_CONFIG, SITE, UNSEEN
from tests.support.replay import ReplayServer


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (pyproject.toml): one worker more than this process may use cores.
    Most tests spend much of their time waiting, on a crawl process, a server, a
    browser or a timer, so one worker a core left cores idle (the fault tests: 93 s
    with 2 workers on 2 cores, 71 s with 3)."""
    usable = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
              else os.cpu_count() or 1)
    return usable + 1


#: test modules whose tests share costly module-scoped fixtures (archives crawled for
#: them, a browser session): each runs on one worker, rather than building them again
#: on every worker its tests reach
ONE_WORKER_MODULES = frozenset({"tests/test_serve_research.py", "tests/test_warc.py",
                                "tests/test_scope.py", "tests/test_feeds.py"})


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


def _once(tmp_path_factory: pytest.TempPathFactory, name: str,
          build: Callable[[Path], None]) -> Path:
    """The archive ``build(path)`` makes, made once for the whole run: in parallel, by
    the first worker to need it, while any other that needs it waits (a lock file in
    the run's temporary directory, above each worker's own), then reads the same file.
    Built under another name and renamed, so that a build that failed is not used."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        db = tmp_path_factory.mktemp(name) / "archive.db"
        build(db)
        return db
    shared = tmp_path_factory.getbasetemp().parent
    db = shared / name / "archive.db"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not db.exists():
            building = shared / f"{name}.building" / "archive.db"
            shutil.rmtree(building.parent, ignore_errors=True)
            building.parent.mkdir()
            build(building)
            building.parent.rename(db.parent)
    return db


def _column_crawl(*args: str | Path, without: str | None = None) -> Callable[[Path], None]:
    """A build for ``_once``: ``pdarchive crawl --column 360300 ARGS`` of the mirror
    (less the page ``without``), which must exit 0."""
    def build(db: Path) -> None:
        with ReplayServer(SITE) as server:
            if without:
                server.remove_page(without)
            result = pdarchive("crawl", "--db", db, "--column", "360300", *args,
                               proxy=server, timeout=100)
        assert result.returncode == 0, result.stderr
    return build


@pytest.fixture(scope="session")
def archive_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference column crawled in both editions, once per run: the search,
    export and serve tests only read it."""
    return _once(tmp_path_factory, "reference", _column_crawl(
        "--config", CRAWL_CONFIG, "--edition", "gb", "--edition", "big5"))


@pytest.fixture(scope="session")
def reference_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference column crawled once (GB edition), closed (no -wal beside it): for
    tests to copy and then spoil, never to change."""
    return _once(tmp_path_factory, "reference-gb", _column_crawl("--config", CRAWL_CONFIG))


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
    db = _once(tmp_path_factory, "baseline",
               _column_crawl("--config", FAULT_CONFIG, without=UNSEEN))
    assert checks.article_count(db) == 18
    assert checks.failures(db)[UNSEEN]["reason"] == "HTTP 404"
    return db


@pytest.fixture
def baseline_copy(baseline_archive: Path, tmp_path: Path) -> Path:
    """This test's own copy of ``baseline_archive``: ``tmp_path / "archive.db"``."""
    return _copy(baseline_archive, tmp_path)
