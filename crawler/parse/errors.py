"""Typed refusals of the parser: every page either parses whole or says why not."""


class ParseRefused(Exception):
    """Base class: the page was not turned into an article record."""

    kind = "refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotAnArticle(ParseRefused):
    """The page is not an article: a list page, an error page, empty or binary bytes."""

    kind = "not_an_article"


class ExtractionError(ParseRefused):
    """The page looks like an article but a required field could not be extracted
    (a truncated page, a template whose body went missing after a layout change)."""

    kind = "extraction_error"


class Blocked(NotAnArticle):
    """The site refused to serve the page: a block, ban, rate-limit or captcha page,
    whatever HTTP status it came with. Never an article; retried later."""

    kind = "blocked"


class Deleted(NotAnArticle):
    """The site says the article was deleted or withdrawn ("该文章已删除")."""

    kind = "deleted"
