"""Distributed ingest under items it cannot use: an item that is valid JSON but cannot
be written (``title: null``), a page body that inflates without end, bytes that are no
item at all. A real redis-server on loopback and a real ``pdarchive ingest`` process.
"""

from __future__ import annotations

import base64
import json
import resource
import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("scrapy_redis")

from archive.store import FetchedPage  # noqa: E402
from crawler import frontier as keys  # noqa: E402
from crawler import itemcodec  # noqa: E402
from crawler.frontier import Frontier  # noqa: E402
from crawler.items import ArticleItem, FailureItem, ParsedPageResult  # noqa: E402
from crawler.parse import parse_page  # noqa: E402
from tests.support import checks  # noqa: E402
from tests.support.cli import pdarchive  # noqa: E402
from tests.support.redis_server import REDIS_SERVER, RedisServer  # noqa: E402
from tests.support.reference import SITE, load_manifest  # noqa: E402

pytestmark = [pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed"),
              pytest.mark.timeout(120)]

LIMIT = 1_000_000  # the job's max_response_bytes
HOST = "http://js.people.com.cn"


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with RedisServer(tmp_path / "redis") as server:
        yield server.url


def article_item(url: str) -> ArticleItem:
    """The item a worker pushes for the reference page at ``url``, parsed for real."""
    entry = load_manifest()[url]
    body = (SITE / entry["file"]).read_bytes()
    record = parse_page(body, url, entry["headers"].get("Content-Type"))
    fetched = FetchedPage(url, 200, entry["headers"], body, "2026-12-01T00:00:00+00:00",
                          article_id=record["article_id"], edition=record["edition"],
                          page=record["page"])
    return ArticleItem(record["article_id"], record["column_id"],
                       {record["edition"]: [ParsedPageResult(fetched, record)]})


def bomb(size: int) -> bytes:
    """``size`` zero bytes, zlib-compressed a megabyte at a time (never all in memory)."""
    deflater = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    parts = [deflater.compress(chunk) for _ in range(size >> 20)]
    return b"".join([*parts, deflater.flush()])


def inflating_item(url: str, size: int, item_id: str) -> bytes:
    """An article item whose page body inflates to ``size`` bytes."""
    envelope = json.loads(itemcodec.encode(article_item(url), item_id=item_id, job="j1"))
    page = envelope["item"]["editions"]["gb"][0]["fetched"]
    page["body"] = base64.b64encode(bomb(size)).decode("ascii")
    return json.dumps(envelope).encode()


def gb_article_urls(n: int) -> list[str]:
    return sorted(url for url in load_manifest()
                  if "/n2/" in url and "/BIG5/" not in url and "_" not in url.rsplit("/", 1)[1]
                  )[:n]


