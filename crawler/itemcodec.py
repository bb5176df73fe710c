"""Crawled items as JSON, for the trip from a worker to ``pdarchive ingest`` through Redis.

JSON rather than pickle, although the frontier's requests are pickles (scrapy-redis's
format, read only by workers): ingest owns the archive and should not run code that
arrives over the network; a versioned JSON envelope survives workers and ingest of
different pdarchive versions (a pickle names classes and fields); and an item can be
read with ``redis-cli``. Page bodies, the bulk, are zlib-compressed and base64-encoded:
smaller than the raw HTML, so a backlog waiting for ingest costs Redis less memory.

An envelope: ``{"format": 1, "id": ITEM_ID, "job": JOB_ID, "type": "article" | "failure" |
"list", "item": {...}}``. ``id`` is unique per item (``worker:sequence``); ingest records
the last one it committed, in the same transaction, so an item delivered again after
ingest stopped between commit and acknowledgement is not written twice.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import asdict, dataclass
from typing import Any

from archive.store import FetchedPage
from crawler.items import ArticleItem, FailureItem, ListPageItem, ParsedPageResult

FORMAT = 1

Item = ArticleItem | FailureItem | ListPageItem


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


def _fetched(fields: dict[str, Any]) -> FetchedPage:
    body = zlib.decompress(base64.b64decode(fields.pop("body")))
    return FetchedPage(body=body, **fields)


def encode(item: Item, *, item_id: str, job: str) -> bytes:
    body: dict[str, Any]
    if isinstance(item, ArticleItem):
        kind = "article"
        body = {"article_id": item.article_id, "column_id": item.column_id,
                "editions": {edition: [{"fetched": _page(page.fetched), "record": page.record}
                                       for page in pages]
                             for edition, pages in item.editions.items()}}
    elif isinstance(item, ListPageItem):
        kind = "list"
        body = {"column_id": item.column_id, "fetched": _page(item.fetched)}
    elif isinstance(item, FailureItem):
        kind = "failure"
        body = asdict(item)
    else:
        raise TypeError(f"not a crawled item: {type(item).__name__}")
    envelope = {"format": FORMAT, "id": item_id, "job": job, "type": kind, "item": body}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode(data: bytes) -> Envelope:
    try:
        envelope = json.loads(data)
        if envelope.get("format") != FORMAT:
            raise UndecodableItem(f"item format {envelope.get('format')!r}, expected {FORMAT}")
        body = envelope["item"]
        kind = envelope["type"]
        item: Item
        if kind == "article":
            item = ArticleItem(body["article_id"], body["column_id"], {
                edition: [ParsedPageResult(_fetched(page["fetched"]), page["record"])
                          for page in pages]
                for edition, pages in body["editions"].items()})
        elif kind == "list":
            item = ListPageItem(body["column_id"], _fetched(body["fetched"]))
        elif kind == "failure":
            item = FailureItem(**body)
        else:
            raise UndecodableItem(f"unknown item type {kind!r}")
        return Envelope(str(envelope["id"]), str(envelope["job"]), item)
    except UndecodableItem:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, zlib.error) as error:
        raise UndecodableItem(f"{type(error).__name__}: {error}") from error
