"""A throwaway ``redis-server`` on loopback, for the distributed-crawl tests and benchmark.

Usage::

    with RedisServer(tmp_dir) as server:
        run(["pdarchive", "seed", "--redis", server.url, ...])

Nothing is persisted (no RDB snapshots, no AOF); the server is terminated on exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from tests.support.ports import free_port

REDIS_SERVER = shutil.which("redis-server")


class RedisServer:
    def __init__(self, directory: Path) -> None:
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.directory = Path(directory)
        self.port = 0
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        """Start on a free port; on another one if the port was taken meanwhile (by a
        server of a test running beside this one, say)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            if self._start_on(free_port()):
                return self
        raise RuntimeError(f"redis-server did not start in {self.directory}")

    def _start_on(self, port: int) -> bool:
        self.port, self.url = port, f"redis://127.0.0.1:{port}/0"
        self._process = subprocess.Popen(
            [str(REDIS_SERVER), "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        try:
            while self._process.poll() is None and time.monotonic() < deadline:
                try:
                    answered = client.config_get("dir").get("dir")
                except redis.ConnectionError:
                    time.sleep(0.02)
                    continue
                if answered == os.path.realpath(self.directory):
                    return True
                break  # another server's port: ours cannot bind it
        finally:
            client.close()
        self.stop()
        return False

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
