"""The archive, not the live site, in the browser: archived pictures and captures.

- ``/-/pdarchive-picture/ID``: a picture as it was fetched (capture ID), so that an
  article page shows what was archived even when the site deleted it;
- ``/-/pdarchive-captures/ARTICLE_ID``: every stored capture of an article's pages,
  in every edition, with its fetch time;
- ``/-/pdarchive-capture/ID``: one capture, opened as it was fetched inside a
  sandboxed frame, from ``/-/pdarchive-capture/ID/raw``: the page's own bytes (its
  pictures pointed at their archived copies) under a Content-Security-Policy that
  sandboxes it and lets it load nothing from anywhere but this server, so no script
  of a crawled page ever runs and nothing is fetched from the live site.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any
from urllib.parse import urljoin

import markupsafe
from datasette.utils.asgi import Request, Response

from crawler.parse.decoding import decode_page

#: what a raw capture may do: nothing but show itself and the archive's pictures
CAPTURE_CSP = ("sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
               "font-src 'none'; frame-ancestors 'self'")
PICTURE_TYPES = ("image/",)
_SRC = re.compile(r"""(?P<attr>\bsrc\s*=\s*)(?P<quote>["']?)(?P<url>[^"'\s>]+)(?P=quote)""",
                  re.IGNORECASE)


def picture_path(capture_id: int) -> str:
    return f"/-/pdarchive-picture/{capture_id}"


async def archived_pictures(db: Any, urls: list[str]) -> dict[str, int]:
    """The latest picture capture of each of ``urls`` that the archive holds."""
    if not urls:
        return {}
    marks = ", ".join("?" for _ in urls)
    rows = await db.execute(
        f"select url, id from captures where kind = 'picture' and latest = 1 "
        f"and status between 200 and 299 and url in ({marks})", urls)
    return {row["url"]: row["id"] for row in rows.rows}


async def _body(db: Any, capture_id: int, kinds: tuple[str, ...]) -> tuple[dict[str, Any], bytes]:
    marks = ", ".join("?" for _ in kinds)
    rows = await db.execute(
        f"select c.id, c.url, c.kind, c.headers, c.fetched_at, b.body from captures c "
        f"join blobs b on b.sha256 = c.sha256 where c.id = ? and c.kind in ({marks})",
        [capture_id, *kinds])
    row = rows.first()
    if row is None:
        raise LookupError(capture_id)
    return dict(row), zlib.decompress(row["body"])


def _content_type(row: dict[str, Any]) -> str:
    headers = json.loads(row["headers"] or "{}")
    return next((value for name, value in headers.items() if name.lower() == "content-type"),
                "")


async def picture_view(datasette: Any, request: Request) -> Response:
    from .datasette_plugin import DATABASE

    db = datasette.get_database(DATABASE)
    try:
        row, body = await _body(db, int(request.url_vars["id"]), ("picture",))
    except (LookupError, zlib.error, ValueError):
        return Response.text("图片未存档 (this picture is not archived)", status=404)
    kind = _content_type(row)
    return Response(body, content_type=kind if kind.startswith(PICTURE_TYPES)
                    else "application/octet-stream",
                    headers={"cache-control": "max-age=86400, immutable"})


async def captures_view(datasette: Any, request: Request) -> Response:
    from .datasette_plugin import DATABASE

    db = datasette.get_database(DATABASE)
    article_id = request.url_vars["article_id"]
    rows = await db.execute(
        "select id, url, edition, page, status, size, fetched_at, latest from captures "
        "where article_id = ? and kind = 'article' order by edition, page, fetched_at",
        [article_id])
    title = await db.execute("select title from articles where article_id = ?", [article_id])
    found = title.first()
    html = await datasette.render_template(
        "pdarchive_captures.html",
        {"article_id": article_id, "title": found["title"] if found else "",
         "captures": [dict(row) for row in rows.rows], "database": DATABASE},
        request=request, view_name="pdarchive_captures")
    return Response.html(html, status=200 if found else 404)


async def capture_view(datasette: Any, request: Request) -> Response:
    from .datasette_plugin import DATABASE

    db = datasette.get_database(DATABASE)
    capture_id = int(request.url_vars["id"])
    rows = await db.execute(
        "select id, url, article_id, edition, page, status, fetched_at from captures "
        "where id = ? and kind in ('article', 'list')", [capture_id])
    row = rows.first()
    html = await datasette.render_template(
        "pdarchive_capture.html", {"capture": dict(row) if row else None,
                                   "database": DATABASE},
        request=request, view_name="pdarchive_capture")
    return Response.html(html, status=200 if row else 404)


def _point_pictures_home(text: str, page_url: str, archived: dict[str, int]) -> str:
    def replace(match: re.Match[str]) -> str:
        capture = archived.get(urljoin(page_url, match["url"]))
        if capture is None:
            return match[0]
        return f'{match["attr"]}"{picture_path(capture)}"'
    return _SRC.sub(replace, text)


async def capture_raw_view(datasette: Any, request: Request) -> Response:
    """The captured page as fetched, but for its pictures' addresses (the archived
    copies), decoded as the parser decodes it and served as UTF-8."""
    from .datasette_plugin import DATABASE

    db = datasette.get_database(DATABASE)
    try:
        row, body = await _body(db, int(request.url_vars["id"]), ("article", "list"))
    except (LookupError, zlib.error, ValueError):
        return Response.text("未存档 (no such capture)", status=404)
    text = decode_page(body, _content_type(row) or None).text
    sources = {urljoin(row["url"], match["url"]) for match in _SRC.finditer(text)}
    archived = await archived_pictures(db, sorted(sources))
    return Response(_point_pictures_home(text, row["url"], archived),
                    content_type="text/html; charset=utf-8",
                    headers={"content-security-policy": CAPTURE_CSP,
                             "x-frame-options": "SAMEORIGIN"})


def frame_html(capture_id: int) -> markupsafe.Markup:
    """The sandboxed frame a capture opens in: no scripts, no forms, no navigation."""
    return markupsafe.Markup(
        f'<iframe class="pd-capture" sandbox="" referrerpolicy="no-referrer" '
        f'src="/-/pdarchive-capture/{capture_id}/raw" title="存档副本"></iframe>')
