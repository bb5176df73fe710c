"""Extraction: a pure function of a page's bytes, URL and Content-Type.

No network, no database: ``parse_page`` returns the article-page record defined in
DESIGN.md or raises ``NotAnArticle`` / ``ExtractionError`` with a reason.
"""

from .errors import Blocked, Deleted, ExtractionError, NotAnArticle, ParseRefused
from .page import ParsedPage, parse_document, parse_page

__all__ = [
    "Blocked",
    "Deleted",
    "ExtractionError",
    "NotAnArticle",
    "ParseRefused",
    "ParsedPage",
    "parse_document",
    "parse_page",
]
