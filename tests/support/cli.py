"""The ``pdarchive`` command run as a user runs it: a process of its own, through the
replay proxy when given one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.reference import CRAWL_CONFIG
from tests.support.replay import ReplayServer


def pdarchive(*args: str | Path, proxy: ReplayServer | None = None, timeout: float = 120,
              check: bool = False, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``pdarchive ARGS``; ``check``: fail with its stderr unless it exits 0."""
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
    """``pdarchive crawl`` of column 360300 with the tests' configuration."""
    return pdarchive("crawl", "--db", db, "--column", "360300", "--config", CRAWL_CONFIG,
                     *extra, proxy=proxy, **kwargs)


def export_jsonl(db: Path, *extra: str) -> list[dict[str, Any]]:
    result = pdarchive("export", "--db", db, "--format", "jsonl", *extra, check=True)
    return [json.loads(line) for line in result.stdout.splitlines()]


def one_line_error(stderr: str) -> str:
    """The one ``pdarchive: error:`` line a usage or archive error prints, asserting
    it is the only one and no traceback came with it."""
    lines = [line for line in stderr.splitlines() if line.startswith("pdarchive: error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]
