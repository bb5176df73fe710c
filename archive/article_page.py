"""The article page of ``pdarchive serve``: an archived row laid out like the original.

``article_view`` turns an ``articles`` row into what the template
``templates/row-archive-articles.html`` shows: the title block, date, source,
people, the body with each image placed where its caption paragraph stands, and
links to the original pages and to the other script's edition.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crawler.parse.urls import parse_article_url

from .export import export_record

EDITION_NAMES = {"gb": "简体版", "big5": "繁體版"}
#: the article page's labels, in each edition's script
LABELS = {
    "gb": {"source": "来源", "editors": "责编", "authors": "作者", "photographers": "摄影",
           "original_title": "原标题", "original": "原文", "pages": "网站上的各页",
           "other": "另一版本", "archived_other": "已存档", "not_archived": "网站上，未存档",
           "first_seen": "首次存档", "fetched": "最近抓取", "version": "第 {} 版",
           "versions": "早期版本", "fields": "全部字段", "more": "同栏目更多文章",
           "home": "首页", "search": "搜索", "captures": "存档副本（网页原样）",
           "picture_missing": "图片未存档"},
    "big5": {"source": "來源", "editors": "責編", "authors": "作者", "photographers": "攝影",
             "original_title": "原標題", "original": "原文", "pages": "網站上的各頁",
             "other": "另一版本", "archived_other": "已存檔", "not_archived": "網站上，未存檔",
             "first_seen": "首次存檔", "fetched": "最近抓取", "version": "第 {} 版",
             "versions": "早期版本", "fields": "全部欄位", "more": "同欄目更多文章",
             "home": "首頁", "search": "搜尋", "captures": "存檔副本（網頁原樣）",
             "picture_missing": "圖片未存檔"},
}


def _published(value: str | None) -> str:
    """``2020-10-19T14:37:00+08:00`` as the site prints it: ``2020年10月19日14:37``."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return f"{moment.year}年{moment.month:02d}月{moment.day:02d}日 {moment:%H:%M}"


def _blocks(body: list[str], images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Paragraphs and figures in reading order.

    The parser keeps an image's caption as a body paragraph where the page shows it,
    so the figure goes in that paragraph's place (its caption becomes the figure
    caption). Images whose caption is not in the body lead the article, as on the
    site, where pictures open the text.
    """
    paragraphs = set(body)
    leading = [image for image in images if image.get("caption") not in paragraphs]
    waiting = [image for image in images if image.get("caption") in paragraphs]
    blocks = [{"kind": "figure", **image} for image in leading]
    for paragraph in body:
        image = next((image for image in waiting if image["caption"] == paragraph), None)
        if image is None:
            blocks.append({"kind": "paragraph", "text": paragraph})
        else:
            waiting.remove(image)
            blocks.append({"kind": "figure", **image})
    return blocks


def _other_edition(record: dict[str, Any], shown: str) -> dict[str, Any] | None:
    """The edition not shown: archived (readable here) or only a URL on the site."""
    other = "big5" if shown == "gb" else "gb"
    primary = record["edition"]
    if other == primary:
        return {"edition": other, "name": EDITION_NAMES[other], "archived": True,
                "url": record["url"]}
    if record.get(other):
        return {"edition": other, "name": EDITION_NAMES[other], "archived": True,
                "url": record[other]["url"]}
    parsed = parse_article_url(record["url"])
    if parsed is None:
        return None
    return {"edition": other, "name": EDITION_NAMES[other], "archived": False,
            "url": parsed.in_edition(other)}


def article_view(row: Mapping[str, Any], edition: str | None = None) -> dict[str, Any]:
    """What the article page shows for an ``articles`` row, in ``edition`` when that
    edition was archived too (default: the row's primary edition)."""
    record = export_record(dict(row))
    primary: str = record["edition"]
    shown = edition if edition and edition in (record.get("editions") or ()) else primary
    text = record if shown == primary else record[shown]
    pages = text.get("pages") or [text["url"]]
    return {
        "article_id": record["article_id"],
        "column_id": record["column_id"],
        "edition": shown,
        "edition_name": EDITION_NAMES.get(shown, shown),
        "labels": LABELS.get(shown, LABELS["gb"]),
        "pretitle": text.get("pretitle") or "",
        "title": text["title"],
        "subtitle": text.get("subtitle") or "",
        "original_title": text.get("original_title") or "",
        "published_at": record["published_at"],
        "published": _published(record["published_at"]),
        "source": text.get("source") or "",
        "source_url": record.get("source_url"),
        "authors": text.get("authors") or [],
        "photographers": text.get("photographers") or [],
        "editors": text.get("editors") or [],
        "blocks": _blocks(text.get("body") or [], text.get("images") or []),
        "url": text["url"],
        "pages": pages if len(pages) > 1 else [],
        "other_edition": _other_edition(record, shown),
        "version": row["version"],
        "first_seen_at": record.get("first_seen_at"),
        "fetched_at": record.get("fetched_at"),
    }
