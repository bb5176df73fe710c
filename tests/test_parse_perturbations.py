"""Markup drift: the reference pages, perturbed the way the live site drifts, still
parse to exactly their expected records.

Each drift rewrites the decoded text of a page (the markup of people.com.cn is regular
enough for regular expressions to find the regions a drift touches); Hypothesis picks
a page, a random combination of drifts and a seed for their random choices, then
re-encodes the page in its own encoding or another one, declared in a ``<meta>``, in
the HTTP header, by a BOM, falsely, or not at all. No drift changes what a reader
sees, so the expected record never changes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from crawler.parse import ExtractionError, parse_document
from tests.support.pages import ARTICLES, FULLSIZE_PAGE, ReferencePage

PAGES = [*ARTICLES, FULLSIZE_PAGE]
SETTINGS = settings(deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])

_BODY_OPEN = re.compile(
    r'<div\b[^>]*(?:id="(?:rwb_zw|p_content)"|class="rm_txt_con\b[^"]*")[^>]*>'
)
_EDITOR = re.compile(
    r'\s*<div\b[^>]*(?:class="edit\b[^"]*"|id="p_editor")[^>]*>(?P<line>[^<]*)</div>'
)
_DIV = re.compile(r"<div\b|</div>", re.IGNORECASE)


def _body_span(text: str) -> tuple[int, int, int, int]:
    """``(start, inner_start, inner_end, end)`` of the body container's div."""
    opening = _BODY_OPEN.search(text)
    assert opening is not None, "no body container"
    depth = 0
    for tag in _DIV.finditer(text, opening.start()):
        depth += 1 if tag[0].lower() == "<div" else -1
        if depth == 0:
            return opening.start(), opening.end(), tag.start(), tag.end()
    raise AssertionError("unclosed body container")


def _map_body(text: str, change: Callable[[str], str]) -> str:
    _, inner_start, inner_end, _ = _body_span(text)
    return text[:inner_start] + change(text[inner_start:inner_end]) + text[inner_end:]


# --- markup drifts: (decoded text, random source) -> decoded text ---------------------


def editor_in_paragraph(text: str, rng: random.Random) -> str:
    """``<div class="edit">(责编：…)</div>`` becomes the last body paragraph,
    ``<p>(责编：…)</p>``."""
    editor = _EDITOR.search(text)
    assert editor is not None, "no editor line"
    text = text[:editor.start()] + text[editor.end():]
    line = editor["line"].strip()
    if rng.random() < 0.5:
        line = line.replace("(", "（").replace(")", "）")
    style = rng.choice(["", ' style="text-align: right;"', ' class="edit"'])
    return _map_body(text, lambda inner: f"{inner}\n<p{style}>{line}</p>\n")


def br_paragraphs(text: str, rng: random.Random) -> str:
    """Paragraph boundaries in the body become ``<br>`` line breaks."""
    breaks = ["<br>", "<br/>", "<BR />", "<br><br>", "<br />\n\u3000\u3000", "<br>&nbsp;&nbsp;"]

    def join(inner: str) -> str:
        return re.sub(r"</p>\s*<p\b[^>]*>",
                      lambda match: rng.choice(breaks) if rng.random() < 0.8 else match[0],
                      inner)

    return _map_body(text, join)


def nested_body(text: str, rng: random.Random) -> str:
    """The body one level deeper, as in ``div.bza > div#rm_txt_zw``."""
    opening, closing = rng.choice([
        ('<div class="bza"><div id="rm_txt_zw">', "</div></div>"),
        ('<div class="rm_txt_zw">', "</div>"),
        ("<div><div><div>", "</div></div></div>"),
        ('<section class="content">', "</section>"),
    ])
    return _map_body(text, lambda inner: f"{opening}{inner}{closing}")


