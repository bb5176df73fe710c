"""``pdarchive export``: JSON, JSON Lines and CSV, filters, ``--query``, atomic ``-o``.

(That memory stays flat however large the archive is shown by bench/export.py.)
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from archive.export import FIELDS, iter_json, iter_records
from archive.store import Archive
from tests.support.cli import export_jsonl, pdarchive
from tests.support.oracle import EXPECTED, SEED, oracle


@pytest.fixture(scope="module")
def records(archive_db: Path) -> list[dict[str, Any]]:
    return export_jsonl(archive_db)


def export(db: Path, *args: str | Path) -> str:
    result = pdarchive("export", "--db", db, *args, check=True)
    assert result.stderr.startswith("exported ")
    return result.stdout


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_json_is_one_valid_array_of_the_records(archive_db: Path,
                                                records: list[dict[str, Any]]) -> None:
    text = export(archive_db, "--format", "json")
    assert text.startswith("[\n") and text.endswith("\n]\n")
    assert json.loads(text) == records
    assert len(records) == len(EXPECTED)
    assert json.loads(export(archive_db, "--format", "json", "--column", "1")) == []


def test_json_texts_are_the_records(archive_db: Path) -> None:
    archive = Archive(archive_db, readonly=True)
    records = list(iter_records(archive))
    assert [json.loads(text) for text in iter_json(archive)] == records
    assert any("big5" in record for record in records)
    archive.close()


def test_json_texts_carry_the_extractor(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive.db")
    archive.save_article(dict(EXPECTED[0], extractor="rm_txt"), [], run_id=None)
    records = list(iter_records(archive))
    assert records[0]["extractor"] == "rm_txt"
    assert [json.loads(text) for text in iter_json(archive)] == records
    archive.close()


def test_csv_opens_in_a_spreadsheet(archive_db: Path, records: list[dict[str, Any]]) -> None:
    with_bom = pdarchive("export", "--db", archive_db, "--format", "csv", "--bom",
                         check=True).stdout
    assert with_bom.startswith("\ufeff")
    plain = export(archive_db, "--format", "csv")
    assert not plain.startswith("\ufeff") and plain == with_bom[1:]
    rows = read_csv(plain)
    assert list(rows[0]) == list(FIELDS)
    assert [row["article_id"] for row in rows] == [record["article_id"] for record in records]
    for row, record in zip(rows, records, strict=True):
        assert row["title"] == record["title"]
        assert row["body"].split("\n") == record["body"]
        assert row["editors"] == "、".join(record["editors"])
        assert row["pages"].split("\n") == record["pages"]
        assert json.loads(row["images"]) == record["images"]
        assert row["page_count"] == str(record["page_count"])
        assert row["source_url"] == (record["source_url"] or "")
    seed = next(row for row in rows if row["article_id"] == SEED)
    assert seed["editions"] == "big5、gb"
    assert json.loads(seed["big5"])["title"] == "江蘇住建行業黨委從“建起來”走向“強起來”"


def test_csv_file_with_bom_reads_back(archive_db: Path, records: list[dict[str, Any]],
                                      tmp_path: Path) -> None:
    out = tmp_path / "articles.csv"
    export(archive_db, "--format", "csv", "--bom", "-o", out)
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.split(b"\n", 1)[0].endswith(b"\r"), "rows end with CRLF"
    with out.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["article_id"] for row in rows] == [record["article_id"] for record in records]
    assert pdarchive("export", "--db", archive_db, "--format", "json", "--bom").returncode == 2


@pytest.mark.parametrize("format", ["json", "jsonl", "csv"])
def test_filters_and_query_apply_to_every_format(archive_db: Path,
                                                 records: list[dict[str, Any]],
                                                 format: str) -> None:
    def ids(*args: str) -> list[str]:
        text = export(archive_db, "--format", format, *args)
        if format == "json":
            return [record["article_id"] for record in json.loads(text)]
        if format == "jsonl":
            return [json.loads(line)["article_id"] for line in text.splitlines()]
        return [row["article_id"] for row in read_csv(text)]

    def wanted(test: Any, query: str | None = None) -> list[str]:
        matching = oracle(records, [query]) if query else {r["article_id"] for r in records}
        return [r["article_id"] for r in records if test(r) and r["article_id"] in matching]

    assert ids("--since", "2021-01-01", "--until", "2021-12-31") == wanted(
        lambda r: r["published_at"].startswith("2021")) != []
    assert ids("--source", "新华日报") == wanted(lambda r: r["source"] == "新华日报") != []
    assert ids("--column", "360300") == wanted(lambda r: True)
    assert ids("--query", "黨建") == wanted(lambda r: True, "党建") != []
    assert ids("--query", "徐州", "--since", "2021-01-01") == wanted(
        lambda r: r["published_at"] >= "2021-01-01", "徐州") != []


def test_a_query_with_nothing_to_search_for_makes_no_file(archive_db: Path,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = pdarchive("export", "--db", archive_db, "--format", "json", "--query", "，。",
                       "-o", out)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("pdarchive: error: cannot search for")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("format", ["json", "jsonl", "csv"])
def test_output_file_is_written_whole(archive_db: Path, records: list[dict[str, Any]],
                                      tmp_path: Path, format: str) -> None:
    out = tmp_path / f"articles.{format}"
    export(archive_db, "--format", format, "-o", out)
    assert out.read_text("utf-8") == export(archive_db, "--format", format)
    assert list(tmp_path.iterdir()) == [out]


def test_an_export_that_fails_midway_leaves_no_file(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    archive = Archive(db)
    for record in EXPECTED:
        archive.save_article(record, [], run_id=None)
    archive.close()
    damaged = sorted(record["published_at"] for record in EXPECTED)[10]
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE articles SET body = '[\"cut off' WHERE published_at = ?",
                           [damaged])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    kept = out_dir / "kept.jsonl"
    kept.write_text("the previous export\n", "utf-8")
    for format in ("json", "jsonl", "csv"):
        for out in (out_dir / f"new.{format}", kept):
            result = pdarchive("export", "--db", db, "--format", format, "-o", out)
            assert result.returncode == 2, result.stderr
            assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
            assert "is damaged" in result.stderr
            assert sorted(out_dir.iterdir()) == [kept], "no file, no temporary file"
            assert kept.read_text("utf-8") == "the previous export\n"


def test_sigterm_during_an_export_leaves_no_part_file(tmp_path: Path) -> None:
    """SIGTERM (a service manager's stop) cleans up as Ctrl-C does: the export's
    temporary file goes, and an earlier export at the same path is left whole. The
    export is caught mid-write by stopping it (SIGSTOP) once its ``.part`` exists."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.support.synthetic import ensure_archive

    db = ensure_archive(600, tmp_path / "archive.db")
    out = tmp_path / "out" / "articles.jsonl"
    out.parent.mkdir()
    out.write_text("an earlier export\n", "utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "archive.cli", "export", "--db", str(db), "--format", "jsonl",
         "-o", str(out)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        process.send_signal(signal.SIGSTOP)
        if list(out.parent.glob("*.part")):
            break
        process.send_signal(signal.SIGCONT)
        time.sleep(0.001)
    process.send_signal(signal.SIGTERM)
    process.send_signal(signal.SIGCONT)
    _, stderr = process.communicate(timeout=60)
    assert not list(out.parent.glob("*.part")), "a .part file was left behind"
    if process.returncode == 130:  # caught mid-write: the earlier export is untouched
        assert out.read_text("utf-8") == "an earlier export\n"
        assert stderr.strip().splitlines()[-1] == "pdarchive: interrupted"
    else:  # it had just finished: the new export is whole
        assert process.returncode == 0, stderr
        assert len(out.read_text("utf-8").splitlines()) == 600
    assert os.path.exists(out)
