"""Field readers shared by the template extractors and the generic fallback."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

from bs4 import Tag

from .body import INVISIBLE_TAGS
from .index import PageIndex
from .people import (
    EDITOR_WORDS,
    MAX_EDITOR_LINE_CHARS,
    body_byline,
    credit_line,
    editors_from,
    unique,
)
from .templates import BODY_CHROME, EDITOR_NODES, PAGERS
from .text import clean, nfkc

_SOURCE = re.compile(r"(?:来源|來源|來源)\s*[:：]\s*(?P<value>[^|｜]*)")
_EDITOR_WORDING = re.compile("|".join(EDITOR_WORDS))
_EDITOR_BLOCKS = frozenset({"p", "div", "span", "li", "td"})
_PAGE_NUMBER = re.compile(r"^[【\[]?\s*(\d{1,3})\s*[】\]]?$")


def text_of(node: Tag | None) -> str:
    return clean(node.get_text(" ")) if node is not None else ""


def source_of(node: Tag | None, base_url: str) -> tuple[str, str | None] | None:
    """``(source, source_url)`` from a node reading ``来源：<a href=…>name</a>``."""
    if node is None:
        return None
    match = _SOURCE.search(clean(node.get_text()))
    if not match or not clean(match["value"]):
        return None
    value = clean(match["value"])
    for link in node.find_all("a", href=True):
        label = clean(link.get_text())
        if label and label in value:
            return nfkc(label), urljoin(base_url, str(link["href"]).strip())
    return nfkc(value), None


def editors_on_page(index: PageIndex, scope: Tag | None = None) -> list[str]:
    """Editors of the first editor line in ``scope`` (the page when None): a node
    the templates name, else, page-wide, any short block that reads as one."""
    for selector in EDITOR_NODES:
        for node in index.select(selector, scope):
            names = editors_from(text_of(node))
            if names:
                return names
    if scope is not None:
        return []
    for string in index.soup.find_all(string=_EDITOR_WORDING):
        block = string.parent
        while isinstance(block, Tag) and block.name not in _EDITOR_BLOCKS:
            block = block.parent
        text = text_of(block) if isinstance(block, Tag) else ""
        names = editors_from(text) if len(text) <= MAX_EDITOR_LINE_CHARS else None
        if names:
            return names
    return []


def page_count(index: PageIndex, current_page: int) -> int:
    numbers = [current_page]
    for selector in PAGERS:
        for pager in index.select(selector):
            for item in pager.find_all(["a", "span", "b", "strong"]):
                match = _PAGE_NUMBER.match(clean(item.get_text()))
                if match:
                    numbers.append(int(match[1]))
            numbers.extend(int(n) for n in re.findall(r"【(\d{1,3})】", pager.get_text()))
    return max(numbers)


def strip_chrome(container: Tag, index: PageIndex) -> None:
    """Detach scripts, styles and page chrome from a body container (comments are
    never read as text: see body.py)."""
    for node in index.select(f"{', '.join(INVISIBLE_TAGS)}, {BODY_CHROME}", container):
        node.extract()


def split_editor_lines(paragraphs: list[str]) -> tuple[list[str], list[str]]:
    """Drop editor lines written as body paragraphs; return ``(paragraphs, editors)``."""
    kept: list[str] = []
    editors: list[str] = []
    for paragraph in paragraphs:
        names = editors_from(paragraph)
        if names is not None and len(paragraph) <= len(",".join(names)) + 12:
            editors.extend(names)
        else:
            kept.append(paragraph)
    return kept, editors


def body_people(paragraphs: list[str]) -> tuple[list[str], list[str], list[str]]:
    """``(paragraphs, authors, photographers)``: paragraphs that are only a credit
    line leave the body; every credit, there or inside a paragraph, counts."""
    kept: list[str] = []
    authors: list[str] = []
    photographers: list[str] = []
    for paragraph in paragraphs:
        credited = credit_line(paragraph)
        if credited is None:
            kept.append(paragraph)
            credited = body_byline(paragraph)
        authors.extend(credited[0])
        photographers.extend(credited[1])
    return kept, authors, photographers


def body_and_people(paragraphs: list[str], images: list[dict[str, str]], editors: list[str],
                    authors: list[str], photographers: list[str]) -> dict[str, Any]:
    """The record's people and body fields: editor and credit lines written as
    paragraphs leave the body (editor names count when the page has no editor
    block), and bylines in the body add to the author line's people, in page order."""
    paragraphs, paragraph_editors = split_editor_lines(paragraphs)
    paragraphs, byline_authors, byline_photographers = body_people(paragraphs)
    return {
        "editors": unique(editors or paragraph_editors),
        "authors": unique(authors + byline_authors),
        "photographers": unique(photographers + byline_photographers),
        "body": paragraphs,
        "images": images,
    }
