"""Search normalisation: one form for both scripts, and the terms the index holds.

Text and queries go through the same two steps, so that matching tokens means
matching substrings of the normalised text:

1. ``normalise``: NFKC (full-width forms fold), traditional → simplified with
   OpenCC, lower case, and everything that is not a letter or digit becomes a
   space. Conversion is per character so that offsets in the original text map
   one to one for snippets (phrase-level OpenCC rules would shift them).
2. ``terms``: Chinese has no spaces, so each run of letters and digits becomes its
   overlapping character bigrams (as Lucene's CJK analyzer does) plus its last
   character alone, so that a one-character query can match as a prefix.
"""

from __future__ import annotations

import re
import unicodedata
from operator import add

from opencc import OpenCC

_T2S = OpenCC("t2s")
_SPACES = re.compile(r"\s+")


class _CharFold(dict[int, str]):
    """``str.translate`` table computed on first sight of each character."""

    def __missing__(self, codepoint: int) -> str:
        folded = unicodedata.normalize("NFKC", chr(codepoint))
        folded = _T2S.convert(folded).lower()
        value = "".join(char if char.isalnum() else " " for char in folded)
        self[codepoint] = value
        return value


_FOLD = _CharFold()


def fold_char(char: str) -> str:
    """The normalised form of one character (may be a space or several characters)."""
    return _FOLD[ord(char)]


def normalise(text: str) -> str:
    return _SPACES.sub(" ", text.translate(_FOLD)).strip()


def run_terms(run: str) -> list[str]:
    """Index terms of one run of letters and digits: bigrams, then the last character."""
    if len(run) == 1:
        return [run]
    return [*map(add, run, run[1:]), run[-1]]


def terms(text: str) -> str:
    """The space-separated index terms of ``text`` (normalised here)."""
    return " ".join(" ".join(run_terms(run)) for run in normalise(text).split())
