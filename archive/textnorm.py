"""Search normalisation: one form for both scripts, and the terms the index holds.

Text and queries go through the same two steps, so that matching tokens means
matching substrings of the normalised text:

1. ``normalise``: NFKC (full-width forms fold), traditional → simplified with
   OpenCC, lower case, and everything that is not a letter or digit becomes a
   space. Conversion is per character so that offsets in the original text map
   one to one for snippets (phrase-level OpenCC rules would shift them).
2. ``index_terms``: Chinese has no spaces, so each run of letters and digits becomes
   its overlapping character bigrams (as Lucene's CJK analyzer does) plus its last
   character alone. Every character of the text then starts exactly one term (the
   bigram it begins, or the run-final unigram), so a one-character query is the
   prefix query ``c*``, and a run of n characters occupies exactly n positions.

``fold_with_offsets`` is the per-character fold with, for each folded character,
the offset of the original character it came from: how a hit found in normalised
text is located in the original (snippets).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from operator import add

from opencc import OpenCC

_SPACES = re.compile(r"\s+")


@cache
def _t2s() -> OpenCC:
    """The converter, made when first needed: reading its dictionaries takes 2–3 ms
    that ``pdarchive stats``, which folds no text, need not spend."""
    return OpenCC("t2s")


class _CharFold(dict[int, str]):
    """``str.translate`` table computed on first sight of each character."""

    def __init__(self) -> None:
        super().__init__()
        #: characters that do not fold to exactly one character (NFKC expansions)
        self.irregular: set[str] = set()

    def __missing__(self, codepoint: int) -> str:
        folded = unicodedata.normalize("NFKC", chr(codepoint))
        folded = _t2s().convert(folded).lower()
        value = "".join(char if char.isalnum() else " " for char in folded)
        self[codepoint] = value
        if len(value) != 1:
            self.irregular.add(chr(codepoint))
        return value


_FOLD = _CharFold()


def normalise(text: str) -> str:
    return _SPACES.sub(" ", text.translate(_FOLD)).strip()


def fold_with_offsets(text: str) -> tuple[str, list[int] | None]:
    """``text`` folded character by character (not collapsed, not stripped), and the
    offset in ``text`` of each folded character: None when that is the identity,
    which it is unless some character expands (``㍿`` → ``株式会社``)."""
    folded = text.translate(_FOLD)
    if not any(char in text for char in _FOLD.irregular):
        return folded, None
    offsets = [index for index, char in enumerate(text) for _ in _FOLD[ord(char)]]
    return folded, offsets


def run_terms(run: str) -> list[str]:
    """Index terms of one run of letters and digits: bigrams, then the last character."""
    if len(run) == 1:
        return [run]
    return [*map(add, run, run[1:]), run[-1]]


def index_terms(normalised: str) -> str:
    """The space-separated index terms of already normalised text."""
    return " ".join(" ".join(run_terms(run)) for run in normalised.split())


def token_count(normalised: str) -> int:
    """How many index terms ``index_terms(normalised)`` has: one per character."""
    return len(normalised) - normalised.count(" ")
