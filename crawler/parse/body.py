"""The visible paragraphs and images of an article body, read off the tree.

A paragraph is a run of text between block boundaries (block tags and ``<br>``), so
bodies nested in extra wrappers (``div.bza``, ``#rm_txt_zw``) or written as
``<br>``-separated text come out the same as ``<p>`` bodies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from bs4 import Tag
from bs4.element import NavigableString, PreformattedString

from .text import clean

BLOCK_TAGS = frozenset({
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd",
    "blockquote", "table", "tbody", "thead", "tr", "td", "th", "section", "article",
    "center", "figure", "figcaption", "pre", "header", "footer", "aside", "hr",
})
# Elements whose text is never visible article text.
INVISIBLE_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "form",
                  "button", "select", "textarea", "svg")
_CENTRED = re.compile(r"text-align\s*:\s*center", re.IGNORECASE)
_SENTENCE_END = ("。", "！", "？", "!", "?")
_MAX_BARE_CAPTION = 60


@dataclass
class Block:
    text: str = ""
    images: list[str] = field(default_factory=list)
    centred: bool = False


def _is_centred(tag: Tag) -> bool:
    return bool(_CENTRED.search(str(tag.get("style") or ""))) or (
        str(tag.get("align") or "").lower() == "center"
    )


def _blocks(container: Tag) -> list[Block]:
    blocks: list[Block] = []
    parts: list[str] = []
    images: list[str] = []
    centred = [False]

    def flush() -> None:
        text = clean("".join(parts))
        if text or images:
            blocks.append(Block(text, list(images), centred[0]))
        parts.clear()
        images.clear()

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, PreformattedString):  # comments, CDATA, doctype
                    parts.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name == "br":
                flush()
            elif name == "img":
                src = child.get("src") or child.get("data-src")
                if src:
                    images.append(str(src).strip())
            elif name in BLOCK_TAGS:
                flush()
                outer = centred[0]
                centred[0] = _is_centred(child) or outer
                walk(child)
                flush()
                centred[0] = outer
            else:
                walk(child)

    walk(container)
    flush()
    return blocks


def _caption_for(blocks: list[Block], index: int) -> tuple[str, bool]:
    """Caption of the images in ``blocks[index]``; True when it is the next block."""
    block = blocks[index]
    if block.text:
        return block.text, False
    if index + 1 < len(blocks):
        following = blocks[index + 1]
        if following.text and not following.images and (
            following.centred
            or (len(following.text) <= _MAX_BARE_CAPTION
                and not following.text.endswith(_SENTENCE_END))
        ):
            return following.text, True
    return "", False


def extract_body(container: Tag, base_url: str) -> tuple[list[str], list[dict[str, str]]]:
    """``(paragraphs, images)`` of a body container already stripped of chrome."""
    blocks = _blocks(container)
    paragraphs = [block.text for block in blocks if block.text]
    images: list[dict[str, str]] = []
    for index, block in enumerate(blocks):
        if not block.images:
            continue
        caption, _ = _caption_for(blocks, index)
        for src in block.images:
            if src.startswith("data:"):
                continue
            images.append({"src": urljoin(base_url, src), "caption": caption})
    return paragraphs, images
