"""Generic extraction for markup none of the templates knows.

It reads the ``<meta>`` tags people.com.cn puts on every article (``publishdate``,
``source``) and takes the body from the most text-dense block. Its records carry
``"extractor": "fallback"`` so the archive can report pages parsed this way: a
rising share of them is the first sign that the site's layout changed.

A page that no template knows is as likely a block page, a deletion notice or an
error page as a redesigned article, so the fallback stores an article only on
strong evidence: an article identity (the URL or ``<meta name=contentid>``), a
title, a publication date, and a body of an article's size that does not read as
a notice. Anything less is refused, as a notice when it reads as one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bs4 import BeautifulSoup, Tag

from .body import extract_body
from .errors import NotAnArticle
from .fields import body_and_people, editors_on_page, source_of, strip_chrome
from .index import PageIndex
from .notices import notice_refusal
from .people import DATETIME, author_line, parse_datetime
from .text import clean, nfkc

RecordFactory = Callable[..., dict[str, Any]]

#: a body shorter than this many characters is not an article (the shortest page
#: of the reference mirror has 119; a block or deletion notice a few dozen)
MIN_BODY_CHARS = 100
_TITLE_SUFFIX = re.compile(r"\s*(?:--|—|_|\|).*$")
_NON_BODY = "nav, header, footer, aside, ul, ol, .nav, #nav, .copyright, #copyright"


def _meta(soup: BeautifulSoup, name: str) -> str:
    node = soup.find("meta", attrs={"name": re.compile(f"^{name}$", re.I)})
    return clean(str(node.get("content") or "")) if node else ""


def _title(soup: BeautifulSoup) -> str:
    for heading in soup.find_all("h1"):
        text = clean(heading.get_text(" "))
        if text:
            return text
    title = soup.find("title")
    return clean(_TITLE_SUFFIX.sub("", title.get_text())) if title else ""


def _densest_block(soup: BeautifulSoup) -> tuple[Tag | None, int]:
    """The element whose direct ``<p>`` children hold the most text."""
    best: Tag | None = None
    best_score = 0
    for paragraph in soup.find_all("p"):
        parent = paragraph.parent
        if not isinstance(parent, Tag) or parent.get("data-pd-scored"):
            continue
        parent["data-pd-scored"] = "1"
        if parent.find_parent(["nav", "header", "footer", "aside"]) or parent.select_one("ul li a"):
            continue
        score = sum(
            len(clean(p.get_text())) for p in parent.find_all("p", recursive=False)
            if not p.find("a") or len(clean(p.get_text())) > 80
        )
        if score > best_score:
            best, best_score = parent, score
    return best, best_score


def _published_at(soup: BeautifulSoup) -> str | None:
    date = _meta(soup, "publishdate")
    text = clean(soup.get_text(" "))
    for match in DATETIME.finditer(text):
        if match["H"] is not None:
            found = parse_datetime(match[0])
            if found and (not date or found.startswith(date)):
                return found
    return parse_datetime(date) if date else None


def _source(soup: BeautifulSoup, url: str) -> tuple[str, str | None]:
    for node in soup.find_all(string=re.compile("来源|來源")):
        parent = node.parent
        if isinstance(parent, Tag) and parent.name not in ("title", "script", "meta"):
            found = source_of(parent, url)
            if found:
                return found
    meta = re.sub(r"^(?:来源|來源)\s*[:：]\s*", "", _meta(soup, "source"))
    return (nfkc(meta), None) if meta else ("", None)


def extract(index: PageIndex, url: str, make_record: RecordFactory, original_title: str = ""
            ) -> dict[str, Any]:
    soup = index.soup
    title = _title(soup)
    editors = editors_on_page(index)  # before the chrome goes: editor lines are chrome
    # Teasers (推荐阅读), share bars and pagers are never article text; left in, a teaser
    # is the densest block of a page whose body container went missing.
    strip_chrome(soup, index)
    block, score = _densest_block(soup)
    headings = [clean(heading.get_text(" ")) for heading in soup.find_all(["h1", "h2", "h3"])]
    block_text = clean(block.get_text(" ")) if block else ""
    notice = notice_refusal(" ".join([title, *headings]), block_text)
    if notice is not None:
        raise notice
    if block is None or score < MIN_BODY_CHARS or not title:
        raise NotAnArticle(
            f"no article found: no known template, and the densest text block has {score} "
            "characters" + ("" if title else " and no title")
        )
    published_at = _published_at(soup)
    if published_at is None:
        # Every article carries its publication time; a text block without one is an
        # error page ("页面不存在…") or a notice, not an article.
        raise NotAnArticle("no article found: no known template, and no publication date")
    source, source_url = _source(soup, url)
    author_node = index.first(".author")
    authors, photographers = author_line(clean(author_node.get_text(" ")) if author_node else "")
    for node in index.select(_NON_BODY, block):
        node.extract()
    paragraphs, images = extract_body(block, url)
    if sum(len(paragraph) for paragraph in paragraphs) < MIN_BODY_CHARS:
        raise NotAnArticle("no article found: no known template, and the text left after the "
                           f"page chrome is under {MIN_BODY_CHARS} characters")
    record = make_record(
        title=title,
        pretitle="",
        subtitle="",
        original_title=original_title,
        published_at=published_at,
        source=source,
        source_url=source_url,
        **body_and_people(paragraphs, images, editors, authors, photographers),
    )
    record["extractor"] = "fallback"
    return record
