"""``pdarchive serve`` for the tests: a real server process on a free loopback port."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

#: urllib without the environment's proxies: the server is on loopback
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str, timeout: float = 30) -> tuple[int, bytes]:
    """Status and body of a GET; error statuses are returned, not raised."""
    try:
        with OPENER.open(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    def get(self, path: str, **params: str) -> tuple[int, bytes]:
        query = f"?{urlencode(params)}" if params else ""
        return fetch(f"{self.url}{path}{query}")

    def errors(self) -> list[str]:
        """What the server wrote besides its start line: tracebacks, warnings."""
        return [line for line in self.log[1:] if line.strip()]


@contextmanager
def served(db: Path, timeout: float = 30, prefix: Sequence[str] = (),
           args: Sequence[str] = ()) -> Iterator[Server]:
    """``pdarchive serve --port 0`` on ``db``; yields once it answers. ``prefix``: a
    command to run it under (``setpriv`` to another user, say); ``args``: more options."""
    process = subprocess.Popen(
        [*prefix, sys.executable, "-m", "archive.cli", "serve", "--db", str(db), "--port", "0",
         *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    first = process.stderr.readline()
    found = re.search(r"http://127\.0\.0\.1:\d+", first)
    if not found:
        process.kill()
        raise AssertionError(f"pdarchive serve did not start: {first}{process.stderr.read()}")
    server = Server(found.group(0), process, [first])
    drain = threading.Thread(target=lambda: server.log.extend(process.stderr or ()), daemon=True)
    drain.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if fetch(f"{server.url}/-/versions.json", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(f"pdarchive serve did not answer: {server.log}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=15)
        drain.join(timeout=5)
