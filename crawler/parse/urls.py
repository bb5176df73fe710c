"""What a people.com.cn URL says: article id, column, edition, page number."""

from __future__ import annotations

import re
from dataclasses import dataclass

ARTICLE_URL = re.compile(
    r"^https?://(?P<host>[a-z0-9.-]+\.people\.com\.cn)"
    r"(?P<big5>/BIG5)?"
    r"/(?P<series>n1|n2|n)/(?P<year>\d{4})/(?P<mmdd>\d{4})/"
    r"c(?P<column>\d+)-(?P<article_id>\d+)(?:-(?P<page>\d+))?\.html?$",
    re.IGNORECASE,
)

LIST_URL = re.compile(
    r"^https?://(?P<host>[a-z0-9.-]+\.people\.com\.cn)(?P<big5>/BIG5)?"
    r"/GB/(?P<column>\d+)/(?:index(?P<page>\d*)\.html)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ArticleUrl:
    url: str
    host: str
    article_id: str
    column_id: str
    edition: str  # "gb" or "big5"
    page: int
    year: int
    #: the publication day the URL carries, YYYY-MM-DD
    date: str

    def page_url(self, page: int) -> str:
        """The URL of page ``page`` of the same article in the same edition."""
        stem = self.url[: self.url.rindex(f"-{self.article_id}") + len(self.article_id) + 1]
        return f"{stem}.html" if page == 1 else f"{stem}-{page}.html"

    def in_edition(self, edition: str) -> str:
        """The same page in the other script's edition."""
        prefix = f"http://{self.host}" if self.url.startswith("http:") else f"https://{self.host}"
        path = self.url[len(prefix):]
        if path.upper().startswith("/BIG5/"):
            path = path[len("/BIG5"):]
        return prefix + ("/BIG5" + path if edition == "big5" else path)


def parse_article_url(url: str) -> ArticleUrl | None:
    match = ARTICLE_URL.match(url.strip())
    if not match:
        return None
    return ArticleUrl(
        url=url.strip(),
        host=match["host"].lower(),
        article_id=match["article_id"],
        column_id=match["column"],
        edition="big5" if match["big5"] else "gb",
        page=int(match["page"] or 1),
        year=int(match["year"]),
        date=f"{match['year']}-{match['mmdd'][:2]}-{match['mmdd'][2:]}",
    )


def parse_list_url(url: str) -> tuple[str, int] | None:
    """``(column_id, page)`` of a column list page URL, else None."""
    match = LIST_URL.match(url.strip())
    if not match:
        return None
    return match["column"], int(match["page"] or 1)
