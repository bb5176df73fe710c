"""Shared fixtures: the reference mirror served on loopback, and a way to run the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.store import Archive
from tests.replay import ReplayServer

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCE = FIXTURES / "reference"
SITE = REFERENCE / "site"
CRAWL_CONFIG = FIXTURES / "crawl_test.toml"
EXPECTED_CRAWL = REFERENCE / "expected" / "crawl_360300_gb.json"


def load_manifest() -> dict[str, Any]:
    return json.loads((SITE / "MANIFEST.json").read_text("utf-8"))


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


def pdarchive(*args: str | Path, proxy: ReplayServer | None = None, timeout: float = 120,
              check: bool = False, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run the ``pdarchive`` command as a user would, through the replay proxy if given."""
    env = dict(os.environ)
    env.pop("http_proxy", None)
    env.pop("https_proxy", None)
    if proxy is not None:
        env["http_proxy"] = env["https_proxy"] = proxy.proxy_url
    env["no_proxy"] = ""
    result = subprocess.run(
        [sys.executable, "-m", "archive.cli", *map(str, args)], env=env, capture_output=True,
        text=True, timeout=timeout, cwd=kwargs.pop("cwd", None), **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"pdarchive {args} exited {result.returncode}:\n{result.stderr}")
    return result


def crawl(db: Path, proxy: ReplayServer, *extra: str, **kwargs: Any
          ) -> subprocess.CompletedProcess[str]:
    return pdarchive("crawl", "--db", db, "--column", "360300", "--config", CRAWL_CONFIG,
                     *extra, proxy=proxy, **kwargs)


def export_jsonl(db: Path, *extra: str) -> list[dict[str, Any]]:
    result = pdarchive("export", "--db", db, "--format", "jsonl", *extra, check=True)
    return [json.loads(line) for line in result.stdout.splitlines()]