def wrapper_divs(text: str, rng: random.Random) -> str:
    """Extra wrappers around the body container and the title, and empty divs between
    body paragraphs."""
    start, _, _, end = _body_span(text)
    wrapper = f'<div class="wrap_{rng.randrange(99)}">'
    text = f"{text[:start]}{wrapper}{text[start:end]}</div>{text[end:]}"
    text = re.sub(r"<h1\b[^>]*>.*?</h1>", lambda match: f'<div class="title_box">{match[0]}</div>',
                  text, count=1, flags=re.DOTALL)
    fillers = ['<div class="clearfix"></div>', "<div></div>", '<div class="ad"><span></span></div>']
    return _map_body(text, lambda inner: re.sub(
        r"</p>", lambda match: match[0] + (rng.choice(fillers) if rng.random() < 0.3 else ""),
        inner))


def date_with_space(text: str, rng: random.Random) -> str:
    """``2020年10月19日14:37`` becomes ``2020年10月19日 14:37``."""
    changed = re.sub(r"(\d{4}年\d{1,2}月\d{1,2}日)(\d{1,2}:\d{2})",
                     lambda match: match[1] + rng.choice([" ", "  ", "&nbsp;", "\n  "]) + match[2],
                     text, count=1)
    assert changed != text, "no dateline"
    return changed


COMMENTS = (
    "<!--enpcontent-->", "<!--/enpcontent-->", "<!---->", "<!-- </div></div> -->",
    '<!-- <div class="edit">(责编：某某)</div> -->', "<!-- <p>已删除的段落</p> -->",
    '<!--[if lt IE 9]><script src="/html5.js"></script><![endif]-->',
)
_COMMENT_SPOT = re.compile(r"</?(?:p|div|h1|h3|h4|span|a|strong|ul|li)\b[^>]*>", re.IGNORECASE)
_BETWEEN_HAN = re.compile(r"(?<=[\u4e00-\u9fff])(?=[\u4e00-\u9fff])")


def comments(text: str, rng: random.Random) -> str:
    """Comments, some holding markup, after tags and between characters of the body."""
    spots = [match.end() for match in _COMMENT_SPOT.finditer(text)]
    _, inner_start, inner_end, _ = _body_span(text)
    inside = [inner_start + match.start()
              for match in _BETWEEN_HAN.finditer(text[inner_start:inner_end])]
    chosen = rng.sample(spots, min(len(spots), 12)) + rng.sample(inside, min(len(inside), 6))
    for spot in sorted(chosen, reverse=True):
        text = text[:spot] + rng.choice(COMMENTS) + text[spot:]
    return text


_TAG = re.compile(
    r"<(?P<name>[a-zA-Z][a-zA-Z0-9]*)"
    r"(?P<attrs>(?:\s+[^\s=<>/\"']+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*)"
    r"\s*(?P<slash>/?)>"
)
_ATTR = re.compile(
    r"\s+(?P<name>[^\s=<>/\"']+)(?:\s*=\s*(?P<value>\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?"
)
_RAW_TEXT = re.compile(r"(<(script|style|title)\b.*?</\2\s*>)", re.IGNORECASE | re.DOTALL)
_UNQUOTABLE = re.compile(r"^[^\s\"'=<>`]+$")


def _attribute(name: str, value: str | None, rng: random.Random) -> str:
    name = rng.choice([name.lower(), name.upper()])
    if value is None:
        return name
    if value[:1] in "\"'":
        value = value[1:-1]
    if name.lower() == "class" and value.split():
        tokens = value.split()
        rng.shuffle(tokens)
        value = rng.choice([" ", "  "]).join(tokens)
    quotes = [q for q in ('"', "'") if q not in value]
    if _UNQUOTABLE.match(value):
        quotes.append("")
    quote = rng.choice(quotes)
    return f"{name}{rng.choice(['=', ' = '])}{quote}{value}{quote}"


def _restyle_tag(match: re.Match[str], rng: random.Random) -> str:
    attributes = [(a["name"], a["value"]) for a in _ATTR.finditer(match["attrs"])]
    rng.shuffle(attributes)
    name = rng.choice([str.lower, str.upper, str.title])(match["name"])
    parts = [rng.choice([" ", "\n\t", "  "]) + _attribute(n, v, rng) for n, v in attributes]
    slash = rng.choice([" />", "/>"]) if match["slash"] else ""
    if slash == "/>" and parts and not parts[-1].endswith(("\"", "'")):
        slash = " />"  # an unquoted value would swallow the slash
    return f"<{name}{''.join(parts)}{slash or rng.choice(['>', ' >'])}"


