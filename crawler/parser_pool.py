"""Parse article pages in worker processes while the crawl keeps fetching.

Parsing is CPU work (3–5 ms a page) that would otherwise run on the reactor's
thread and stall downloads; worker processes take it to the other cores. With
``parse_workers = 0`` pages are parsed in the crawl process itself.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from crawler.parse import ParsedPage, parse_document

logger = logging.getLogger(__name__)


def worker_count(setting: int | str) -> int:
    """``"auto"``: one worker per core but one (the crawl process keeps a core)."""
    if setting == "auto":
        return max(1, (os.cpu_count() or 2) - 1)
    return max(0, int(setting))


def _exit_with_parent(parent: int) -> None:
    """Run in each worker: end it when the crawl that started it is gone.

    A crawl killed with ``kill -9`` cannot shut its pool down, and an idle worker
    blocked on its queue would otherwise live on forever.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class ParserPool:
    def __init__(self, workers: int) -> None:
        # "spawn": a forked child would inherit the running reactor and its threads.
        self._executor = (
            ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                initializer=_exit_with_parent, initargs=(os.getpid(),))
            if workers > 0 else None
        )

    async def parse(self, body: bytes, url: str, content_type: str | None) -> ParsedPage:
        if self._executor is not None:
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(
                    self._executor, parse_document, body, url, content_type)
            except BrokenProcessPool:
                logger.warning("parser worker died; parsing in the crawl process from now on")
                self._executor = None
        return parse_document(body, url, content_type)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
