"""A distributed crawl end to end: a real redis-server on loopback, worker and ingest
processes over the replay mirror, compared with a crawl in one process."""

from __future__ import annotations

import contextlib
import io
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("scrapy_redis")

from archive.cli import main  # noqa: E402
from crawler import itemcodec  # noqa: E402
from crawler.frontier import Frontier  # noqa: E402
from crawler.items import FailureItem  # noqa: E402
from tests.support.cli import pdarchive  # noqa: E402
from tests.support.mirror import build_mirror  # noqa: E402
from tests.support.redis_server import REDIS_SERVER, RedisServer  # noqa: E402
from tests.support.reference import FIXTURES, SITE  # noqa: E402
from tests.support.replay import Delay, ReplayServer  # noqa: E402

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")

CONFIG = FIXTURES / "distributed_test.toml"
ROBOTS = "http://js.people.com.cn/robots.txt"
ERROR_500 = "http://js.people.com.cn/n2/2021/0220/c360300-34600777.html"


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with RedisServer(tmp_path / "redis") as server:
        yield server.url


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Worker processes a test starts: whatever still runs when it ends is killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()



def run(*args: str | Path) -> tuple[int, str, str]:
    """``pdarchive ARGS`` in this process (quicker than a new one, for commands that
    start no crawl): exit code, stdout, stderr."""
    raw, err = io.BytesIO(), io.StringIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")  # with .buffer, as sys.stdout has
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in args])
    out.flush()
    return code, raw.getvalue().decode("utf-8"), err.getvalue()


