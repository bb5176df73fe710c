"""Crawled items as JSON, for the trip from a worker to ``pdarchive ingest`` through Redis.

JSON rather than pickle, although the frontier's requests are pickles (scrapy-redis's
format, read only by workers): ingest owns the archive and should not run code that
arrives over the network; a versioned JSON envelope survives workers and ingest of
different pdarchive versions (a pickle names classes and fields); and an item can be
read with ``redis-cli``. Page bodies, the bulk, are zlib-compressed and base64-encoded:
smaller than the raw HTML, so a backlog waiting for ingest costs Redis less memory.

An envelope: ``{"format": 1, "id": ITEM_ID, "job": JOB_ID, "type": "article" | "failure" |
"list" | "picture", "item": {...}}``. ``id`` is unique per item (``worker:sequence``);
ingest records the last one it committed, in the same transaction, so an item delivered again after
ingest stopped between commit and acknowledgement is not written twice.

Items come over the network: ``decode`` inflates a page body only up to
``max_body_bytes`` (ingest passes the job's ``max_response_bytes``, the limit workers
download with), so a small item that inflates to gigabytes is refused, not read.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import asdict, dataclass
from typing import Any

from archive.store import FetchedPage
from crawler.items import ArticleItem, FailureItem, ListPageItem, ParsedPageResult, PictureItem

FORMAT = 1

Item = ArticleItem | FailureItem | ListPageItem | PictureItem


class UndecodableItem(ValueError):
    """Bytes that are not an item this version can read."""


@dataclass(frozen=True)
class Envelope:
    item_id: str
    job: str
    item: Item


def _page(page: FetchedPage) -> dict[str, Any]:
    fields = asdict(page)
    fields["body"] = base64.b64encode(zlib.compress(page.body, 6)).decode("ascii")
    return fields


def inflate(data: bytes, limit: int | None = None,
            name: str = "max_response_bytes") -> bytes:
    """``zlib.decompress(data)``, stopping once more than ``limit`` bytes (the job's
    ``name``) come out."""
    if limit is None:
        return zlib.decompress(data)
    inflater = zlib.decompressobj()
    body = inflater.decompress(data, limit + 1)
    if len(body) > limit:
        raise UndecodableItem(f"a page body inflates to more than {limit} bytes (the job's "
                              f"{name}): not inflated further")
    if not inflater.eof:
        raise UndecodableItem("a page body is truncated (incomplete zlib stream)")
    return body


def _fetched(fields: dict[str, Any], limit: int | None,
             name: str = "max_response_bytes") -> FetchedPage:
    body = inflate(base64.b64decode(fields.pop("body")), limit, name)
    return FetchedPage(body=body, **fields)


def encode(item: Item, *, item_id: str, job: str) -> bytes:
    body: dict[str, Any]
    if isinstance(item, ArticleItem):
        kind = "article"
        body = {"article_id": item.article_id, "column_id": item.column_id,
                "editions": {edition: [{"fetched": _page(page.fetched), "record": page.record}
                                       for page in pages]
                             for edition, pages in item.editions.items()},
                "partial": item.partial}
    elif isinstance(item, ListPageItem):
        kind = "list"
        body = {"column_id": item.column_id, "fetched": _page(item.fetched)}
    elif isinstance(item, PictureItem):
        kind = "picture"
        body = {"column_id": item.column_id, "fetched": _page(item.fetched)}
    elif isinstance(item, FailureItem):
        kind = "failure"
        body = asdict(item)
    else:
        raise TypeError(f"not a crawled item: {type(item).__name__}")
    envelope = {"format": FORMAT, "id": item_id, "job": job, "type": kind, "item": body}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode(data: bytes, *, max_body_bytes: int | None = None,
           max_picture_bytes: int | None = None) -> Envelope:
    """The item in ``data``; UndecodableItem when this version cannot read it, or when
    a page body would inflate to more than ``max_body_bytes`` (a picture's, to more
    than ``max_picture_bytes``, default ``max_body_bytes``)."""
    try:
        envelope = json.loads(data)
        if envelope.get("format") != FORMAT:
            raise UndecodableItem(f"item format {envelope.get('format')!r}, expected {FORMAT}")
        body = envelope["item"]
        kind = envelope["type"]
        item: Item
        if kind == "article":
            item = ArticleItem(body["article_id"], body["column_id"], {
                edition: [ParsedPageResult(_fetched(page["fetched"], max_body_bytes),
                                           page["record"]) for page in pages]
                for edition, pages in body["editions"].items()},
                bool(body.get("partial", False)))
        elif kind == "list":
            item = ListPageItem(body["column_id"], _fetched(body["fetched"], max_body_bytes))
        elif kind == "picture":
            item = PictureItem(body.get("column_id"), _fetched(
                body["fetched"], max_picture_bytes or max_body_bytes, "max_picture_bytes"))
        elif kind == "failure":
            item = FailureItem(**body)
        else:
            raise UndecodableItem(f"unknown item type {kind!r}")
        return Envelope(str(envelope["id"]), str(envelope["job"]), item)
    except UndecodableItem:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, zlib.error) as error:
        raise UndecodableItem(f"{type(error).__name__}: {error}") from error


def describe(data: bytes) -> dict[str, Any]:
    """What can be told of an item, even one ``decode`` refuses, without inflating a
    page body: its ``id``, ``job`` and ``type``, and the ``url``, ``article_id`` and
    ``column_id`` it is about (each None when unknown)."""
    found: dict[str, Any] = dict.fromkeys(
        ("id", "job", "type", "url", "article_id", "column_id"))
    try:
        envelope = json.loads(data)
        found.update({key: envelope.get(key) for key in ("id", "job", "type")})
        body = envelope.get("item") or {}
        fetched = body.get("fetched")
        if fetched is None and isinstance(body.get("editions"), dict):
            pages = next(iter(body["editions"].values()), None) or [{}]
            fetched = pages[0].get("fetched")
        found["url"] = body.get("url") or (fetched or {}).get("url")
        found["article_id"] = body.get("article_id") or (fetched or {}).get("article_id")
        found["column_id"] = body.get("column_id")
    except (ValueError, AttributeError, TypeError, IndexError):
        pass
    return {key: value if isinstance(value, str) or value is None else str(value)
            for key, value in found.items()}