def attribute_style(text: str, rng: random.Random) -> str:
    """Tag and attribute names in random case, attributes (and class names) in random
    order, values double-, single- or unquoted."""
    pieces = _RAW_TEXT.split(text)
    out = []
    for index, piece in enumerate(pieces):
        if index % 3 == 2:  # the tag name captured by the split
            continue
        if index % 3 == 1:  # script, style or title: only the opening tag changes
            out.append(_TAG.sub(lambda match: _restyle_tag(match, rng), piece, count=1))
            continue
        piece = _TAG.sub(lambda match: _restyle_tag(match, rng), piece)
        out.append(re.sub(r"</([a-zA-Z][a-zA-Z0-9]*)\s*>",
                          lambda match: f"</{rng.choice([str.lower, str.upper])(match[1])}>",
                          piece))
    return "".join(out)


class Drift(NamedTuple):
    name: str
    apply: Callable[[str, random.Random], str]

    def __repr__(self) -> str:
        return self.name


#: in the order they apply: structure first, then comments, then how the tags are spelt
DRIFTS = tuple(Drift(f.__name__, f) for f in (
    editor_in_paragraph, br_paragraphs, nested_body, wrapper_divs, date_with_space,
    comments, attribute_style,
))


def drifted(text: str, drifts: list[Drift], seed: int) -> str:
    rng = random.Random(seed)
    for drift in sorted(drifts, key=DRIFTS.index):
        text = drift.apply(text, rng)
    return text


# --- encodings and how they are declared ----------------------------------------------

LABELS = {
    "utf-8": ("utf-8", "UTF-8", "utf8"),
    "gb18030": ("GB2312", "gb2312", "GBK", "gb18030"),
    "big5hkscs": ("big5", "BIG5", "big5-hkscs"),
}
MODES = ("meta", "header", "header-over-stale-meta", "bom", "undeclared", "utf8-declared-gb2312")
_CHARSET_META = re.compile(r"<meta\b[^>]*charset[^>]*>", re.IGNORECASE)
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


def _with_meta(text: str, label: str | None, rng: random.Random) -> str:
    text = _CHARSET_META.sub("", text)
    if label is None:
        return text
    meta = rng.choice([f'<meta charset="{label}">',
                       f'<meta http-equiv="Content-Type" content="text/html; charset={label}" />'])
    head = _HEAD.search(text)
    assert head is not None, "no <head>"
    return text[:head.end()] + meta + text[head.end():]


def _header(label: str, rng: random.Random) -> str:
    return rng.choice([f"text/html; charset={label}", f"text/html;charset={label}",
                       f'text/html; charset="{label}"'])


def encoded(text: str, encoding: str, mode: str, seed: int) -> tuple[bytes, str | None]:
    """``text`` as bytes in ``encoding``, declared per ``mode``; ``(body, Content-Type)``.
    Characters the encoding lacks become character references, as browsers send them."""
    rng = random.Random(seed)
    label = rng.choice(LABELS[encoding])
    bare = rng.choice([None, "text/html"])
    content_type: str | None
    if mode == "meta":
        text, content_type = _with_meta(text, label, rng), bare
    elif mode == "header":
        text, content_type = _with_meta(text, None, rng), _header(label, rng)
    elif mode == "header-over-stale-meta":
        stale = rng.choice([other for key, labels in LABELS.items() if key != encoding
                            for other in labels])
        text, content_type = _with_meta(text, stale, rng), _header(label, rng)
    elif mode == "undeclared":
        text, content_type = _with_meta(text, None, rng), bare
    elif mode == "bom":  # UTF-8 only, with a stale <meta> or none
        text, content_type = _with_meta(text, rng.choice(["GB2312", None]), rng), bare
    else:  # utf8-declared-gb2312: a UTF-8 page whose <meta> (and maybe header) says GB2312
        text = _with_meta(text, "GB2312", rng)
        content_type = rng.choice([bare, "text/html; charset=GB2312"])
    body = text.encode(encoding, errors="xmlcharrefreplace")
    return (b"\xef\xbb\xbf" + body if mode == "bom" else body), content_type