def test_ingest_dead_letters_what_it_cannot_use_and_writes_everything_behind_it(
        tmp_path: Path, redis_url: str) -> None:
    db = tmp_path / "archive.db"
    config = tmp_path / "crawl.toml"
    config.write_text(f"[crawl]\nmax_response_bytes = {LIMIT}\n")
    seeded = pdarchive("seed", "--db", db, "--redis", redis_url, "--config", config,
                       "--column", "360300")
    assert seeded.returncode == 0, seeded.stderr
    frontier = Frontier.connect(redis_url)
    assert frontier.job()["max_response_bytes"] == LIMIT  # type: ignore[index]
    frontier.client.delete(keys.REQUESTS)  # no worker in this test: nothing to fetch

    null_title, good, inflating = gb_article_urls(3)
    broken = article_item(null_title)
    page = broken.editions["gb"][0]
    broken = replace(broken, editions={"gb": [replace(page, record={**page.record,
                                                                     "title": None})]})
    failure = FailureItem(f"{HOST}/n2/2021/0301/c360300-34600999.html", "fetch", "HTTP 404",
                          404, "34600999", "360300")
    pushed = [
        itemcodec.encode(broken, item_id="w:1", job="j1"),  # valid JSON, cannot be written
        b"\xff\xfe not an item at all",
        inflating_item(inflating, 1 << 30, "w:3"),  # 1 GB from about 1 MB
        itemcodec.encode(article_item(good), item_id="w:4", job="j1"),
        itemcodec.encode(failure, item_id="w:5", job="j1"),
    ]
    assert len(pushed[2]) < 2 << 20
    for data in pushed:
        frontier.push_item(data)

    def at_most_a_gigabyte() -> None:  # inflating the 1 GB body would not fit
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    result = pdarchive("ingest", "--db", db, "--redis", redis_url, "--drain", timeout=100,
                       preexec_fn=at_most_a_gigabyte)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "3 items could not be read or written: moved to the dead letters" in result.stderr

    # everything behind the bad items was written
    articles = checks.articles(db)
    good_id = article_item(good).article_id
    assert set(articles) == {good_id}, sorted(articles)
    failures = checks.failures(db)
    assert failures[failure.url]["reason"] == "HTTP 404"
    # the pages of the dead items are recorded as failed: the next job fetches them again
    assert failures[null_title]["stage"] == "store"
    assert "NOT NULL constraint failed: articles.title" in failures[null_title]["reason"]
    assert f"inflates to more than {LIMIT} bytes" in failures[inflating]["reason"]
    run = checks.runs(db)[-1]
    assert (run["status"], run["new"], run["failed"]) == ("finished", 1, 3)

    letters = frontier.dead_letters()
    assert [letter["id"] for letter in letters] == ["w:1", None, "w:3"]
    reasons = [letter["reason"] for letter in letters]
    assert reasons[0] == ("cannot be written: IntegrityError: NOT NULL constraint failed: "
                          "articles.title"), reasons
    assert reasons[1].startswith("cannot be read: "), reasons
    assert reasons[2] == (f"cannot be read: a page body inflates to more than {LIMIT} bytes "
                          "(the job's max_response_bytes): not inflated further"), reasons
    assert letters[0]["item"].encode() == pushed[0] and letters[0]["url"] == null_title
    assert letters[1]["item_base64"] and letters[2]["url"] == inflating
    assert frontier.processing() == [] and frontier.snapshot().drained

    status = pdarchive("status", "--redis", redis_url, "--format", "json", check=True)
    assert json.loads(status.stdout)["items_dead"] == 3
    text = pdarchive("status", "--redis", redis_url, check=True).stdout
    assert "3 dead letters" in text and "pdarchive:items:dead" in text

    # a later ingest does not meet them again
    again = pdarchive("ingest", "--db", db, "--redis", redis_url, "--drain", timeout=60)
    assert again.returncode == 0, again.stderr
    assert len(frontier.dead_letters()) == 3


def test_decode_inflates_no_more_than_its_limit() -> None:
    item = article_item(gb_article_urls(1)[0])
    data = itemcodec.encode(item, item_id="w:1", job="j")
    body = item.editions["gb"][0].fetched.body
    assert itemcodec.decode(data, max_body_bytes=len(body)).item == item
    with pytest.raises(itemcodec.UndecodableItem, match="inflates to more than"):
        itemcodec.decode(data, max_body_bytes=len(body) - 1)
    truncated = zlib.compress(body)[:-10]
    with pytest.raises(itemcodec.UndecodableItem, match="truncated"):
        itemcodec.inflate(truncated, len(body))




def test_a_fault_of_the_archive_itself_stops_ingest_and_keeps_the_item(
        tmp_path: Path, redis_url: str) -> None:
    """Not the item's fault: the archive refuses every write (here ``query_only``, as a
    file made read-only under ingest does). No dead letter: the item waits in
    ``items:processing`` for the next ingest."""
    from archive.ingest import Ingest
    from archive.store import Archive

    frontier = Frontier.connect(redis_url)
    frontier.start_job({"id": "j1", "columns": ["360300"], "editions": ["gb"],
                        "max_list_pages": 0, "full": False, "config": "test",
                        "dead_after": 30}, [], [], [], [])
    data = itemcodec.encode(article_item(gb_article_urls(1)[0]), item_id="w:1", job="j1")
    frontier.push_item(data)
    archive = Archive(tmp_path / "archive.db")
    try:
        ingest = Ingest(frontier, archive)
        ingest._sync_job()  # the job's run is open
        archive.db.execute("PRAGMA query_only = ON")
        taken = frontier.take_item(1)
        assert taken == data
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            ingest._write(taken)
    finally:
        archive.close()
    assert frontier.processing() == [data] and frontier.dead_letters() == []
