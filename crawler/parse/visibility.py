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
from dataclasses import dataclass
from functools import lru_cache

import tinycss2
from cssselect import HTMLTranslator, SelectorError
from cssselect.xpath import ExpressionError
from lxml import etree

_INLINE_HIDDEN = re.compile(
    r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse))\s*(?:!important\s*)?(?:;|$)",
    re.IGNORECASE,
)
_INLINE_DISPLAY = re.compile(r"(?:^|;)\s*display\s*:\s*(?P<value>[^;!]+)", re.IGNORECASE)
_TRANSLATOR = HTMLTranslator()


@dataclass(frozen=True)
class HidingRule:
    select: etree.XPath
    important: bool


def hidden_inline(element: etree._Element) -> bool:
    """Is ``element`` hidden by its own ``style`` or ``hidden`` attribute?"""
    if element.get("hidden") is not None:
        return True
    style = element.get("style")
    return bool(style) and _INLINE_HIDDEN.search(style) is not None


def _shown_inline(element: etree._Element) -> bool:
    match = _INLINE_DISPLAY.search(element.get("style") or "")
    return match is not None and match["value"].strip().lower() != "none"


@lru_cache(maxsize=4096)
def _xpath(selector: str) -> etree.XPath | None:
    if not selector or ":" in selector:
        return None
    try:
        return etree.XPath(_TRANSLATOR.css_to_xpath(selector))
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


@lru_cache(maxsize=256)
def hiding_rules(css: str) -> tuple[HidingRule, ...]:
    """The rules of a style sheet that hide what they select."""
    rules: list[HidingRule] = []
    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type != "qualified-rule":
            continue  # @media, @font-face, …: not the page as a desktop reader sees it
        hides, important = _hides(tinycss2.parse_declaration_list(
            rule.content, skip_comments=True, skip_whitespace=True))
        if not hides:
            continue
        # Each selector alone: one the translator cannot read must not drop the rest.
        for selector in tinycss2.serialize(rule.prelude).split(","):
            compiled = _xpath(" ".join(selector.split()))
            if compiled is not None:
                rules.append(HidingRule(compiled, important))
    return tuple(rules)


def hidden_by_style_sheets(root: etree._Element) -> set[etree._Element]:
    """Elements that a rule of the page's own ``<style>`` blocks hides."""
    css = "\n".join(style.text or "" for style in root.iter("style"))
    hidden: set[etree._Element] = set()
    if "none" not in css and "hidden" not in css and "collapse" not in css:
        return hidden
    for rule in hiding_rules(css):
        for element in rule.select(root):
            if isinstance(element, etree._Element) and (
                    rule.important or not _shown_inline(element)):
                hidden.add(element)
    return hidden
