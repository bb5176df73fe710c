"""``parse_page``: bytes, URL and Content-Type in, one article-page record out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bs4 import BeautifulSoup
from lxml import etree

from . import fallback
from .body import extract_body
from .decoding import decode_page
from .errors import ExtractionError, NotAnArticle
from .fields import (
    body_and_people,
    editors_on_page,
    page_count,
    source_of,
    strip_chrome,
    text_of,
)
from .index import PageIndex
from .notices import notice_refusal
from .people import author_line, parse_datetime
from .regions import cut_page, whole_page
from .soup import soup_of, soup_of_text
from .templates import TemplateMatch, match_template
from .tree import parse_html
from .urls import parse_article_url, parse_list_url

_CLOSED = re.compile(r"</(?:html|body)\s*>", re.IGNORECASE)
_CONTROL_BYTES = bytes([*range(0, 9), *range(14, 32)])
_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "application/octet-stream")


@dataclass(frozen=True)
class Identity:
    url: str
    article_id: str
    column_id: str
    edition: str
    page: int


@dataclass(frozen=True)
class ParsedPage:
    record: dict[str, Any]
    encoding: str
    #: the template that matched, or "fallback"
    extractor: str


def _refuse_non_html(body: bytes, content_type: str | None) -> None:
    if not body or not body.strip():
        raise NotAnArticle("empty page")
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime and not mime.startswith(_HTML_TYPES):
        raise NotAnArticle(f"content type {mime} is not HTML")
    head = body[:4096]
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if b"\x00" in head or controls > len(head) // 100:
        raise NotAnArticle("binary content, not an HTML page")
    if b"<" not in head:
        raise NotAnArticle("no HTML markup")


def _identify(url: str, soup: BeautifulSoup) -> Identity:
    parsed = parse_article_url(url)
    if parsed is not None:
        return Identity(url, parsed.article_id, parsed.column_id, parsed.edition, parsed.page)
    if parse_list_url(url) is not None:
        raise NotAnArticle("a column list page, not an article")
    content_id = soup.find("meta", attrs={"name": re.compile("^contentid$", re.I)})
    catalogs = soup.find("meta", attrs={"name": re.compile("^catalogs$", re.I)})
    article_id = str(content_id.get("content") or "").strip() if content_id else ""
    if not article_id.isdigit():
        raise NotAnArticle("no article id: the URL is not an article URL and the page has "
                           "no <meta name=contentid>")
    column_id = str(catalogs.get("content") or "").strip() if catalogs else ""
    edition = "big5" if "/BIG5/" in url.upper() else "gb"
    return Identity(url, article_id, column_id, edition, 1)


def _record(identity: Identity, page_total: int, **fields: Any) -> dict[str, Any]:
    return {
        "url": identity.url,
        "article_id": identity.article_id,
        "column_id": identity.column_id,
        "edition": identity.edition,
        "page": identity.page,
        "page_count": page_total,
        **fields,
    }


def _refuse_notice(title: str, paragraphs: list[str]) -> None:
    """A short page that reads as a block or deletion notice is refused as one."""
    refusal = notice_refusal(title, " ".join(paragraphs))
    if refusal is not None:
        raise refusal


def _from_template(match: TemplateMatch, identity: Identity, original_title: str
                   ) -> dict[str, Any]:
    template = match.template
    index = match.index
    name = template.name
    title = text_of(match.title)
    dateline = match.first(template.dateline, match.header) or match.first(template.dateline)
    editors = editors_on_page(index, match.body) or editors_on_page(index)
    pages = page_count(index, identity.page)
    strip_chrome(match.body, index)
    paragraphs, images = extract_body(match.body, identity.url)
    # A notice in the site's own layout ("该文章已删除") fills the template too.
    _refuse_notice(title, paragraphs)
    if not title:
        raise ExtractionError(f"template {name}: the title is empty")
    published_at = parse_datetime(text_of(dateline))
    if published_at is None:
        raise ExtractionError(f"template {name}: no publication date and time")
    source_node = match.first(template.source) if template.source else dateline
    source, source_url = source_of(source_node, identity.url) or ("", None)
    authors: list[str] = []
    photographers: list[str] = []
    if template.author:
        authors, photographers = author_line(text_of(match.in_header(template.author)))
    people_and_body = body_and_people(paragraphs, images, editors, authors, photographers)
    if not people_and_body["body"] and not images:
        # A page of pictures only (一图读懂, a gallery page) is a page; one with
        # neither text nor pictures lost its body.
        raise ExtractionError(f"template {name}: the body is empty")
    return _record(
        identity,
        pages,
        title=title,
        pretitle=text_of(match.in_header(template.pretitle)),
        subtitle=text_of(match.in_header(template.subtitle)),
        original_title=original_title,
        published_at=published_at,
        source=source,
        source_url=source_url,
        **people_and_body,
    )


def parse_document(body: bytes, url: str, content_type: str | None = None) -> ParsedPage:
    """Parse one page; raise NotAnArticle or ExtractionError with a reason."""
    _refuse_non_html(body, content_type)
    decoded = decode_page(body, content_type)
    if decoded.declared_by == "lossy":
        raise ExtractionError(f"bytes do not decode as {decoded.encoding} or any fallback")
    if not _CLOSED.search(decoded.text):
        raise ExtractionError("truncated page: no closing </body> or </html>")
    root = parse_html(decoded.text)
    prepared = cut_page(root) if root is not None else None
    if prepared is not None:
        soup, tags = soup_of(prepared.root)
        identity = _identify(url, soup)
        match = match_template(PageIndex(soup, tags))
        if match is not None:
            record = _from_template(match, identity, prepared.original_title)
            return ParsedPage(record, decoded.encoding, match.template.name)
        root = parse_html(decoded.text)  # the cut took the rest of the page
    # No template: the fallback reads the whole page, cleaned the same way (the text
    # as it is when lxml made no tree of it).
    record = _from_fallback(root, decoded.text, url)
    return ParsedPage(record, decoded.encoding, "fallback")


def _from_fallback(root: etree._Element | None, text: str, url: str) -> dict[str, Any]:
    if root is None:
        soup, tags, original_title = soup_of_text(text), None, ""
    else:
        whole = whole_page(root)
        (soup, tags), original_title = soup_of(whole.root), whole.original_title
    identity = _identify(url, soup)
    index = PageIndex(soup, tags)
    return fallback.extract(index, identity.url, _record_factory(identity, index), original_title)


def _record_factory(identity: Identity, index: PageIndex) -> fallback.RecordFactory:
    # Counted now: the fallback strips pagers out of the body before it makes the record.
    pages = page_count(index, identity.page)

    def make(**fields: Any) -> dict[str, Any]:
        return _record(identity, pages, **fields)

    return make


def parse_page(body: bytes, url: str, content_type: str | None = None) -> dict[str, Any]:
    """The article-page record (docs/ARCHITECTURE.md) for ``body`` served from ``url``."""
    return parse_document(body, url, content_type).record
