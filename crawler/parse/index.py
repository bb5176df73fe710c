"""Find tags by simple CSS selectors through one index of the page.

soupsieve walks the whole tree for every query, which made selector look-ups
half the parse time; the templates only need ``tag#id.class`` compounds joined by
descendant spaces, so one pass builds an index by id, class and tag name and
each look-up touches only its candidates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from bs4 import BeautifulSoup, Tag

_COMPOUND = re.compile(r"^(?P<name>[a-z][a-z0-9]*)?(?P<rest>(?:[#.][\w-]+)*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Compound:
    name: str | None
    id: str | None
    classes: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> Compound:
        match = _COMPOUND.match(text)
        if not match:
            raise ValueError(f"unsupported selector part {text!r}")
        parts = re.findall(r"([#.])([\w-]+)", match["rest"])
        ids = [value for kind, value in parts if kind == "#"]
        return cls(
            name=match["name"].lower() if match["name"] else None,
            id=ids[0] if ids else None,
            classes=frozenset(value for kind, value in parts if kind == "."),
        )

    def matches(self, tag: Tag) -> bool:
        if self.name and tag.name != self.name:
            return False
        if self.id and tag.get("id") != self.id:
            return False
        return not self.classes or self.classes.issubset(tag.get("class") or ())


@lru_cache(maxsize=256)
def _compile(selector: str) -> list[list[Compound]]:
    return [[Compound.parse(part) for part in group.split()] for group in selector.split(",")]


class PageIndex:
    def __init__(self, soup: BeautifulSoup, tags: Iterable[Tag] | None = None) -> None:
        """The index of ``soup``, whose ``tags`` in document order may be known
        already (soup.py lists them as it builds the tree)."""
        self.soup = soup
        self._by_id: dict[str, list[Tag]] = {}
        self._by_class: dict[str, list[Tag]] = {}
        self._by_name: dict[str, list[Tag]] = {}
        for tag in soup.find_all(True) if tags is None else tags:
            self._by_name.setdefault(tag.name, []).append(tag)
            tag_id = tag.get("id")
            if tag_id:
                self._by_id.setdefault(str(tag_id), []).append(tag)
            for name in tag.get("class") or ():
                self._by_class.setdefault(name, []).append(tag)

    def _candidates(self, last: Compound) -> Iterable[Tag]:
        if last.id:
            return self._by_id.get(last.id, ())
        if last.classes:
            return self._by_class.get(next(iter(last.classes)), ())
        return self._by_name.get(last.name or "", ())

    def select(self, selector: str, scope: Tag | None = None) -> list[Tag]:
        """Tags matching ``selector`` (descendant combinators, comma groups), in document
        order per group, inside ``scope`` when given; detached tags are skipped."""
        groups = _compile(selector)
        found: list[Tag] = []
        seen: set[int] = set()
        for compounds in groups:
            *ancestors, last = compounds
            for tag in self._candidates(last):
                if (
                    id(tag) not in seen
                    and last.matches(tag)
                    and self._placed(tag, ancestors, scope)
                ):
                    seen.add(id(tag))
                    found.append(tag)
        return found

    def first(self, selector: str, scope: Tag | None = None) -> Tag | None:
        for group in selector.split(","):
            matches = self.select(group.strip(), scope)
            if matches:
                return matches[0]
        return None

    def _placed(self, tag: Tag, ancestors: list[Compound], scope: Tag | None) -> bool:
        """Is ``tag`` still in the tree, inside ``scope``, below ``ancestors`` in order?"""
        pending = list(ancestors)
        in_scope = scope is None
        node = tag.parent
        while node is not None:
            if pending and pending[-1].matches(node):
                pending.pop()
            if node is scope:
                in_scope = True
            if isinstance(node, BeautifulSoup):
                return in_scope and not pending
            node = node.parent
        return False  # detached: extracted with an ancestor
