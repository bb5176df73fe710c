"""``pdarchive parse --html FILE --url URL [--content-type CT]``: the saved page parsed as
if served from URL, one JSON object per line on stdout, exit 0; a page that is not an
article prints ``{"url", "error", "reason"}`` and exits non-zero.

Run as a separate process (``python -m archive.cli``, and once through the console
script), as a user would.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.pages import ARTICLES, FULLSIZE_PAGE, NON_ARTICLES, SEED, ReferencePage


def run_parse(page: ReferencePage, tmp_path: Path, command: list[str] | None = None,
              body: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Save ``body`` (default: the page's bytes) and run ``parse`` on it in ``tmp_path``,
    where a stray database would land."""
    html = tmp_path / "page.html"
    html.write_bytes(page.body if body is None else body)
    args = [*(command or [sys.executable, "-m", "archive.cli"]),
            "parse", "--html", str(html), "--url", page.url]
    if page.content_type:
        args += ["--content-type", page.content_type]
    return subprocess.run(args, capture_output=True, text=True, encoding="utf-8", cwd=tmp_path,
                          timeout=120, check=False)


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("page", [*ARTICLES, FULLSIZE_PAGE], ids=lambda page: page.id)
def test_cli_prints_the_expected_record(page: ReferencePage, tmp_path: Path) -> None:
    done = run_parse(page, tmp_path)
    assert done.returncode == 0, done.stderr
    assert json_lines(done.stdout) == [page.expected]


def assert_refused(page: ReferencePage, done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode != 0
    [refusal] = json_lines(done.stdout)
    assert refusal["url"] == page.url
    assert isinstance(refusal["error"], str) and refusal["error"]
    assert isinstance(refusal["reason"], str) and refusal["reason"]


@pytest.mark.parametrize("page", NON_ARTICLES, ids=lambda page: page.id)
def test_cli_refuses_a_page_that_is_not_an_article(page: ReferencePage, tmp_path: Path) -> None:
    assert_refused(page, run_parse(page, tmp_path))


def test_cli_refuses_a_truncated_page(tmp_path: Path) -> None:
    assert_refused(SEED, run_parse(SEED, tmp_path, body=SEED.body[: len(SEED.body) // 2]))


@pytest.mark.skipif(shutil.which("pdarchive") is None, reason="pdarchive is not installed")
def test_console_script(tmp_path: Path) -> None:
    done = run_parse(SEED, tmp_path, command=["pdarchive"])
    assert done.returncode == 0, done.stderr
    assert json_lines(done.stdout) == [SEED.expected]
