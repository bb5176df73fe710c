"""Extraction on pages people.com.cn really served, saved by other public projects.

The pages live in ``../shared/reference/real/`` beside the repository and are read
in place, never copied into it (they are other projects' files); without that
folder these tests skip and say why. Each pattern they show has a page of our own
in ``tests/fixtures/patterns/`` (test_parse_patterns.py), so the rules are tested
everywhere.

The comparison follows the conventions of ``real/README.md``: ``source`` may be
any spelling in ``source_alt`` (folded by NFKC, as the record's contract folds
every source), authors are compared with the spaces inside names removed,
paragraphs in ``body_optional`` and pictures in ``images_optional`` count as right
whether present or not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawler.parse import parse_document
from crawler.parse.text import nfkc

REAL = Path(__file__).resolve().parents[2] / "shared" / "reference" / "real"
pytestmark = pytest.mark.skipif(
    not (REAL / "expected.json").exists(),
    reason=f"the real pages are read in place from {REAL}, which is absent here "
           "(they belong to other projects and are not copied into this repository)")


def _cases() -> list[tuple[str, Path, dict[str, Any]]]:
    if not (REAL / "expected.json").exists():
        return []
    manifest = json.loads((REAL / "MANIFEST.json").read_text("utf-8"))
    expected = json.loads((REAL / "expected.json").read_text("utf-8"))
    return [(url, REAL / entry["file"], expected[url]) for url, entry in sorted(manifest.items())]


CASES = _cases()


def _without(items: list[Any], optional: list[Any]) -> list[Any]:
    return [item for item in items if item not in optional]


def _names(names: list[str]) -> list[str]:
    return ["".join(name.split()) for name in names]


@pytest.mark.parametrize(("url", "path", "expected"), CASES,
                         ids=[url.split("://", 1)[1] for url, _, _ in CASES])
def test_real_page_is_entirely_right(url: str, path: Path, expected: dict[str, Any]) -> None:
    record = parse_document(path.read_bytes(), url, "text/html").record
    for field in ("title", "pretitle", "subtitle", "published_at", "source_url", "editors",
                  "photographers"):
        assert record[field] == expected[field], field
    spellings = {nfkc(source) for source in [expected["source"], *expected["source_alt"]]}
    assert record["source"] in spellings
    assert _names(record["authors"]) == _names(expected["authors"])
    optional = expected.get("body_optional", [])
    assert _without(record["body"], optional) == _without(expected["body"], optional)
    images_optional = expected.get("images_optional", [])
    assert (_without(record["images"], images_optional)
            == _without(expected["images"], images_optional))
    assert record["original_title"] == expected.get("original_title", "")


@pytest.mark.parametrize(("url", "path", "expected"),
                         [case for case in CASES if case[2].get("damaged")],
                         ids=lambda value: value.split("://", 1)[1] if isinstance(value, str)
                         else "")
def test_damaged_names_are_read_up_to_the_damage_and_never_invented(
        url: str, path: Path, expected: dict[str, Any]) -> None:
    authors = parse_document(path.read_bytes(), url, "text/html").record["authors"]
    on_the_page = expected["authors_on_the_page"]
    assert authors == on_the_page[:len(authors)] and len(authors) < len(on_the_page)
    assert not any("\ufffd" in name for name in authors)
