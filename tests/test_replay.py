"""The loopback replay proxy itself: byte-exact pages, 404s, faults, the request log."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.replay import (
    Body,
    Delay,
    Large,
    Redirect,
    ReplayServer,
    Reset,
    StatusSequence,
    Truncate,
)

SITE = Path(__file__).parent / "fixtures/reference/site"
SEED = "http://js.people.com.cn/n2/2020/1019/c360300-34359164.html"
SEED_FILE = SITE / "js.people.com.cn/n2/2020/1019/c360300-34359164.html"
ROBOTS = "http://js.people.com.cn/robots.txt"


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with ReplayServer(SITE) as replay:
        yield replay


@pytest.fixture(autouse=True)
def _clean(server: ReplayServer) -> Iterator[None]:
    yield
    server.clear_faults()
    server.reset_log()


def opener(server: ReplayServer) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({"http": server.proxy_url}))


def fetch(server: ReplayServer, url: str, method: str = "GET",
          timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with opener(server).open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_serves_manifest_pages_byte_exact_with_their_headers(server: ReplayServer) -> None:
    status, headers, body = fetch(server, SEED)
    assert status == 200
    assert body == SEED_FILE.read_bytes()
    assert headers["Content-Type"] == "text/html"
    assert headers["Content-Length"] == str(len(body))
    manifest = json.loads((SITE / "MANIFEST.json").read_text("utf-8"))
    failing = "http://js.people.com.cn/n2/2021/0220/c360300-34600777.html"
    assert manifest[failing]["status"] == 500
    assert fetch(server, failing)[0] == 500
    assert fetch(server, ROBOTS)[2].startswith(b"User-agent:")


def test_unknown_url_is_404_with_an_html_body(server: ReplayServer) -> None:
    status, headers, body = fetch(server, "http://js.people.com.cn/n2/2099/0101/c1-1.html")
    assert status == 404
    assert headers["Content-Type"] == "text/html"
    assert b"404" in body


def test_head_sends_headers_only(server: ReplayServer) -> None:
    status, headers, body = fetch(server, SEED, method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(SEED_FILE.stat().st_size)


def test_origin_form_request_uses_the_host_header(server: ReplayServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/robots.txt", headers={"Host": "js.people.com.cn"})
    response = connection.getresponse()
    assert response.status == 200
    assert response.read() == (SITE / "js.people.com.cn/robots.txt").read_bytes()
    connection.close()


def test_request_log(server: ReplayServer) -> None:
    fetch(server, SEED)
    fetch(server, ROBOTS, method="HEAD")
    fetch(server, SEED)
    assert server.requests == [("GET", SEED), ("HEAD", ROBOTS), ("GET", SEED)]
    assert server.count(SEED) == 2
    assert server.count(ROBOTS, method="GET") == 0
    server.reset_log()
    assert server.requests == []


def test_add_and_remove_pages(server: ReplayServer) -> None:
    new = "http://js.people.com.cn/n2/2024/0101/c360300-50000000.html"
    server.add_page(new, b"<html><body>new</body></html>", headers={"Content-Type": "text/html"})
    assert fetch(server, new)[::2] == (200, b"<html><body>new</body></html>")
    server.remove_page(new)
    server.remove_page(ROBOTS)
    try:
        assert fetch(server, new)[0] == 404
        assert fetch(server, ROBOTS)[0] == 404
    finally:
        server.add_page(ROBOTS, (SITE / "js.people.com.cn/robots.txt").read_bytes(),
                        headers={"Content-Type": "text/plain"})


def test_status_sequence_then_the_real_page(server: ReplayServer) -> None:
    server.inject(SEED, StatusSequence([500, 503, 200]))
    statuses = [fetch(server, SEED)[0] for _ in range(4)]
    assert statuses == [500, 503, 200, 200]
    assert fetch(server, SEED)[2] == SEED_FILE.read_bytes()


def test_truncate_announces_full_length_and_sends_less(server: ReplayServer) -> None:
    server.inject(SEED, Truncate(100))
    with pytest.raises(http.client.IncompleteRead) as caught:
        fetch(server, SEED)
    assert len(caught.value.partial) == 100
    assert caught.value.expected == SEED_FILE.stat().st_size - 100


def test_reset_drops_the_connection(server: ReplayServer) -> None:
    server.inject(SEED, Reset())
    with pytest.raises((ConnectionError, urllib.error.URLError, http.client.HTTPException)):
        fetch(server, SEED)


def test_delay_times_the_client_out(server: ReplayServer) -> None:
    server.inject(SEED, Delay(10))
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        fetch(server, SEED, timeout=0.3)


def test_body_large_and_redirect(server: ReplayServer) -> None:
    utf8 = {"Content-Type": "text/html; charset=utf-8"}
    server.inject(SEED, Body(b"\xff\xfe garbage", headers=utf8))
    assert fetch(server, SEED)[2] == b"\xff\xfe garbage"
    server.inject(SEED, Large(3_000_000))
    _, headers, body = fetch(server, SEED)
    assert len(body) == 3_000_000 == int(headers["Content-Length"])
    assert body.rstrip().endswith(b"</html>")
    server.inject(SEED, Redirect(ROBOTS))
    assert fetch(server, SEED)[2].startswith(b"User-agent:")
    assert server.requests[-2:] == [("GET", SEED), ("GET", ROBOTS)]


def test_latency_applies_to_concurrent_requests_in_parallel() -> None:
    with ReplayServer(SITE, latency=0.3) as slow:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda _: fetch(slow, SEED)[0], range(10)))
        elapsed = time.monotonic() - started
    assert statuses == [200] * 10
    assert 0.3 <= elapsed < 1.5
