"""The page templates of people.com.cn and where each puts every field.

Selectors name classes and ids only (never positions), so extra wrapper divs,
attribute order, case and quoting do not matter.
"""

from __future__ import annotations

from dataclasses import dataclass

from bs4 import Tag

from .index import PageIndex


@dataclass(frozen=True)
class Template:
    name: str
    #: containers of the title block, tried in order; None: the whole page
    header: tuple[str, ...]
    title: str
    pretitle: str | None
    subtitle: str | None
    author: str | None
    dateline: tuple[str, ...]
    #: where "来源：…" stands when it is not in the dateline
    source: tuple[str, ...]
    body: tuple[str, ...]


@dataclass
class TemplateMatch:
    template: Template
    index: PageIndex
    #: the title block's container; None when the template has none (the whole page)
    header: Tag | None
    title: Tag
    body: Tag

    def first(self, selectors: tuple[str, ...], scope: Tag | None = None) -> Tag | None:
        """The first node matching one of ``selectors``, tried in order, within ``scope``."""
        for selector in selectors:
            found = self.index.first(selector, scope)
            if found is not None:
                return found
        return None

    def in_header(self, selector: str | None) -> Tag | None:
        return self.index.first(selector, self.header) if selector else None


TEMPLATES: tuple[Template, ...] = (
    Template(
        name="text_title",  # 2016–2021
        header=(".text_title",),
        title="h1",
        pretitle=".pre",
        subtitle=".sub",
        author=".author",
        dateline=(".box01 .fl", ".box01"),
        source=(),
        body=("#rwb_zw", ".box_con"),
    ),
    Template(
        name="rm_txt",  # 2021 on
        header=(".col-1", ".rm_txt"),
        title="h1",
        pretitle=".pre",
        subtitle=".sub",
        author=".author",
        dateline=(".col-1-1", ".channel"),
        source=(),
        body=(".rm_txt_con", "#rm_txt_zw"),
    ),
    Template(
        name="p_",  # before 2016
        header=(),
        title="#p_title",
        pretitle=None,
        subtitle=None,
        author=None,
        dateline=("#p_publishtime",),
        source=("#p_origin",),
        body=("#p_content",),
    ),
    Template(
        name="channel_2016",  # older channel layouts still served (health, 2016 on)
        header=(".articleCont",),
        title=".title h2",
        pretitle=".title h4",
        subtitle=".title h3",
        author=".title p",
        dateline=(".artOri",),
        source=(),
        body=(".artDet",),
    ),
)

# Chrome that can sit inside a body container and is never article text.
BODY_CHROME = (
    ".zdfy, .page_n, #p_pager, .edit, #p_editor, .share, #ops_share, .fx, .box_read, "
    "#rwb_tjyd, .rm_relevant, .box_down, .message, .editor"
)
PAGERS = (".zdfy", ".page_n", "#p_pager")
EDITOR_NODES = (".edit", ".editor", "#p_editor")


def match_template(index: PageIndex) -> TemplateMatch | None:
    """The first template whose title and body containers are both on the page."""
    for template in TEMPLATES:
        headers: list[Tag | None] = (
            [node for selector in template.header for node in index.select(selector)]
            if template.header else [None]
        )
        for header in headers:
            title = index.first(template.title, header)
            if title is None:
                continue
            for selector in template.body:
                body = index.first(selector)
                if body is not None:
                    return TemplateMatch(template, index, header, title, body)
    return None
