"""Whitespace and Unicode normalisation shared by every extractor."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[\s\u00a0\u3000\u200b\ufeff]+")


def clean(text: str | None) -> str:
    """nbsp and U+3000 become spaces, runs of whitespace collapse, ends are stripped."""
    if not text:
        return ""
    return _SPACES.sub(" ", text).strip()


def nfkc(text: str) -> str:
    """Fold full-width forms (``人民网－江苏频道`` → ``人民网-江苏频道``)."""
    return clean(unicodedata.normalize("NFKC", text))
