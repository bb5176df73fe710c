"""The few tree operations the lxml stage needs, on plain ``lxml.etree`` elements.

``lxml.html`` offers the same (``drop_tree``, ``text_content``) on its own element
classes, but it looks up a Python class for every element it hands out: on a real
page that lookup was a quarter of the whole parse. Plain etree elements cost none.
"""

from __future__ import annotations

from lxml import etree

_PARSER = etree.HTMLParser(remove_blank_text=False)


def parse_html(text: str) -> etree._Element | None:
    """The document tree of ``text``; None when lxml finds no element in it, or
    refuses it (lxml takes no text that starts with an XML declaration naming an
    encoding)."""
    try:
        return etree.fromstring(text, _PARSER)
    except (ValueError, etree.ParserError):
        return None


def drop(element: etree._Element) -> None:
    """Remove ``element`` and what it holds, keeping the text that follows it."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def text_content(element: etree._Element) -> str:
    """All the text inside ``element``, without its tail."""
    return etree.tostring(element, method="text", encoding="unicode", with_tail=False)
