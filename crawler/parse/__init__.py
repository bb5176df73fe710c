"""Extraction: a pure function of a page's bytes, URL and Content-Type.

No network, no database: ``parse_page`` returns the article-page record (the public
contract, docs/ARCHITECTURE.md "The record") or raises ``NotAnArticle`` (its kinds
``Blocked`` and ``Deleted`` included) / ``ExtractionError`` with a reason. How a page
goes from bytes to record: docs/ARCHITECTURE.md "crawler/parse/".
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
