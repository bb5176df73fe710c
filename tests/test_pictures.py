"""Pictures archived by the crawl (issue 15): the images an article shows are fetched
by the same crawl, stored once each by content as captures of their own kind, never
fetched twice across runs, and a picture failing never costs its article."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from archive.store import Archive, FetchedPage
from crawler.config import load_config
from crawler.itemcodec import decode, encode
from crawler.items import ArticleItem, ParsedPageResult, PictureItem
from crawler.job import CrawlJob, plan_scope
from crawler.spiders.jiangsu import JiangsuSpider
from crawler.writer import ItemWriter
from tests.support.cli import crawl, pdarchive
from tests.support.reference import CRAWL_CONFIG, SITE, load_manifest
from tests.support.replay import ReplayServer, StatusSequence

#: the two pictures the mirror's articles show, and the article showing each
PICTURES = {
    "http://js.people.com.cn/NMediaFile/2020/1019/LOCAL202010191437000377591588813.jpg":
        "34359164",
    "http://js.people.com.cn/NMediaFile/2022/0701/LOCAL202207010930000123456789012.jpg":
        "40012345",
}
SMALL, LARGE = sorted(PICTURES, key=lambda url: (SITE / load_manifest()[url]["file"])
                      .stat().st_size)


def picture_requests(server: ReplayServer) -> list[str]:
    return [url for _, url in server.requests if url in PICTURES]


def picture_captures(db: Path) -> list[tuple[str, str, int, str, str]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT url, article_id, status, sha256, content_type FROM captures "
            "WHERE kind = 'picture' ORDER BY url").fetchall()


def failures(db: Path) -> dict[str, dict[str, object]]:
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        return {row["url"]: dict(row) for row in connection.execute("SELECT * FROM failures")}


def article_ids(db: Path) -> set[str]:
    with sqlite3.connect(db) as connection:
        return {row[0] for row in connection.execute("SELECT article_id FROM articles")}


def config_file(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "crawl.toml"
    path.write_text(CRAWL_CONFIG.read_text("utf-8") + extra + "\n", "utf-8")
    return path


def test_a_crawl_archives_every_picture_once_and_the_next_fetches_none(
        tmp_path: Path, replay: ReplayServer) -> None:
    db = tmp_path / "archive.db"
    first = crawl(db, replay)
    assert first.returncode == 0, first.stderr
    assert sorted(picture_requests(replay)) == sorted(PICTURES)  # each once
    assert "2 pictures" in first.stderr
    manifest = load_manifest()
    captures = picture_captures(db)
    assert [(url, article) for url, article, *_ in captures] == sorted(PICTURES.items())
    for url, _, status, sha256, content_type in captures:
        body = (SITE / manifest[url]["file"]).read_bytes()
        assert (status, sha256, content_type) == (
            200, hashlib.sha256(body).hexdigest(), "image/jpeg")
    with sqlite3.connect(db) as connection:
        stored = dict(connection.execute(
            "SELECT c.url, b.size FROM captures AS c JOIN blobs AS b USING (sha256) "
            "WHERE c.kind = 'picture'").fetchall())
        assert connection.execute("SELECT count(*) FROM pages WHERE kind = 'picture'"
                                  ).fetchone()[0] == 0  # the view stays pages
    assert stored == {url: (SITE / manifest[url]["file"]).stat().st_size for url in PICTURES}
    assert not [url for url in failures(db) if url in PICTURES]

    replay.reset_log()
    again = crawl(db, replay)
    assert again.returncode == 0, again.stderr
    assert picture_requests(replay) == []
    assert len(replay.requests) == 2  # robots.txt and the first list page, as before
    replay.reset_log()
    full = crawl(db, replay, "--full")
    assert full.returncode == 0, full.stderr
    assert picture_requests(replay) == []  # not even with --full: captured once is enough
    assert len(picture_captures(db)) == 2

    stats = json.loads(pdarchive("stats", "--db", db, "--format", "json", check=True).stdout)
    assert stats["space"]["picture"]["captures"] == 2
    assert stats["space"]["picture"]["bytes"] == sum(stored.values())
    assert stats["space"]["article"]["captures"] >= 19
    text = pdarchive("stats", "--db", db, check=True).stdout
    assert "pictures: 2 captures, 2 bodies" in text


def test_no_images_and_images_false_fetch_none(tmp_path: Path, replay: ReplayServer) -> None:
    db = tmp_path / "archive.db"
    result = crawl(db, replay, "--no-images")
    assert result.returncode == 0, result.stderr
    assert picture_requests(replay) == [] and picture_captures(db) == []
    assert len(article_ids(db)) == 19

    replay.reset_log()
    off = config_file(tmp_path, "images = false")
    other = tmp_path / "other.db"
    result = pdarchive("crawl", "--db", other, "--column", "360300", "--config", off,
                       proxy=replay)
    assert result.returncode == 0, result.stderr
    assert picture_requests(replay) == [] and picture_captures(other) == []

    # turned on again, the pictures of the archived articles are not fetched (their
    # articles are not fetched again); a --full crawl fetches them, once
    replay.reset_log()
    assert crawl(db, replay, "--full").returncode == 0
    assert sorted(picture_requests(replay)) == sorted(PICTURES)


def test_a_failing_picture_is_recorded_retried_and_never_costs_its_article(
        tmp_path: Path, replay: ReplayServer) -> None:
    db = tmp_path / "archive.db"
    replay.inject(SMALL, StatusSequence([404]))
    replay.inject(LARGE, StatusSequence([500]))
    result = crawl(db, replay)
    assert result.returncode == 0, result.stderr  # the run is not spoiled by pictures
    assert len(article_ids(db)) == 19 and set(PICTURES.values()) <= article_ids(db)
    assert picture_requests(replay).count(SMALL) == 1  # a 404 is not retried in the run
    assert picture_requests(replay).count(LARGE) == 3  # a 500 is: 2 retries
    recorded = failures(db)
    assert (recorded[SMALL]["stage"], recorded[SMALL]["kind"], recorded[SMALL]["reason"],
            recorded[SMALL]["http_status"]) == ("picture", "http", "HTTP 404", 404)
    assert (recorded[LARGE]["stage"], recorded[LARGE]["kind"]) == ("picture", "http")
    assert recorded[SMALL]["article_id"] == PICTURES[SMALL]
    assert picture_captures(db) == []

    # not due yet: the next crawl leaves them alone, and the articles too
    replay.clear_faults()
    replay.reset_log()
    assert crawl(db, replay).returncode == 0
    assert picture_requests(replay) == []
    # once due, they are fetched again and stored, and their failures close
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE failures SET next_attempt_at = '2000-01-01T00:00:00+00:00'")
    replay.reset_log()
    assert crawl(db, replay).returncode == 0
    assert sorted(picture_requests(replay)) == sorted(PICTURES)
    assert [(url, article) for url, article, *_ in picture_captures(db)] == sorted(
        PICTURES.items())
    assert not [url for url in failures(db) if url in PICTURES]


def test_a_picture_over_the_size_cap_is_refused(tmp_path: Path, replay: ReplayServer) -> None:
    db = tmp_path / "archive.db"
    limit = (SITE / load_manifest()[SMALL]["file"]).stat().st_size
    config = config_file(tmp_path, f"max_picture_bytes = {limit}")
    result = pdarchive("crawl", "--db", db, "--column", "360300", "--config", config,
                       proxy=replay)
    assert result.returncode == 0, result.stderr
    assert [url for url, *_ in picture_captures(db)] == [SMALL]
    refused = failures(db)[LARGE]
    assert (refused["stage"], refused["kind"]) == ("picture", "too_large")
    assert refused["reason"] == (f"too large: over the {limit}-byte limit "
                                 "(max_picture_bytes); not downloaded")
    assert PICTURES[LARGE] in article_ids(db)


def test_a_picture_answered_with_an_html_page_is_a_failure(
        tmp_path: Path, replay: ReplayServer) -> None:
    db = tmp_path / "archive.db"
    replay.add_page(SMALL, "<html><body><p>访问过于频繁，请稍后再试</p></body></html>".encode(),
                    headers={"Content-Type": "text/html; charset=utf-8"})
    assert crawl(db, replay).returncode == 0
    recorded = failures(db)[SMALL]
    assert recorded["stage"] == "picture" and recorded["kind"] in ("blocked", "not_a_picture")
    assert SMALL not in [url for url, *_ in picture_captures(db)]
    assert PICTURES[SMALL] in article_ids(db)


# -- in process ---------------------------------------------------------------------

def _item(article_id: str, *srcs: str) -> ArticleItem:
    page = FetchedPage(url=f"http://js.people.com.cn/n2/2020/1019/c360300-{article_id}.html",
                       status=200, headers={}, body=b"", fetched_at="2026-01-01T00:00:00+00:00")
    record = {"images": [{"src": src, "caption": ""} for src in srcs]}
    return ArticleItem(article_id, "360300", {"gb": [ParsedPageResult(page, record)]})


def test_a_picture_shared_by_articles_is_asked_for_once_and_a_known_one_never() -> None:
    config = load_config(CRAWL_CONFIG)
    shared, known = "http://js.people.com.cn/NMediaFile/a.jpg", "http://js.people.com.cn/k.jpg"
    job = CrawlJob(scope=plan_scope(config, columns=["360300"]),
                   known_pictures=frozenset({known}))
    spider = JiangsuSpider(job=job, config=config)
    first = list(spider._picture_requests(_item("1", shared, known)))
    second = list(spider._picture_requests(_item("2", shared, "http://www.example.com/x.jpg")))
    assert [request.url for request in first] == [shared] and second == []
    assert first[0].meta["download_maxsize"] == config.max_picture_bytes
    assert first[0].cb_kwargs == {"article_id": "1", "column": "360300"}
    off = JiangsuSpider(job=CrawlJob(scope=plan_scope(config, columns=["360300"],
                                                      images=False)), config=config)
    assert list(off._picture_requests(_item("1", shared))) == []


def test_the_job_plans_known_and_due_pictures(fresh_db: Archive) -> None:
    from crawler.job import read_job

    config = load_config(CRAWL_CONFIG)
    held, failed = "http://js.people.com.cn/held.jpg", "http://js.people.com.cn/failed.jpg"
    fresh_db.save_picture(FetchedPage(url=held, status=200, headers={}, body=b"jpeg",
                                      fetched_at="2026-01-01T00:00:00+00:00", kind="picture",
                                      article_id="1"), None)
    fresh_db.record_failure(failed, stage="picture", reason="HTTP 500", http_status=500,
                            run_id=None, article_id="2", column_id="360300", kind="http")
    scope = plan_scope(config, columns=["360300"])
    job = read_job(fresh_db, scope)
    # a failed picture backs off like a page, and never makes its article back off
    assert job.known_pictures == {held, failed} and job.picture_retries == ()
    assert job.backing_off == frozenset()
    fresh_db.db.execute("UPDATE failures SET next_attempt_at = '2000-01-01T00:00:00+00:00'")
    job = read_job(fresh_db, scope)
    assert job.known_pictures == {held}
    assert job.picture_retries == ((failed, "2", "360300"),)
    assert job.retries == ()
    assert CrawlJob.from_json(json.loads(json.dumps(job.to_json()))) == job
    spider = JiangsuSpider(job=job, config=config)
    assert [request.url for request in spider.first_requests()][-1] == failed
    assert read_job(fresh_db, plan_scope(config, columns=["360300"], images=False)
                    ).picture_retries == ()


def test_a_picture_item_crosses_redis_as_json_and_is_written_once(fresh_db: Archive) -> None:
    picture = PictureItem("360300", FetchedPage(
        url="http://js.people.com.cn/p.jpg", status=200, headers={"Content-Type": "image/jpeg"},
        body=b"\xff\xd8 a picture", fetched_at="2026-01-01T00:00:00+00:00", kind="picture",
        article_id="34359164"))
    data = encode(picture, item_id="w:1", job="j")
    assert decode(data, max_body_bytes=1, max_picture_bytes=100).item == picture
    writer = ItemWriter(fresh_db, None)
    writer.write(decode(data).item)
    writer.write(decode(data).item)  # delivered twice (at-least-once): one capture
    assert writer.pictures == 1
    rows = fresh_db.db.execute("SELECT url, kind, article_id FROM captures").fetchall()
    assert rows == [("http://js.people.com.cn/p.jpg", "picture", "34359164")]


def test_no_images_reaches_every_way_a_crawl_starts(tmp_path: Path) -> None:
    from archive.cli import _crawl_argv, build_parser

    config = load_config(CRAWL_CONFIG)
    # scrapy crawl jiangsu -a images=0
    spider = JiangsuSpider(column="360300", images="0", config=config)
    assert plan_scope(config, **spider.scope_arguments).images is False
    assert plan_scope(config, columns=["360300"]).images is True
    # schedule runs each crawl with it; seed's job carries it to the workers
    args = build_parser().parse_args(["schedule", "--every", "1h", "--no-images"])
    assert "--no-images" in _crawl_argv(args)
    args = build_parser().parse_args(["schedule", "--every", "1h"])
    assert "--no-images" not in _crawl_argv(args)
    assert build_parser().parse_args(["seed", "--redis", "redis://x", "--no-images"]
                                     ).images is False
    job = CrawlJob(scope=plan_scope(config, columns=["360300"], images=False))
    assert CrawlJob.from_json(job.to_json(state=CrawlJob.FRONTIER_FIELDS)).scope.images is False
    # a worker takes the job's word for it
    refused = pdarchive("crawl", "--redis", "redis://127.0.0.1:1/0", "--no-images")
    assert refused.returncode == 2 and "--no-images" in refused.stderr
