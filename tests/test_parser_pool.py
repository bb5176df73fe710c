"""Parsing in worker processes (crawler/parser_pool.py): what reparse relies on."""

from __future__ import annotations

import json
import multiprocessing

from crawler.parse import ParsedPage, ParseRefused
from crawler.parser_pool import Page, parse_all, parse_in_order
from tests.support.reference import SITE


def reference_pages() -> list[Page]:
    """Every article page of the reference mirror, and a list page (refused)."""
    manifest = json.loads((SITE / "MANIFEST.json").read_text("utf-8"))
    return [((SITE / entry["file"]).read_bytes(), url, entry["headers"].get("Content-Type"))
            for url, entry in sorted(manifest.items())
            if entry["status"] == 200 and ("/n2/" in url or url.endswith("/360300/"))]


def as_comparable(results: list[ParsedPage | ParseRefused]) -> list[object]:
    return [result.record if isinstance(result, ParsedPage) else repr(result)
            for result in results]


def test_results_come_in_order_and_equal_parsing_in_this_process() -> None:
    pages = reference_pages()
    groups = [(index, [page]) for index, page in enumerate(pages * 3)]
    results = list(parse_in_order(iter(groups), workers=2, ahead=5))
    assert [key for key, _ in results] == list(range(len(groups)))
    assert [as_comparable(parsed) for _, parsed in results] == [
        as_comparable(parse_all(group)) for _, group in groups]
    assert any(not isinstance(parsed[0], ParsedPage) for _, parsed in results), "a refusal"


def test_a_dead_worker_leaves_the_rest_to_this_process() -> None:
    pages = reference_pages()
    groups = [(index, [page]) for index, page in enumerate(pages * 4)]
    results = []
    for key, parsed in parse_in_order(iter(groups), workers=1, ahead=8):
        results.append((key, parsed))
        if key == 2:
            for child in multiprocessing.active_children():
                child.kill()
    assert [key for key, _ in results] == list(range(len(groups)))
    assert [as_comparable(parsed) for _, parsed in results] == [
        as_comparable(parse_all(group)) for _, group in groups]
