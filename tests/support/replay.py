"""Serve a site mirror over loopback as an HTTP forward proxy, with fault injection.

Crawls in the tests and benchmarks never reach the live site: the crawler is pointed
at this server through ``http_proxy`` (Scrapy's HttpProxyMiddleware honours it) and
sends absolute-URL requests (``GET http://js.people.com.cn/GB/360300/index.html``).
The server answers each from a mirror directory and its ``MANIFEST.json``::

    {"http://js.people.com.cn/robots.txt":
        {"file": "js.people.com.cn/robots.txt", "status": 200,
         "headers": {"Content-Type": "text/plain"}}, ...}

``file`` is relative to the mirror directory and served byte-exact with ``status`` and
``headers`` (plus ``Content-Length``); unknown URLs get a 404. Origin-form requests
(``GET /path`` with a ``Host`` header) are accepted too, so ``curl -H 'Host: …'``
works. Tests can change the mirror while it is served (``add_page``, ``remove_page``)
and make single URLs misbehave (``inject`` with one of the faults below).

Usage::

    with ReplayServer(SITE_DIR) as server:
        server.inject("http://js.people.com.cn/GB/360300/index2.html", StatusSequence([503, 200]))
        run_crawl(env={"http_proxy": server.proxy_url})
        assert server.count("http://js.people.com.cn/GB/360300/index2.html") == 2

Run ``python -m tests.support.replay SITE_DIR [--port N] [--latency S]`` to serve a mirror by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import logging
import os
import socket
import struct
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

# Headers the server computes itself; the manifest's values for them are ignored.
_HOP_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive"})


@dataclass(frozen=True)
class Page:
    """One response: status, headers (without Content-Length) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def error_page(status: int) -> Page:
    """A small HTML error page, as a web server would send for ``status``."""
    try:
        title = f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    body = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"
    return Page(status, {"Content-Type": "text/html"}, body.encode("ascii"))


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no fragment: the manifest key form."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    netloc = parts.netloc.lower()
    default_port = {"http": ":80", "https": ":443"}.get(scheme)
    if default_port and netloc.endswith(default_port):
        netloc = netloc[: -len(default_port)]
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


# --------------------------------------------------------------------------- faults


class Fault(Protocol):
    """Something that answers a request in place of the normal page.

    ``apply`` gets the request handler (use its ``send``, ``send_stream``, ``pause``
    and ``reset``) and the page the URL would normally serve (a 404 page for a URL
    the mirror does not have). Faults are shared by the handler threads: keep any
    state behind a lock.
    """

    def apply(self, handler: ReplayHandler, page: Page) -> None: ...


@dataclass
class StatusSequence:
    """Answer successive requests with these statuses in turn, the last one repeating.

    200 serves the real page; any other status a small error page.
    ``StatusSequence([500, 503, 200])``: two failures, then the page for good.
    """

    statuses: Sequence[int]
    _served: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False,
                                  compare=False)

    def __post_init__(self) -> None:
        if not self.statuses:
            raise ValueError("StatusSequence needs at least one status")

    def apply(self, handler: ReplayHandler, page: Page) -> None:
        with self._lock:
            status = self.statuses[min(self._served, len(self.statuses) - 1)]
            self._served += 1
        handler.send(page if status == 200 else error_page(status))


@dataclass(frozen=True)
class Delay:
    """Wait ``seconds`` before answering normally (to make clients time out).

    The wait ends early when the server stops, so a long delay never holds up a test.
    """

    seconds: float

    def apply(self, handler: ReplayHandler, page: Page) -> None:
        handler.pause(self.seconds)
        handler.send(page)


@dataclass(frozen=True)
class Reset:
    """Close the connection abruptly (TCP RST) without sending any response."""

    def apply(self, handler: ReplayHandler, page: Page) -> None:
        handler.reset()


@dataclass(frozen=True)
class Truncate:
    """Announce the full Content-Length but send only the first ``n_bytes``, then close."""

    n_bytes: int

    def apply(self, handler: ReplayHandler, page: Page) -> None:
        handler.send_stream(page.status, page.headers, len(page.body), [page.body[: self.n_bytes]])
        handler.close_connection = True


@dataclass(frozen=True)
class Cut:
    """Send the first ``n_bytes`` with no Content-Length, then close the connection:
    the page is cut off mid-way, yet the client has no way to tell it from a whole one
    (HTTP/1.1 without a length reads to the end of the connection)."""

    n_bytes: int

    def apply(self, handler: ReplayHandler, page: Page) -> None:
        handler.send_response(page.status)
        for name, value in page.headers.items():
            if name.lower() not in _HOP_HEADERS:
                handler.send_header(name, value)
        handler.send_header("Connection", "close")
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(page.body[: self.n_bytes])
        handler.close_connection = True


