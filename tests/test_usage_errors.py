"""Every usage error is one line on stderr and exit code 2, with no traceback: the
``pdarchive`` console script run as a user would, over one table of mistakes.

A bad configuration stops ``crawl`` before Scrapy starts (no archive is made), and an
export to a place it cannot write fails before anything is written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from archive.store import Archive

#: configuration faults: (name, file text, what the error says)
CONFIG_FAULTS = [
    ("misspelt-key", "[crawl]\ndelai = 2\n", "unknown key 'delai'; did you mean 'delay'?"),
    ("delay-text", '[crawl]\ndelay = "fast"\n', "[crawl] delay needs a number"),
    ("retries-text", '[crawl]\nretries = "many"\n', "[crawl] retries needs a whole number"),
    ("autothrottle-text", '[crawl]\nautothrottle = "yes"\n', "autothrottle needs true or false"),
    ("base-url-number", "[site]\nbase_url = 5\n", "[site] base_url needs an http://"),
    ("threshold-text", '[topics.x]\nthreshold = "x"\nterms = {a = 1}\n',
     "[topics.x] threshold needs a number"),
    ("topic-without-threshold", "[topics.x]\nterms = {a = 1}\n", "[topics.x] needs a threshold"),
    ("no-concurrency", "[crawl]\nconcurrent_per_host = 0\n",
     "concurrent_per_host needs a whole number of at least 1"),
    ("no-default-column", '[[columns]]\nid = "360300"\nname = "x"\n',
     "no [[columns]] entry has default = true"),
    ("invalid-toml", "[crawl\ndelay = 1\n", "not valid TOML"),
]

#: (id, arguments, what the error says); {tmp}: the test's directory
CASES: list[tuple[str, list[str], str]] = [
    *[(f"{command}-{name}", [command, *extra, "--config", "{tmp}/" + name + ".toml"], message)
      for command, extra in (("crawl", ["--db", "{tmp}/new.db"]),
                             ("seed", ["--db", "{tmp}/new.db", "--redis", "redis://127.0.0.1:9/0"]),
                             ("stats", ["--db", "{tmp}/archive.db"]))
      for name, _, message in CONFIG_FAULTS],
    ("search-invalid-toml", ["search", "党建", "--db", "{tmp}/archive.db",
                             "--config", "{tmp}/invalid-toml.toml"], "not valid TOML"),
    ("export-missing-folder", ["export", "--db", "{tmp}/archive.db", "--format", "jsonl",
                               "-o", "{tmp}/missing/out.jsonl"], "no such directory"),
    ("export-to-a-folder", ["export", "--db", "{tmp}/archive.db", "--format", "csv",
                            "-o", "{tmp}/folder"], "is a directory"),
    ("parse-not-a-url", ["parse", "not-a-url"], "not a URL: 'not-a-url'"),
    ("negative-max-articles", ["crawl", "--db", "{tmp}/new.db", "--max-articles", "-5"],
     "--max-articles: needs a whole number of at least 1, not '-5'"),
    ("column-not-a-number", ["crawl", "--db", "{tmp}/new.db", "--column", "abc"],
     "--column: not a column id"),
    ("search-column-not-a-number", ["search", "x", "--db", "{tmp}/archive.db", "--column", "abc"],
     "--column: not a column id"),
    ("empty-db-stats", ["stats", "--db", "{tmp}/empty.db"], "empty file, not a pdarchive archive"),
    ("empty-db-search", ["search", "x", "--db", "{tmp}/empty.db"], "empty file"),
    ("columns-missing-db", ["columns", "--db", "{tmp}/missing.db"], "no archive at"),
    ("unknown-option", ["stats", "--fromat", "json"], "unrecognized arguments: --fromat"),
]


def _command() -> list[str]:
    """The console script installed beside this Python, as a user runs it."""
    script = Path(sys.executable).with_name("pdarchive")
    if script.exists():
        return [str(script)]
    found = shutil.which("pdarchive")
    return [found] if found else [sys.executable, "-m", "archive.cli"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("usage")
    for name, text, _ in CONFIG_FAULTS:
        (tmp / f"{name}.toml").write_text(text, "utf-8")
    Archive(tmp / "archive.db").close()  # a real, empty archive
    (tmp / "empty.db").write_bytes(b"")
    (tmp / "folder").mkdir()
    return tmp


@pytest.mark.parametrize(("args", "message"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_a_usage_error_is_one_line_and_exit_code_2(workdir: Path, args: list[str],
                                                   message: str) -> None:
    before = sorted(path.name for path in workdir.rglob("*"))
    env = {key: value for key, value in os.environ.items()
           if key not in ("http_proxy", "https_proxy")}
    result = subprocess.run([*_command(), *(arg.format(tmp=workdir) for arg in args)],
                            capture_output=True, text=True, cwd=workdir, env=env,
                            timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pdarchive: error: "), result.stderr
    assert message in lines[0]
    assert result.stdout == ""
    # nothing made: no archive (crawl never started Scrapy), no export, no temporary file
    assert sorted(path.name for path in workdir.rglob("*")) == before
