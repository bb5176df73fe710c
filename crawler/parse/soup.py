"""BeautifulSoup's tree of the lxml stage's page, built from its elements.

regions.py leaves an lxml tree; the field readers read BeautifulSoup. That tree
used to be serialised and the markup parsed again by bs4's lxml builder. Now the
soup is handed the elements themselves, the way that builder hands it what lxml's
parser reports (``LXMLTreeBuilderForXML.start``/``data``/``end``): each element's
tag and attributes, its text, its children, then its tail. bs4 makes its ``Tag``
objects as it always does (``class`` into a list, …); the builder's namespace
bookkeeping is skipped, an HTML tree having no namespaces (an attribute named like
``{uri}name`` still goes through it).

The tree is the one the second parse built, string for string and attribute for
attribute (tests/test_parse_soup.py compares them on every page it has), because
the two things that parse changed are done here too: URI attributes come
percent-encoded as libxml2's serialiser wrote them, and the values libxml2 fills
into HTML 4's boolean attributes are read back empty. One difference is left on
purpose: the text of a raw-text element (``xmp``, ``iframe``, ``noembed``,
``noframes``, ``plaintext``) is the page's, where the second parse read the
serialiser's escaping of it (``a&amp;amp;b`` for ``a&amp;b``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from bs4 import BeautifulSoup, Tag
from bs4.builder._lxml import LXMLTreeBuilder
from lxml import etree

_EVENTS = ("start", "end", "comment")
#: the attributes libxml2's HTML serialiser writes as URIs (and ``name`` on ``<a>``)
_URI_ATTRIBUTES = frozenset({"href", "src", "action"})
#: what it percent-encodes in them: spaces, controls and non-ASCII
_NOT_IN_URI = re.compile(r"[^\x21-\x7e]+")
#: HTML 4's boolean attributes: libxml2's parser fills in the value a page leaves
#: out (``nowrap="nowrap"``), its serialiser writes none, so the second parse read ""
_BOOLEAN_ATTRIBUTES = frozenset({"checked", "compact", "declare", "defer", "disabled", "ismap",
                                 "multiple", "nohref", "noresize", "noshade", "nowrap",
                                 "readonly", "selected"})


def as_uri(value: str) -> str:
    """A URI attribute as libxml2's HTML serialiser writes it: leading blanks
    dropped, spaces, controls and non-ASCII percent-encoded (UTF-8). The record's
    URLs (``images[].src``, ``source_url``) have always had this form, the one a
    browser or Scrapy requests them by, so a picture's URL stays its capture's."""
    value = value.lstrip(" \t\n\r")
    return _NOT_IN_URI.sub(lambda run: quote(run[0], safe=""), value)


def _attributes(element: etree._Element) -> Mapping[str, str] | None:
    """``element``'s attributes as the second parse read them back; None when one
    is named like a namespaced name (``{…}name``), which bs4's builder resolves."""
    attrib = element.attrib
    changed: dict[str, str] | None = None
    for name, value in attrib.items():
        if name in _BOOLEAN_ATTRIBUTES:
            read = ""
        elif name in _URI_ATTRIBUTES or (name == "name" and element.tag == "a"):
            read = as_uri(value)
        elif name[0] == "{":
            return None
        else:
            continue
        if read != value:
            if changed is None:
                changed = dict(attrib)
            changed[name] = read
    return attrib if changed is None else changed


class ElementTreeBuilder(LXMLTreeBuilder):
    """bs4's lxml HTML builder, fed from an ``lxml.etree`` element; given text, it
    parses it as bs4's lxml builder does. ``tags`` are the tags of the last tree
    built from an element, in document order."""

    tags: list[Tag]

    def prepare_markup(self, markup: Any, user_specified_encoding: Any = None,
                       document_declared_encoding: Any = None, exclude_encodings: Any = None
                       ) -> Iterator[tuple[Any, Any, Any, bool]]:
        if isinstance(markup, etree._Element):
            yield markup, None, None, False  # parsed and decoded already
        else:
            yield from super().prepare_markup(markup, user_specified_encoding,
                                              document_declared_encoding, exclude_encodings)

    def feed(self, markup: Any) -> None:
        if not isinstance(markup, etree._Element):
            super().feed(markup)
            return
        assert self.soup is not None
        soup = self.soup
        start, data, end = soup.handle_starttag, soup.handle_data, soup.handle_endtag
        attribute_dict = self.attribute_dict_class
        namespaces = self.active_namespace_prefixes[-1]
        self.tags = tags = []
        for event, element in etree.iterwalk(markup, events=_EVENTS):
            if event == "start":
                attributes = _attributes(element)
                if attributes is None:
                    self.start(element.tag, element.attrib)
                    tag = soup.currentTag
                else:
                    tag = start(element.tag, None, None, attribute_dict(attributes.items()),
                                namespaces=namespaces)
                tags.append(tag)
                if element.text:
                    data(element.text)
                continue
            if event == "end":
                end(element.tag)
            else:
                self.comment(element.text or "")
            if element.tail and element is not markup:
                data(element.tail)


_BUILDERS = threading.local()


def _builder() -> ElementTreeBuilder:
    """One builder per thread: looking the builder up and making a new one for
    every page cost a tenth of building the tree."""
    builder = getattr(_BUILDERS, "builder", None)
    if builder is None:
        builder = _BUILDERS.builder = ElementTreeBuilder()
    return builder


def soup_of(root: etree._Element) -> tuple[BeautifulSoup, list[Tag]]:
    """BeautifulSoup's tree of ``root``, and its tags in document order."""
    builder = _builder()
    soup = BeautifulSoup(root, builder=builder)
    return soup, builder.tags


def soup_of_text(text: str) -> BeautifulSoup:
    """BeautifulSoup's tree of markup lxml made no tree of, parsed by bs4's lxml builder."""
    return BeautifulSoup(text, builder=_builder())
