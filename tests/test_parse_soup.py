"""BeautifulSoup straight from the lxml tree (crawler/parse/soup.py): the tree the
field readers get is the one bs4's lxml builder makes of that tree's markup, on
every page the tests have, cut to its regions, whole, and as parsed (comments in)."""

from __future__ import annotations

from typing import Any

import pytest
from bs4 import BeautifulSoup, PageElement, Tag
from lxml import etree

from crawler.parse.regions import cut_page, whole_page
from crawler.parse.soup import as_uri, soup_of
from crawler.parse.tree import parse_html
from tests.support.pages import FULLSIZE_PAGE, PATTERNS, REFERENCE_PAGES, URLS, ReferencePage

PAGES = [page for page in REFERENCE_PAGES if page.status == 200
         and (page.content_type or "").startswith("text/html")]
PAGES += [FULLSIZE_PAGE]
PAGES += [ReferencePage(URLS[name], (PATTERNS / name).read_bytes(), "text/html", 200, None,
                        name=name) for name in sorted(URLS)]


def shape(node: PageElement) -> Any:
    """Everything of a soup node the readers can see: names, attribute values (lists
    where bs4 splits them), each string with its class, and the tree's order."""
    if isinstance(node, Tag):
        return (node.name, node.namespace, node.prefix,
                [(str(name), value, type(value).__name__) for name, value in node.attrs.items()],
                node.can_be_empty_element, [shape(child) for child in node.contents])
    return type(node).__name__, str(node)


def reparsed(root: etree._Element) -> BeautifulSoup:
    """What the parser did before soup.py: the tree's markup, parsed again."""
    return BeautifulSoup(etree.tostring(root, method="html", encoding="unicode"), "lxml")


def assert_same_soup(root: etree._Element) -> None:
    soup, tags = soup_of(root)
    expected = reparsed(root)
    assert shape(soup) == shape(expected)
    found = soup.find_all(True)
    assert len(tags) == len(found) and all(a is b for a, b in zip(tags, found, strict=True))


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.id)
def test_the_soup_of_a_tree_is_the_soup_of_its_markup(page: ReferencePage) -> None:
    for prepare in (lambda root: root, cut_page, whole_page):
        root = parse_html(page.text())
        assert root is not None
        prepared = prepare(root)
        if prepared is not None:
            assert_same_soup(root)


@pytest.mark.parametrize("markup", [
    '<p class=" a\tb  a ">x</p><p class="">y</p><a rel="nofollow noopener" href="/a">z</a>',
    '<img src="  /图 片.jpg?q=中 文#a b "><a href="http://x/a b\t"><a name=" 名 ">n</a></a>'
    '<form action=" /搜 索"></form><img data-src=" /中.jpg " title=" t ">',
    '<td nowrap>a</td><option selected="selected">b</option><p hidden>c</p><input checked>',
    '<p>a<!-- one -->b<!---->c<b>d</b><!-- two --></p>tail<!-- last -->',
    '<p {urn:x}name="1" xml:lang="zh" data-a_b="2">namespaced-looking</p>',
    '<p>&amp;lt; &nbsp;x&#12288;y <br> z</p><pre>\n  a\n</pre><textarea> &lt;b&gt; </textarea>',
])
def test_markup_the_serialiser_rewrote_comes_out_as_the_reparse_read_it(markup: str) -> None:
    root = parse_html(f"<html><head><title>t</title></head><body>{markup}</body></html>")
    assert root is not None
    assert_same_soup(root)


def test_raw_text_is_read_as_the_page_has_it_not_escaped_twice() -> None:
    root = parse_html("<html><body><xmp>a&amp;b <i>c</i></xmp><p>d</p></body></html>")
    assert root is not None
    soup, _ = soup_of(root)
    assert soup.xmp is not None and soup.xmp.string == "a&amp;b <i>c</i>"
    assert reparsed(root).xmp.string == "a&amp;amp;b &lt;i&gt;c&lt;/i&gt;"  # type: ignore[union-attr]


@pytest.mark.parametrize(("value", "uri"), [
    ("/NMediaFile/2024/a.jpg", "/NMediaFile/2024/a.jpg"),
    ("  \t/a b.jpg ", "/a%20b.jpg%20"),
    ("/图.jpg?x=中&y=1#z", "/%E5%9B%BE.jpg?x=%E4%B8%AD&y=1#z"),
    ("/a%20b[1]{x}|^`<>\"\\", "/a%20b[1]{x}|^`<>\"\\"),
    ("/a\x7fb\u3000", "/a%7Fb%E3%80%80"),
])
def test_uri_attributes_are_percent_encoded_as_the_serialiser_writes_them(value: str, uri: str
                                                                         ) -> None:
    assert as_uri(value) == uri
