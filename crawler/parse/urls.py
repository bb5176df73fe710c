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
#: the last publication day a URL without a date can have: the dated URLs began in 2013
LAST_UNDATED_DAY = "2012-12-31"
# Before 2013 an article lived under its column's folder, in either script's tree:
# /GB/{column}/{id}.html and /BIG5/{column}/{id}.html (sub-columns nest folders).
OLD_ARTICLE_URL = re.compile(
    r"^https?://(?P<host>[a-z0-9.-]+\.people\.com\.cn)"
    r"/(?P<tree>GB|BIG5)/(?:\d+/)*(?P<column>\d+)/(?P<article_id>\d{5,})"
    r"(?:-(?P<page>\d+))?\.html?$",
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
    #: the publication year and day (YYYY-MM-DD) the URL carries; None for the
    #: URLs before 2013, which carry none
    year: int | None
    date: str | None

    def page_url(self, page: int) -> str:
        """The URL of page ``page`` of the same article in the same edition."""
        stem = self.url[: self.url.rindex(self.article_id) + len(self.article_id)]
        extension = self.url[self.url.rindex("."):]
        return f"{stem}{extension}" if page == 1 else f"{stem}-{page}{extension}"

    def in_edition(self, edition: str) -> str:
        """The same page in the other script's edition."""
        prefix = f"http://{self.host}" if self.url.startswith("http:") else f"https://{self.host}"
        path = self.url[len(prefix):]
        if OLD_ARTICLE_URL.match(self.url):
            rest = path.split("/", 2)[2]
            return f"{prefix}/{'BIG5' if edition == 'big5' else 'GB'}/{rest}"
        if path.upper().startswith("/BIG5/"):
            path = path[len("/BIG5"):]
        return prefix + ("/BIG5" + path if edition == "big5" else path)


def parse_article_url(url: str) -> ArticleUrl | None:
    url = url.strip()
    match = ARTICLE_URL.match(url)
    if match:
        return ArticleUrl(
            url=url,
            host=match["host"].lower(),
            article_id=match["article_id"],
            column_id=match["column"],
            edition="big5" if match["big5"] else "gb",
            page=int(match["page"] or 1),
            year=int(match["year"]),
            date=f"{match['year']}-{match['mmdd'][:2]}-{match['mmdd'][2:]}",
        )
    old = OLD_ARTICLE_URL.match(url)
    if old:
        return ArticleUrl(
            url=url,
            host=old["host"].lower(),
            article_id=old["article_id"],
            column_id=old["column"],
            edition="big5" if old["tree"].upper() == "BIG5" else "gb",
            page=int(old["page"] or 1),
            year=None,
            date=None,
        )
    return None


def parse_list_url(url: str) -> tuple[str, int] | None:
    """``(column_id, page)`` of a column list page URL, else None."""
    match = LIST_URL.match(url.strip())
    if not match:
        return None
    return match["column"], int(match["page"] or 1)