@dataclass(frozen=True)
class Body:
    """Serve other bytes: a wrong charset declaration, garbage, an empty body…"""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": "text/html"})
    status: int = 200

    def apply(self, handler: ReplayHandler, page: Page) -> None:
        handler.send(Page(self.status, self.headers, self.body))


_LARGE_HEAD = (b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>large page</title>"
               b"</head><body>\n")
_LARGE_TAIL = b"</body></html>\n"
_LARGE_LINE = b"<p>" + b"padding " * 15 + b"</p>\n"


def _large_page(size: int, chunk_size: int) -> Iterator[bytes]:
    """An HTML page of exactly ``size`` bytes, in chunks, never whole in memory."""
    if size <= len(_LARGE_HEAD) + len(_LARGE_TAIL):
        yield (_LARGE_HEAD + _LARGE_TAIL)[:size]
        return
    yield _LARGE_HEAD
    block = _LARGE_LINE * (chunk_size // len(_LARGE_LINE) + 1)
    remaining = size - len(_LARGE_HEAD) - len(_LARGE_TAIL)
    while remaining > 0:
        piece = block[: min(chunk_size, remaining)]
        yield piece
        remaining -= len(piece)
    yield _LARGE_TAIL


@dataclass(frozen=True)
class Large:
    """Serve a valid HTML page of ``n_bytes`` bytes, streamed in chunks."""

    n_bytes: int
    chunk_size: int = 64 * 1024

    def apply(self, handler: ReplayHandler, page: Page) -> None:
        handler.send_stream(200, {"Content-Type": "text/html; charset=utf-8"}, self.n_bytes,
                            _large_page(self.n_bytes, self.chunk_size))


@dataclass(frozen=True)
class Redirect:
    """Redirect to ``location`` (point two URLs at each other for a loop)."""

    location: str
    status: int = 302

    def apply(self, handler: ReplayHandler, page: Page) -> None:
        body = f'<html><body><a href="{self.location}">moved</a></body></html>\n'.encode()
        handler.send(Page(self.status, {"Location": self.location, "Content-Type": "text/html"},
                          body))


# --------------------------------------------------------------------------- server


class ReplayHandler(http.server.BaseHTTPRequestHandler):
    """Answers GET and HEAD from the ReplayServer's mirror, overrides and faults."""

    protocol_version = "HTTP/1.1"  # keep-alive, as Scrapy's connection pool expects
    server: _HTTPServer

    # BaseHTTPRequestHandler writes headers and body in separate sends; with Nagle's
    # algorithm against the client's delayed ACK each answer stalled ~40 ms.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.server.connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.connection_closed(self.connection)

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def _request_url(self) -> str:
        target = self.path
        if not urlsplit(target).scheme:  # origin-form: GET /path + Host
            target = f"http://{self.headers.get('Host', 'localhost')}{target}"
        return canonical_url(target)

    def _answer(self) -> None:
        replay = self.server.replay
        url = self._request_url()
        replay._record(self.command, url)
        if replay.latency:
            self.pause(replay.latency)
        page = replay.page(url)
        fault = replay.fault(url)
        if fault is None:
            self.send(page)
        else:
            fault.apply(self, page)

    # The methods below are what faults use.

    def send(self, page: Page) -> None:
        """Send ``page`` whole (headers only for HEAD)."""
        self.send_stream(page.status, page.headers, len(page.body), [page.body])

    def send_stream(self, status: int, headers: Mapping[str, str], length: int,
                    chunks: Iterable[bytes]) -> None:
        """Send a response announcing ``Content-Length: length`` and then ``chunks``
        (which may add up to less than ``length``: that is a truncated response)."""
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in _HOP_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command != "HEAD":
            for chunk in chunks:
                self.wfile.write(chunk)

    def pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or until the server stops."""
        self.server.stopping.wait(seconds)

    def reset(self) -> None:
        """Drop the connection with a TCP RST and no response."""
        self.close_connection = True
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the socket closes for real only once its makefile() is closed
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _HTTPServer(http.server.ThreadingHTTPServer):
    """A thread per connection; tracks open connections so stop() can close them."""

    request_queue_size = 128  # a crawl opens many connections at once

    def __init__(self, address: tuple[str, int], replay: ReplayServer) -> None:
        self.replay = replay
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, ReplayHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn): a DNS lookup we
        # neither need nor want.
        super(http.server.HTTPServer, self).server_bind()
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def connection_opened(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def connection_closed(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (timeouts, cancelled downloads) are expected here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ReplayServer:
    """A threaded loopback HTTP forward proxy serving a mirror directory.

    ``manifest`` defaults to ``site_dir/MANIFEST.json``. ``latency`` (seconds) delays
    every answer, in its own thread, so concurrent requests overlap as they would
    against a distant server. ``port=0`` picks a free port.
    """

    def __init__(self, site_dir: Path, manifest: Mapping[str, Any] | None = None, *,
                 latency: float = 0.0, port: int = 0) -> None:
        self.site_dir = Path(site_dir)
        self.latency = latency
        self._requested_port = port
        self._lock = threading.Lock()
        self._manifest: dict[str, dict[str, Any]] = {}
        self._explicit_manifest = manifest is not None
        self.reload(manifest)
        # add_page / remove_page: a Page, or None for a page removed from the mirror
        self._overrides: dict[str, Page | None] = {}
        self._faults: dict[str, Fault] = {}
        self._everywhere: Fault | None = None
        self._log: list[tuple[str, str]] = []
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> ReplayServer:
        if self._server is not None:
            raise RuntimeError("the replay server is already running")
        self._server = _HTTPServer(("127.0.0.1", self._requested_port), self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"replay-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the replay server is not running")
        return self._server.server_address[1]

    @property
    def proxy_url(self) -> str:
        """The value for ``http_proxy``: ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def client_env(self) -> dict[str, str]:
        """This process's environment, with every request sent through this server."""
        return dict(os.environ, http_proxy=self.proxy_url, https_proxy=self.proxy_url,
                    no_proxy="")

    # the mirror

    def reload(self, manifest: Mapping[str, Any] | None = None) -> None:
        """Take a new manifest, or re-read ``MANIFEST.json`` (after the mirror on disk
        changed, e.g. with ``tests.support.mirror.add_articles``)."""
        if manifest is None:
            if self._explicit_manifest:
                raise ValueError("this server was given its manifest: pass the new one")
            manifest = json.loads((self.site_dir / "MANIFEST.json").read_text("utf-8"))
        with self._lock:
            self._manifest = {canonical_url(url): dict(entry) for url, entry in manifest.items()}

    def add_page(self, url: str, body: bytes, status: int = 200,
                 headers: Mapping[str, str] | None = None) -> None:
        """Serve ``body`` at ``url`` from now on, in place of any mirror page there."""
        page = Page(status, dict(headers or {"Content-Type": "text/html"}), body)
        with self._lock:
            self._overrides[canonical_url(url)] = page

    def remove_page(self, url: str) -> None:
        """Answer 404 at ``url`` from now on, even if the mirror has a page there."""
        with self._lock:
            self._overrides[canonical_url(url)] = None

    def page(self, url: str) -> Page:
        """What ``url`` serves when no fault is injected (a 404 page when unknown)."""
        url = canonical_url(url)
        with self._lock:
            if url in self._overrides:
                override = self._overrides[url]
                return override if override is not None else error_page(404)
            entry = self._manifest.get(url)
        if entry is None:
            return error_page(404)
        body = (self.site_dir / entry["file"]).read_bytes()
        return Page(int(entry.get("status", 200)), dict(entry.get("headers") or {}), body)

    # faults

    def inject(self, url: str, fault: Fault) -> None:
        """Answer requests for ``url`` with ``fault`` (replacing any earlier one)."""
        with self._lock:
            self._faults[canonical_url(url)] = fault

    def clear_faults(self, url: str | None = None) -> None:
        """Remove the fault at ``url``, or every fault."""
        with self._lock:
            if url is None:
                self._faults.clear()
            else:
                self._faults.pop(canonical_url(url), None)

    def inject_everywhere(self, fault: Fault | None) -> None:
        """Answer every URL without a fault of its own with ``fault`` (None: stop)."""
        with self._lock:
            self._everywhere = fault

    def fault(self, url: str) -> Fault | None:
        with self._lock:
            return self._faults.get(canonical_url(url), self._everywhere)

    # the request log

    def _record(self, method: str, url: str) -> None:
        with self._lock:
            self._log.append((method, url))

    @property
    def requests(self) -> list[tuple[str, str]]:
        """``(method, absolute URL)`` of every request so far, in arrival order."""
        with self._lock:
            return list(self._log)

    def count(self, url: str, method: str | None = None) -> int:
        """How many requests for ``url`` (of ``method``, or any) arrived so far."""
        url = canonical_url(url)
        with self._lock:
            return sum(1 for m, u in self._log if u == url and method in (None, m))

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a mirror as a loopback HTTP proxy.")
    parser.add_argument("site_dir", type=Path, help="directory holding MANIFEST.json")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
    args = parser.parse_args(argv)
    with ReplayServer(args.site_dir, latency=args.latency, port=args.port) as server:
        print(f"http_proxy={server.proxy_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
