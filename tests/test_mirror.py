"""The synthetic mirror generator: pages the parser reads with its templates, list pages
in order, ground truth that matches, articles added on top."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from crawler.parse import parse_document
from tests.support.mirror import RARE_TERMS, add_articles, build_mirror
from tests.support.replay import ReplayServer

N_ARTICLES = 50
PER_LIST_PAGE = 12
LIST_ITEM = re.compile(r"<li><a href='(/n2/[^']+)' target=_blank>")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_mirror(tmp_path_factory.mktemp("mirror") / "site", N_ARTICLES,
                        per_list_page=PER_LIST_PAGE, multi_page_every=5)


def load(site_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    return (json.loads((site_dir / "MANIFEST.json").read_text("utf-8")),
            json.loads((site_dir / "EXPECTED.json").read_text("utf-8")))


def page_urls(record: dict[str, Any]) -> list[str]:
    first = record["url"]
    return [first] + [f"{first[:-len('.html')]}-{n}.html"
                      for n in range(2, record["page_count"] + 1)]


def list_page_urls(site_dir: Path, manifest: dict[str, Any], column: str = "360300") -> list[str]:
    urls = []
    page = 1
    while (url := f"http://js.people.com.cn/GB/{column}/index{page}.html") in manifest:
        html = (site_dir / manifest[url]["file"]).read_bytes().decode("gb18030")
        urls += ["http://js.people.com.cn" + path for path in LIST_ITEM.findall(html)]
        page += 1
    return urls


def test_every_page_parses_with_a_template_to_the_expected_record(site: Path) -> None:
    manifest, expected = load(site)
    articles = expected["articles"]
    assert len(articles) == N_ARTICLES
    extractors = set()
    for record in articles:
        body: list[str] = []
        for url in page_urls(record):
            entry = manifest[url]
            parsed = parse_document((site / entry["file"]).read_bytes(), url,
                                    entry["headers"]["Content-Type"])
            assert "extractor" not in parsed.record, url
            extractors.add((parsed.extractor, parsed.encoding))
            for key in ("title", "pretitle", "subtitle", "published_at", "source", "source_url",
                        "editors", "authors", "article_id", "column_id", "page_count"):
                assert parsed.record[key] == record[key], (url, key)
            body += parsed.record["body"]
        assert body == record["body"], record["url"]
        assert len(body) >= 4
        assert 1500 <= sum(len(p.encode()) for p in body) <= 4500
    assert extractors == {("rm_txt", "utf-8"), ("text_title", "gb18030")}
    assert {r["page_count"] for r in articles} == {1, 2, 3}


def test_list_pages_run_newest_first_with_decreasing_dates_and_ids(site: Path) -> None:
    manifest, expected = load(site)
    articles = expected["articles"]
    assert list_page_urls(site, manifest) == [r["url"] for r in articles]
    dates = [r["published_at"] for r in articles]
    ids = [int(r["article_id"]) for r in articles]
    assert dates == sorted(dates, reverse=True) and len(set(dates)) == len(dates)
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    base = "http://js.people.com.cn/GB/360300/"
    assert manifest[base]["file"] == manifest[base + "index.html"]["file"]
    first = (site / manifest[base + "index.html"]["file"]).read_bytes()
    assert first == (site / manifest[base + "index1.html"]["file"]).read_bytes()
    assert b'<div class="page_n clearfix">' in first
    assert manifest["http://js.people.com.cn/robots.txt"]["headers"]["Content-Type"] == "text/plain"


def test_rare_terms_ground_truth(site: Path) -> None:
    _, expected = load(site)
    assert set(expected["rare_terms"]) == set(RARE_TERMS)
    for term, urls in expected["rare_terms"].items():
        holding = {r["url"] for r in expected["articles"] if any(term in p for p in r["body"])}
        assert set(urls) == holding
    assert sum(map(len, expected["rare_terms"].values())) < N_ARTICLES / 2


def test_build_is_deterministic(tmp_path: Path) -> None:
    one = build_mirror(tmp_path / "one", 8, seed=3)
    two = build_mirror(tmp_path / "two", 8, seed=3)
    other = build_mirror(tmp_path / "other", 8, seed=4)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    assert all((one / f).read_bytes() == (two / f).read_bytes() for f in files)
    assert (one / "EXPECTED.json").read_bytes() != (other / "EXPECTED.json").read_bytes()


def test_add_articles_prepends_newer_articles_and_the_server_sees_them(tmp_path: Path) -> None:
    site_dir = build_mirror(tmp_path / "site", 10, per_list_page=4)
    _, before = load(site_dir)
    with ReplayServer(site_dir) as server:
        new = add_articles(site_dir, 5)
        server.reload()
        proxy = urllib.request.ProxyHandler({"http": server.proxy_url})
        opener = urllib.request.build_opener(proxy)
        with opener.open(new[0], timeout=5) as response:
            assert response.status == 200
    manifest, after = load(site_dir)
    urls = [r["url"] for r in after["articles"]]
    assert urls == new + [r["url"] for r in before["articles"]]
    assert after["articles"][5]["published_at"] < after["articles"][4]["published_at"]
    assert list_page_urls(site_dir, manifest) == urls
    assert "http://js.people.com.cn/GB/360300/index4.html" in manifest  # 15 articles, 4 a page
