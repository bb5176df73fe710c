"""The reference mirror's pages, each as it is served, with the record its parse must
give: what the parser tests (test_parse*.py) run over."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from crawler.parse.decoding import decode_page
from tests.support.reference import FIXTURES, REFERENCE, SITE

EXPECTED_PAGES = REFERENCE / "expected" / "pages"
FULLSIZE = FIXTURES / "fullsize" / "seed_fullsize.html"
SEED_URL = "http://js.people.com.cn/n2/2020/1019/c360300-34359164.html"
#: an article URL the mirror does not serve (a 404 in the crawl), for bodies of any kind
MISSING_URL = "http://js.people.com.cn/n2/2021/0301/c360300-34600999.html"


@dataclass(frozen=True)
class ReferencePage:
    """One URL of the reference mirror: the bytes served, as served."""

    url: str
    body: bytes
    content_type: str | None
    status: int
    #: the expected parse; None for pages that are not articles
    expected: dict[str, Any] | None
    #: test id when the URL is not enough (two pages served from one URL)
    name: str = ""

    @property
    def id(self) -> str:
        return self.name or self.url.split("://", 1)[1]

    def text(self) -> str:
        """The page decoded as the parser decodes it."""
        return decode_page(self.body, self.content_type).text


def expected_name(url: str) -> str:
    return url.split("://", 1)[1].replace("/", "_") + ".json"


def _load_reference() -> list[ReferencePage]:
    manifest = json.loads((SITE / "MANIFEST.json").read_text(encoding="utf-8"))
    pages = []
    for url, entry in sorted(manifest.items()):
        expected = EXPECTED_PAGES / expected_name(url)
        record = json.loads(expected.read_text(encoding="utf-8")) if expected.exists() else None
        pages.append(ReferencePage(
            url=url,
            body=(SITE / entry["file"]).read_bytes(),
            content_type=entry["headers"].get("Content-Type"),
            status=entry["status"],
            expected=record,
        ))
    return pages


REFERENCE_PAGES = _load_reference()
#: every page with an expected parse
ARTICLES = [page for page in REFERENCE_PAGES if page.expected is not None]
#: list pages, the 500 body, robots.txt
NON_ARTICLES = [page for page in REFERENCE_PAGES if page.expected is None]
SEED = next(page for page in ARTICLES if page.url == SEED_URL)
BIG5_SEED = next(page for page in ARTICLES if "/BIG5/" in page.url)
#: the full-size (45 KB) seed page: the seed's article inside real-size page chrome
FULLSIZE_PAGE = ReferencePage(SEED_URL, FULLSIZE.read_bytes(), "text/html", 200, SEED.expected,
                              name="fullsize")

#: pages of our own, one for each pattern the real pages show (test_parse_patterns.py),
#: and the URL each is served under
PATTERNS = FIXTURES / "patterns"
JS = "http://js.people.com.cn"
URLS = {
    "rm_txt_reader_view.html": f"{JS}/n2/2024/0510/c360300-40232001.html",
    "xinhua_bylines.html": f"{JS}/n2/2024/0424/c360300-40223001.html",
    "health_channel.html": "http://health.people.com.cn/n1/2024/0517/c14739-40230001.html",
    "unknown_layout.html": f"{JS}/n2/2024/0601/c360300-40240001.html",
    "gallery-1.html": f"{JS}/n2/2024/0301/c360300-40250001.html",
    "gallery-2.html": f"{JS}/n2/2024/0301/c360300-40250001-2.html",
    "no_text_no_pictures.html": f"{JS}/n2/2024/0302/c360300-40250002.html",
    "before_2013.html": f"{JS}/GB/360300/14578293.html",
    "damaged_byline.html": f"{JS}/n2/2024/0425/c360300-40223002.html",
    "block_page.html": f"{JS}/n2/2024/0510/c360300-40232001.html",
    "deleted_in_layout.html": f"{JS}/n2/2024/0303/c360300-40250003.html",
    "quotes_a_block_notice.html": f"{JS}/n2/2024/0304/c360300-40250004.html",
}