def _modes_for(encoding: str) -> tuple[str, ...]:
    if encoding == "utf-8":
        return MODES
    # BIG5 bytes also decode as GB18030 without error: undeclared, the byte check cannot
    # tell them apart (the BIG5 edition declares its charset).
    excluded = {"bom", "utf8-declared-gb2312"} | ({"undeclared"} if encoding == "big5hkscs"
                                                  else set())
    return tuple(mode for mode in MODES if mode not in excluded)


@st.composite
def encodings(draw: st.DrawFn) -> tuple[str, str, int]:
    encoding = draw(st.sampled_from(sorted(LABELS)))
    return encoding, draw(st.sampled_from(_modes_for(encoding))), draw(st.integers(0, 2**16))


pages = st.sampled_from(PAGES)
drift_sets = st.lists(st.sampled_from(DRIFTS), min_size=1, unique=True)
seeds = st.integers(0, 2**32 - 1)


def assert_parses_to_expected(page: ReferencePage, body: bytes, content_type: str | None) -> None:
    parsed = parse_document(body, page.url, content_type)
    assert parsed.record == page.expected
    assert parsed.extractor != "fallback"


# --- the properties -----------------------------------------------------------------


@settings(SETTINGS, max_examples=60)
@given(page=pages, drifts=drift_sets, seed=seeds)
def test_markup_drift_keeps_the_record(page: ReferencePage, drifts: list[Drift], seed: int
                                       ) -> None:
    text = drifted(page.text(), drifts, seed)
    note(text)
    assert_parses_to_expected(page, text.encode("utf-8"), "text/html; charset=utf-8")


@settings(SETTINGS, max_examples=40)
@given(page=pages, encoding=encodings())
def test_encoding_drift_keeps_the_record(page: ReferencePage, encoding: tuple[str, str, int]
                                         ) -> None:
    body, content_type = encoded(page.text(), *encoding)
    note(f"Content-Type: {content_type}")
    assert_parses_to_expected(page, body, content_type)


@settings(SETTINGS, max_examples=60)
@given(page=pages, drifts=drift_sets, seed=seeds, encoding=encodings())
def test_markup_and_encoding_drift_together_keep_the_record(
    page: ReferencePage, drifts: list[Drift], seed: int, encoding: tuple[str, str, int]
) -> None:
    body, content_type = encoded(drifted(page.text(), drifts, seed), *encoding)
    note(f"Content-Type: {content_type}")
    assert_parses_to_expected(page, body, content_type)


@settings(SETTINGS, max_examples=40)
@given(page=pages, drifts=drift_sets, seed=seeds, encoding=encodings(),
       fraction=st.floats(0.0, 1.0, exclude_max=True))
def test_drifted_page_cut_before_its_end_is_an_extraction_error(
    page: ReferencePage, drifts: list[Drift], seed: int, encoding: tuple[str, str, int],
    fraction: float,
) -> None:
    """Cut anywhere from just after the first ``<`` (less is no markup at all: refused as
    not an article) to just before ``</body>``."""
    body, content_type = encoded(drifted(page.text(), drifts, seed), *encoding)
    start, end = body.index(b"<") + 1, body.lower().rindex(b"</body")
    with pytest.raises(ExtractionError):
        parse_document(body[:start + int(fraction * (end - start))], page.url, content_type)


# --- every drift and every declaration alone, on every page ------------------------


@pytest.mark.parametrize("drift", DRIFTS, ids=repr)
@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.id)
def test_each_drift_alone(page: ReferencePage, drift: Drift) -> None:
    text = drifted(page.text(), [drift], seed=20201019)
    assert text != page.text()
    assert_parses_to_expected(page, text.encode("utf-8"), "text/html; charset=utf-8")


@pytest.mark.parametrize(("encoding", "mode"), [(encoding, mode) for encoding in sorted(LABELS)
                                                for mode in _modes_for(encoding)])
@pytest.mark.parametrize("page", ARTICLES, ids=lambda page: page.id)
def test_each_declaration_alone(page: ReferencePage, encoding: str, mode: str) -> None:
    assert_parses_to_expected(page, *encoded(page.text(), encoding, mode, seed=1))
