"""Scrapy's own feed exports work on the ``jiangsu`` spider: ``scrapy crawl jiangsu -O
out.jsonl`` writes the articles it archived, as ``pdarchive export`` writes them."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import export_jsonl
from tests.support.reference import CRAWL_CONFIG, SITE
from tests.support.replay import ReplayServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """One crawl of the reference column into an archive and two feeds at once."""
    tmp = tmp_path_factory.mktemp("feeds")
    with ReplayServer(SITE) as server:
        result = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "jiangsu", "-a", "column=360300",
             "-O", str(tmp / "out.jsonl"), "-O", str(tmp / "out.csv"),
             "-s", f"PDARCHIVE_DB={tmp / 'archive.db'}",
             "-s", f"PDARCHIVE_CONFIG={CRAWL_CONFIG}", "-s", "LOG_LEVEL=INFO"],
            cwd=ROOT, env=server.client_env(), capture_output=True, text=True, timeout=300,
            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp, tmp / "archive.db", result.stderr


def test_a_jsonl_feed_holds_the_archived_articles_as_exported(
        feeds: tuple[Path, Path, str]) -> None:
    tmp, db, log = feeds
    assert "not JSON serializable" not in log and "Traceback" not in log
    fed = [json.loads(line) for line in (tmp / "out.jsonl").read_text("utf-8").splitlines()]
    exported = export_jsonl(db)
    assert len(exported) > 10
    key = lambda record: record["article_id"]  # noqa: E731
    assert sorted(fed, key=key) == sorted(exported, key=key)
    assert "Stored jsonl feed" in log and f"({len(exported)} items)" in log


def test_a_csv_feed_has_one_row_an_article(feeds: tuple[Path, Path, str]) -> None:
    tmp, db, _ = feeds
    with (tmp / "out.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert {row["article_id"] for row in rows} == {r["article_id"] for r in export_jsonl(db)}
    assert all(row["title"] and row["url"].startswith("http://js.people.com.cn/") for row in rows)


@pytest.mark.parametrize("arguments, message", [
    (["-a", "edition=gbk"], "scrapy: error: unknown edition ['gbk']: use gb or big5"),
    (["-a", "column=abc"], "scrapy: error: not a column id"),
    (["-a", "column=360300", "-s", "PDARCHIVE_CONFIG={bad}"], "scrapy: error: "),
], ids=["edition", "column", "configuration"])
def test_scrapy_crawl_refuses_a_bad_argument_in_one_line(
        tmp_path: Path, arguments: list[str], message: str) -> None:
    """crawler/commands/crawl.py: checked before the crawl starts, as `pdarchive crawl`
    checks its options, rather than a traceback from inside the crawl."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[crawl]\ndelai = 1\n', "utf-8")
    db = tmp_path / "archive.db"
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "jiangsu",
         *[argument.format(bad=bad) for argument in arguments],
         "-s", f"PDARCHIVE_DB={db}", "-s", "LOG_LEVEL=WARNING"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("scrapy: error:")
            ] == [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert message in result.stderr
    assert not db.exists()  # nothing was opened
