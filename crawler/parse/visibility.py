"""What the page itself hides from its reader.

A block the page hides is not article text, however it is hidden: an inline
``style="display:none"`` or ``visibility:hidden``, the ``hidden`` attribute, or a
rule of the page's own ``<style>`` blocks (``.rm_txt_con div.otitle{display:none}``
over a reprint's ``原标题：…``). The rules are read with tinycss2 and their
selectors turned into XPath by cssselect, both compiled once per distinct style
sheet: the pages of one template share theirs.

What is left out on purpose: rules inside ``@media`` (a phone's layout, not the
page as read), selectors with pseudo-classes (``:hover`` hides until a pointer
comes, not for reading), and external style sheets (never fetched: a parser has
no network). An inline ``display`` other than ``none`` wins over a rule of the
sheet, as in a browser, unless the rule is ``!important``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache

import cssselect
import tinycss2
from cssselect import HTMLTranslator, SelectorError
from cssselect.xpath import ExpressionError
from lxml import etree

_INLINE_HIDDEN = re.compile(
    r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse))\s*"
    r"(?:!important\s*)?(?:;|$)",
    re.IGNORECASE,
)
_INLINE_DISPLAY = re.compile(r"(?:^|;)\s*display\s*:\s*(?P<value>[^;!]+)", re.IGNORECASE)
_TRANSLATOR = HTMLTranslator()


@dataclass(frozen=True)
class Compound:
    """One ``tag#id.class`` step of a selector."""

    name: str | None
    id: str | None
    classes: frozenset[str]

    def matches(self, element: etree._Element) -> bool:
        if self.name and element.tag != self.name:
            return False
        if self.id and element.get("id") != self.id:
            return False
        return not self.classes or self.classes.issubset((element.get("class") or "").split())


@dataclass(frozen=True)
class HidingRule:
    """A rule that hides what it selects: as a descendant chain of compounds (the
    common case, matched in Python while the page is walked), or as XPath for the
    selectors a chain cannot say (``>``, ``+``, attributes), evaluated on the page."""

    chain: tuple[Compound, ...] | None
    select: etree.XPath | None
    important: bool

    def matches(self, element: etree._Element) -> bool:
        assert self.chain is not None
        *ancestors, subject = self.chain
        if not subject.matches(element):
            return False
        pending = list(ancestors)
        node = element.getparent()
        while pending and node is not None:
            if pending[-1].matches(node):
                pending.pop()
            node = node.getparent()
        return not pending


@dataclass(frozen=True)
class StyleSheet:
    """The hiding rules of a page, indexed by what their subject names."""

    by_key: dict[str, tuple[HidingRule, ...]]
    by_xpath: tuple[HidingRule, ...]

    def candidates(self, element: etree._Element) -> Iterable[HidingRule]:
        yield from self.by_key.get(f"<{element.tag}", ())
        element_id = element.get("id")
        if element_id:
            yield from self.by_key.get(f"#{element_id}", ())
        for name in (element.get("class") or "").split():
            yield from self.by_key.get(f".{name}", ())


def hidden_inline(element: etree._Element) -> bool:
    """Is ``element`` hidden by its own ``style`` or ``hidden`` attribute?"""
    if element.get("hidden") is not None:
        return True
    style = element.get("style")
    return bool(style) and _INLINE_HIDDEN.search(style) is not None


def _shown_inline(element: etree._Element) -> bool:
    match = _INLINE_DISPLAY.search(element.get("style") or "")
    return match is not None and match["value"].strip().lower() != "none"


def _compound(tree: object) -> Compound | None:
    classes: list[str] = []
    element_id: str | None = None
    while not isinstance(tree, cssselect.parser.Element):
        if isinstance(tree, cssselect.parser.Class):
            classes.append(tree.class_name)
        elif isinstance(tree, cssselect.parser.Hash):
            element_id = tree.id
        else:
            return None
        tree = tree.selector
    name = tree.element.lower() if tree.element and tree.element != "*" else None
    return Compound(name, element_id, frozenset(classes))


