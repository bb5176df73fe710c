"""What the spider hands to the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archive.store import FetchedPage


@dataclass
class ParsedPageResult:
    """A fetched article page and its parse."""

    fetched: FetchedPage
    record: dict[str, Any]


@dataclass
class ArticleItem:
    """Every page of one article, per edition ("gb", "big5"), ready to merge."""

    article_id: str
    column_id: str
    editions: dict[str, list[ParsedPageResult]] = field(default_factory=dict)


@dataclass
class FailureItem:
    url: str
    stage: str  # "fetch", "parse" or "store"
    reason: str
    http_status: int | None = None
    article_id: str | None = None
    column_id: str | None = None


@dataclass
class ListPageItem:
    column_id: str
    fetched: FetchedPage
