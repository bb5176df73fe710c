"""The reference mirror (tests/fixtures/reference) and the crawl configurations the
tests use over it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REFERENCE = FIXTURES / "reference"
SITE = REFERENCE / "site"
#: what a crawl of column 360300 (GB edition) of the mirror must archive
EXPECTED_CRAWL = REFERENCE / "expected" / "crawl_360300_gb.json"
#: an article of the column that ``baseline_archive`` (tests/conftest.py) lacks: it
#: answered 404 when that archive was crawled
UNSEEN = "http://js.people.com.cn/n2/2022/0419/c360300-34401233.html"
#: no politeness delay (the server is ours), quick retries
CRAWL_CONFIG = FIXTURES / "crawl_test.toml"
#: as CRAWL_CONFIG, with a short timeout and failed pages due again after 2 s
FAULT_CONFIG = FIXTURES / "fault_test.toml"


def load_manifest() -> dict[str, Any]:
    """The mirror's URL -> {file, status, headers}."""
    return json.loads((SITE / "MANIFEST.json").read_text("utf-8"))