def _chain(selector: str) -> tuple[Compound, ...] | None:
    """The selector as a descendant chain of compounds, or None when it is more."""
    try:
        (parsed,) = cssselect.parse(selector)
    except (SelectorError, ValueError):
        return None
    if parsed.pseudo_element is not None:
        return None
    steps: list[Compound] = []
    tree = parsed.parsed_tree
    while isinstance(tree, cssselect.parser.CombinedSelector):
        if tree.combinator != " ":
            return None
        step = _compound(tree.subselector)
        if step is None:
            return None
        steps.append(step)
        tree = tree.selector
    first = _compound(tree)
    if first is None:
        return None
    return (first, *reversed(steps))


def _rule(selector: str, important: bool) -> HidingRule | None:
    if not selector or ":" in selector:
        return None  # pseudo-classes hide on interaction, not for reading
    chain = _chain(selector)
    if chain is not None:
        return HidingRule(chain, None, important)
    try:
        return HidingRule(None, etree.XPath(_TRANSLATOR.css_to_xpath(selector)), important)
    except (SelectorError, ExpressionError, etree.XPathSyntaxError):
        return None


def _hides(declarations: list[tinycss2.ast.Node]) -> tuple[bool, bool]:
    """``(hides, important)`` of a rule's declarations."""
    hides = important = False
    for declaration in declarations:
        if declaration.type != "declaration":
            continue
        value = tinycss2.serialize(declaration.value).strip().lower()
        if ((declaration.lower_name == "display" and value == "none")
                or (declaration.lower_name == "visibility" and value in ("hidden", "collapse"))):
            hides = True
            important = important or declaration.important
    return hides, important


def _key(rule: HidingRule) -> str:
    assert rule.chain is not None
    subject = rule.chain[-1]
    if subject.id:
        return f"#{subject.id}"
    if subject.classes:
        return f".{min(subject.classes)}"
    return f"<{subject.name}" if subject.name else "<*"


@lru_cache(maxsize=256)
def style_sheet(css: str) -> StyleSheet:
    """The rules of a style sheet that hide what they select."""
    by_key: dict[str, list[HidingRule]] = {}
    by_xpath: list[HidingRule] = []
    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type != "qualified-rule":
            continue  # @media, @font-face, …: not the page as a desktop reader sees it
        hides, important = _hides(tinycss2.parse_declaration_list(
            rule.content, skip_comments=True, skip_whitespace=True))
        if not hides:
            continue
        # Each selector alone: one that cannot be read must not drop the rest.
        for selector in tinycss2.serialize(rule.prelude).split(","):
            compiled = _rule(" ".join(selector.split()), important)
            if compiled is None:
                continue
            if compiled.chain is None:
                by_xpath.append(compiled)
            else:
                by_key.setdefault(_key(compiled), []).append(compiled)
    return StyleSheet({key: tuple(rules) for key, rules in by_key.items()}, tuple(by_xpath))


def hidden_in(root: etree._Element, scopes: list[etree._Element],
              keep: Collection[etree._Element]) -> list[etree._Element]:
    """The elements inside ``scopes``, but not in ``keep``, that the page hides: by
    their own ``style`` or ``hidden`` attribute, or by a rule of the page's own
    ``<style>`` blocks that no inline ``display`` overrides. In document order, in
    one pass over the scopes."""
    css = "\n".join(style.text or "" for style in root.iter("style"))
    sheet = (style_sheet(css) if "none" in css or "hidden" in css or "collapse" in css
             else StyleSheet({}, ()))
    by_xpath: set[etree._Element] = set()
    for rule in sheet.by_xpath:
        assert rule.select is not None
        for element in rule.select(root):
            if isinstance(element, etree._Element) and (
                    rule.important or not _shown_inline(element)):
                by_xpath.add(element)
    wildcard = sheet.by_key.get("<*", ())
    hidden: list[etree._Element] = []
    for scope in scopes:
        for element in scope.iterdescendants(etree.Element):
            if element in keep:
                continue
            if hidden_inline(element) or element in by_xpath or (sheet.by_key and any(
                    rule.matches(element) and (rule.important or not _shown_inline(element))
                    for rule in (*sheet.candidates(element), *wildcard))):
                hidden.append(element)
    return hidden
