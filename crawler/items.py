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
    #: an edition asked for could not be had (other than one the article does not
    #: have): the item may only add a new article, never replace a stored one
    partial: bool = False


@dataclass
class FailureItem:
    """A page that could not be had, recorded under the URL the crawl asked for.

    ``stage`` "fetch", "parse", "list", "store" or "picture" (a picture an article
    shows: never the article's failure); ``kind`` what went wrong, for
    counting and for the run's verdict: "blocked" (HTTP 403/429/503, a block or
    rate-limit page), "deleted", "http", "timeout", "connection", "dns",
    "truncated", "too_large", "robots", "redirect", "not_an_article",
    "extraction_error", "not_a_list", "repeat", "incomplete", "not_a_picture" — and
    "missing_edition", which is no failure but the fact that an article has no page
    in an edition (stage "edition"). ``redirects``: the URLs the request was sent on
    to, in order.
    """

    url: str
    stage: str
    reason: str
    http_status: int | None = None
    article_id: str | None = None
    column_id: str | None = None
    kind: str | None = None
    redirects: list[str] = field(default_factory=list)
    edition: str | None = None


@dataclass
class ListPageItem:
    column_id: str
    fetched: FetchedPage


@dataclass
class PictureItem:
    """A picture an article shows, fetched after the article's pages were parsed
    (``fetched.kind`` "picture", ``fetched.article_id`` the article)."""

    column_id: str | None
    fetched: FetchedPage