def status(redis_url: str) -> dict[str, Any]:
    code, out, err = run("status", "--redis", redis_url, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def seed(db: Path, redis_url: str, *options: str | Path) -> None:
    code, _, err = run("seed", "--db", db, "--redis", redis_url, "--config", CONFIG, *options)
    assert code == 0, err


def export(db: Path) -> list[dict[str, Any]]:
    code, out, err = run("export", "--db", db, "--format", "jsonl")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def start_workers(n: int, redis_url: str, proxy: ReplayServer, logs: Path,
                  processes: list[subprocess.Popen[str]]) -> list[subprocess.Popen[str]]:
    logs.mkdir(exist_ok=True)
    workers = [subprocess.Popen(
        [sys.executable, "-m", "archive.cli", "crawl", "--redis", redis_url,
         "--config", str(CONFIG), "--idle-timeout", "1"],
        env=proxy.client_env(), stdout=subprocess.DEVNULL,
        stderr=(logs / f"worker{len(processes) + i}.log").open("w"), text=True)
        for i in range(n)]
    processes.extend(workers)
    return workers


def finish(workers: list[subprocess.Popen[str]], logs: Path) -> list[int | None]:
    codes = []
    for worker in workers:
        try:
            codes.append(worker.wait(timeout=30))
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
            pytest.fail(f"a worker did not leave once idle: {read_logs(logs)}")
    return codes


def read_logs(logs: Path) -> str:
    return "\n".join(f"--- {log.name}\n{log.read_text()}" for log in sorted(logs.glob("*.log")))


def ingest(db: Path, redis_url: str) -> subprocess.CompletedProcess[str]:
    return pdarchive("ingest", "--db", db, "--redis", redis_url, "--drain", timeout=60)


def archive_state(db: Path) -> dict[str, Any]:
    """Everything a crawl stored, without the times it stored it at."""
    articles = export(db)
    for record in articles:
        for key in ("fetched_at", "first_seen_at", "updated_at"):
            record.pop(key, None)
    with sqlite3.connect(db) as connection:
        def rows(sql: str) -> list[tuple[Any, ...]]:
            return connection.execute(sql).fetchall()

        return {
            "articles": articles,
            "pages": rows("SELECT url, kind, article_id, edition, page, status, sha256, "
                          "encoding, extractor, run_id FROM pages ORDER BY url"),
            # the pictures the articles show: fetched by workers, written by ingest
            "pictures": rows("SELECT url, article_id, status, sha256, run_id FROM captures "
                             "WHERE kind = 'picture' ORDER BY url"),
            "failures": rows("SELECT url, article_id, column_id, stage, reason, http_status, "
                             "attempts, run_id FROM failures ORDER BY url"),
            "runs": rows("SELECT id, status, columns, complete_columns, new, updated, "
                         "unchanged, failed, fallback, message FROM runs ORDER BY id"),
            "versions": rows("SELECT article_id, version FROM article_versions ORDER BY 1"),
            "topics": rows("SELECT * FROM article_topics ORDER BY 1, 2") if rows(
                "SELECT 1 FROM sqlite_master WHERE name = 'article_topics'") else [],
        }


def test_three_workers_and_one_ingest_archive_what_one_crawl_does(
        tmp_path: Path, redis_url: str, processes: list[subprocess.Popen[str]]) -> None:
    options = ["--column", "360300", "--edition", "gb", "--edition", "big5"]
    db, single, logs = tmp_path / "distributed.db", tmp_path / "single.db", tmp_path / "logs"
    with ReplayServer(SITE, latency=0.02) as server, \
            ReplayServer(SITE, latency=0.02) as single_server:
        seed(db, redis_url, *options)
        workers = start_workers(3, redis_url, server, logs, processes)
        # the crawl in one process, meanwhile, from its own copy of the mirror
        one = subprocess.Popen(
            [sys.executable, "-m", "archive.cli", "crawl", "--db", str(single), *options,
             "--config", str(CONFIG)], env=single_server.client_env(),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        processes.append(one)
        result = ingest(db, redis_url)
        assert result.returncode == 0, result.stderr + read_logs(logs)
        assert finish(workers, logs) == [0, 0, 0], read_logs(logs)
        assert one.wait(timeout=60) == 0, one.communicate()[1]
        requests = Counter(url for _, url in server.requests)
        single_requests = Counter(url for _, url in single_server.requests)

    state = archive_state(db)
    assert state == archive_state(single)
    assert len(state["articles"]) == 19
    assert [row[1] for row in state["pictures"]] == ["34359164", "40012345"]

    # Each page was requested once in all: robots.txt once by each worker that fetched
    # anything (robots.txt is not in the shared frontier: each Scrapy process asks
    # for it itself), and the page answering 500 once plus its two retries.
    assert requests.pop(ROBOTS) <= 3
    assert requests.pop(ERROR_500) == 3
    assert set(requests.values()) == {1}
    assert set(requests) | {ROBOTS, ERROR_500} == set(single_requests)

    with sqlite3.connect(db) as connection:
        counted = connection.execute("SELECT requests FROM runs").fetchone()[0]
    assert counted - sum(1 for _, url in server.requests if url == ROBOTS) == (
        single_requests.total() - single_requests[ROBOTS])

    report = status(redis_url)
    assert report["drained"] and report["finished"]
    assert [worker["state"] for worker in report["workers"]] == ["exited"] * 3
    assert sum(worker["articles"] for worker in report["workers"]) == 19

    # The next job is incremental, as a local crawl would be: the archive says the
    # column was walked to the end, so the first list page, all known, is enough.
    with ReplayServer(SITE) as server:
        seed(db, redis_url, *options)
        workers = start_workers(1, redis_url, server, logs, processes)
        result = ingest(db, redis_url)
        assert result.returncode == 0, result.stderr + read_logs(logs)
        assert finish(workers, logs) == [0]
        assert {url for _, url in server.requests} <= {
            ROBOTS, "http://js.people.com.cn/GB/360300/index.html"}
    again = archive_state(db)
    assert again.pop("runs")[1][1:4] == ("finished", '["360300"]', '["360300"]')
    state.pop("runs")
    assert again == state


def test_a_worker_killed_mid_crawl_loses_nothing(
        tmp_path: Path, redis_url: str, processes: list[subprocess.Popen[str]]) -> None:
    site = build_mirror(tmp_path / "site", 40, per_list_page=10, multi_page_every=4)
    expected = json.loads((site / "EXPECTED.json").read_text("utf-8"))["articles"]
    multi_page = next(record for record in expected if record["page_count"] > 1)
    # The second page of a multi-page article: its request carries the first page's
    # parse. The server holds the answer, so the worker that asks is caught holding it.
    held = multi_page["url"].removesuffix(".html") + "-2.html"
    frontier = Frontier.connect(redis_url)
    db, logs = tmp_path / "archive.db", tmp_path / "logs"

    with ReplayServer(site, latency=0.05) as server:
        server.inject(held, Delay(60))
        seed(db, redis_url, "--column", "360300", "--dead-after", "2")
        workers = start_workers(3, redis_url, server, logs, processes)
        pids = {worker.pid: worker for worker in workers}

        deadline = time.monotonic() + 30
        while not (holders := [worker for worker, urls in frontier.in_flight_urls().items()
                                if held in urls]) or server.count(held) == 0:
            assert time.monotonic() < deadline, read_logs(logs)
            time.sleep(0.05)
        victim_id = holders[0]
        victim = pids[next(pid for pid in pids if f":{pid}:" in victim_id)]
        victim.send_signal(signal.SIGSTOP)  # what it holds can no longer change
        lost = frontier.in_flight_urls()[victim_id]
        victim.kill()
        victim.wait()
        server.clear_faults()

        result = ingest(db, redis_url)
        assert result.returncode == 0, result.stderr + read_logs(logs)
        assert finish([w for w in workers if w is not victim], logs) == [0, 0]
        requests = Counter(url for _, url in server.requests)

    articles = {record["article_id"]: record for record in export(db)}
    assert set(articles) == {record["article_id"] for record in expected}
    for want in expected:
        got = articles[want["article_id"]]
        assert {key: got[key] for key in want} == want, want["url"]
    assert len(articles[multi_page["article_id"]]["pages"]) == multi_page["page_count"]
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM failures").fetchone()[0] == 0
        assert connection.execute("SELECT status FROM runs").fetchall() == [("finished",)]

    # Only what the dead worker held was requested again, the held page among it.
    assert held in lost and requests[held] == 2
    requests.pop(ROBOTS)
    assert {url for url, count in requests.items() if count > 1} <= set(lost)
    dead = next(worker for worker in status(redis_url)["workers"]
                if worker["id"] == victim_id)
    assert dead["state"] == "dead" and dead["requeued"] == len(lost)


def test_ingest_writes_an_item_once_though_it_stopped_before_acknowledging(
        tmp_path: Path, redis_url: str) -> None:
    from archive.ingest import Ingest
    from archive.store import Archive

    frontier = Frontier.connect(redis_url)
    frontier.start_job({"id": "j1", "columns": ["360300"], "editions": ["gb"],
                        "max_list_pages": 0, "full": False, "config": "test",
                        "dead_after": 30}, [], [], [], [])
    item = FailureItem("http://js.people.com.cn/n2/2021/0301/c360300-34600999.html", "fetch",
                       "HTTP 404", 404, "34600999", "360300")
    frontier.push_item(itemcodec.encode(item, item_id="w:1", job="j1"))
    db = tmp_path / "archive.db"

    archive = Archive(db)
    stopped = Ingest(frontier, archive)
    stopped._sync_job()
    data = frontier.take_item(1)
    assert data is not None
    stopped.frontier = _Frozen(frontier)  # dies after its commit, before acknowledging
    stopped._write(data)
    archive.close()
    assert frontier.processing() == [data]

    archive = Archive(db)
    Ingest(frontier, archive).run(drain=True)
    archive.close()
    assert frontier.processing() == [] and frontier.snapshot().drained
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT url, attempts FROM failures").fetchall() == [
            (item.url, 1)]
        assert connection.execute("SELECT status, failed FROM runs").fetchall() == [
            ("finished", 1)]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ingest_stops_cleanly_on_a_signal_even_started_with_sigint_ignored(
        tmp_path: Path, redis_url: str, stop: signal.Signals) -> None:
    # As a background job of a script starts it: SIGINT ignored, so Python would
    # install no handler for it, and a plain SIGTERM would end it on the spot.
    frontier = Frontier.connect(redis_url)
    ingest = subprocess.Popen(
        [sys.executable, "-m", "archive.cli", "ingest", "--db", str(tmp_path / "archive.db"),
         "--redis", redis_url],
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 30
        while frontier.ingester() is None:
            assert ingest.poll() is None and time.monotonic() < deadline, ingest.stderr
            time.sleep(0.05)
        ingest.send_signal(stop)
        assert ingest.wait(timeout=15) == 130
    finally:
        if ingest.poll() is None:
            ingest.kill()
            ingest.wait()
    assert "interrupted" in ingest.stderr.read()
    assert frontier.ingester() is None, "the stopped ingest still holds the frontier"


class _Frozen:
    """A frontier whose acknowledgements never arrive."""

    def __init__(self, frontier: Frontier) -> None:
        self._frontier = frontier

    def ack_item(self, data: bytes) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._frontier, name)


def test_seed_refuses_a_second_job_and_status_shows_the_first(
        tmp_path: Path, redis_url: str) -> None:
    db = tmp_path / "archive.db"
    seed(db, redis_url, "--column", "360300", "--since", "2021-01-01")
    code, _, err = run("seed", "--db", db, "--redis", redis_url, "--column", "360300")
    assert code == 4 and "still running" in err

    report = status(redis_url)
    assert (report["job"]["columns"], report["job"]["since"]) == (["360300"], "2021-01-01")
    assert (report["queued"], report["in_flight"], report["items_waiting"]) == (1, 0, 0)
    assert report["workers"] == [] and not report["drained"]
    code, text, _ = run("status", "--redis", redis_url)
    assert "1 requests queued" in text and "since 2021-01-01" in text
    assert "workers seen: 0" in text

    code, _, err = run("crawl", "--redis", redis_url, "--column", "360300")
    assert code == 2 and "pdarchive seed" in err
    code, _, err = run("status", "--redis", "redis://127.0.0.1:1/0")
    assert code == 2 and "cannot reach Redis" in err


def test_items_survive_the_trip_through_redis_byte_for_byte(tmp_path: Path) -> None:
    from archive.store import FetchedPage
    from crawler.items import ArticleItem, ListPageItem, ParsedPageResult

    page = FetchedPage("http://js.people.com.cn/n2/2020/1019/c360300-34359164.html", 200,
                       {"Content-Type": "text/html"}, "江苏 \x00\xff".encode("utf-8", "replace")
                       + bytes(range(256)), "2020-10-19T06:37:00+00:00", article_id="34359164",
                       edition="gb", page=1, encoding="gb18030", extractor="text_title")
    article = ArticleItem("34359164", "360300", {"gb": [ParsedPageResult(page, {"title": "标题"})]})
    listing = ListPageItem("360300", FetchedPage("http://js.people.com.cn/GB/360300/", 200, {},
                                                 b"<html>", "t", kind="list"))
    failure = FailureItem("http://x/", "fetch", "HTTP 500", 500)
    for item in (article, listing, failure):
        envelope = itemcodec.decode(itemcodec.encode(item, item_id="w:7", job="j"))
        assert (envelope.item, envelope.item_id, envelope.job) == (item, "w:7", "j")
    with pytest.raises(itemcodec.UndecodableItem):
        itemcodec.decode(b'{"format": 99}')
