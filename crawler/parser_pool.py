"""Parse article pages in worker processes while the caller keeps working.

Parsing is CPU work (3–5 ms a page) that would otherwise run on the crawl's reactor
thread and stall downloads, or hold up the writes of ``pdarchive reparse``; worker
processes take it to the other cores. With ``parse_workers = 0`` pages are parsed in
the calling process itself.

``ParserPool`` serves the crawl (one page at a time, awaited); ``parse_in_order``
serves reparse (groups of pages streamed through the workers, results in order).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from crawler.helper_process import become_helper
from crawler.parse import ParsedPage, ParseRefused, parse_document

#: a page to parse: its body, URL and Content-Type
Page = tuple[bytes, str, str | None]
Key = TypeVar("Key")

logger = logging.getLogger(__name__)


def worker_count(setting: int | str, *, keep_a_core: bool = True) -> int:
    """``"auto"``: one worker per core, less one core left to the caller when
    ``keep_a_core`` (a crawl's own process is busy too; reparse's mostly waits for
    the parses). At least one either way."""
    if setting == "auto":
        return max(1, (os.cpu_count() or 2) - keep_a_core)
    return max(0, int(setting))


def _worker_setup(parent: int) -> None:
    """Run in each worker: leave Ctrl-C to the crawl, end with the crawl.

    Ctrl-C reaches every process of the terminal's group: a worker that took it
    printed a KeyboardInterrupt traceback of 20 lines; the crawl shuts the pool
    down itself. A crawl killed with ``kill -9`` cannot, and an idle worker blocked
    on its queue would otherwise live on forever: it watches its parent.
    """
    become_helper("pdarchive-parse")
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _executor(workers: int) -> ProcessPoolExecutor | None:
    # "spawn": a forked child would inherit the running reactor and its threads.
    return (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                initializer=_worker_setup, initargs=(os.getpid(),))
            if workers > 0 else None)


class ParserPool:
    def __init__(self, workers: int) -> None:
        self._executor = _executor(workers)

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


class ParserCrashed(Exception):
    """The parser raised something other than a refusal on a page (a bug): the page's
    parse in ``parse_all``, so that one page cannot stop the parsing of all others.
    Only the text travels (an exception from a worker process may not pickle)."""


def parse_all(pages: list[Page]) -> list[ParsedPage | ParseRefused | ParserCrashed]:
    """Each page's parse, or the refusal it raised, or how the parser crashed on it."""
    results: list[ParsedPage | ParseRefused | ParserCrashed] = []
    for body, url, content_type in pages:
        try:
            results.append(parse_document(body, url, content_type))
        except ParseRefused as refusal:
            results.append(refusal)
        except Exception as error:  # noqa: BLE001 (a parser bug, reported per page)
            results.append(ParserCrashed(f"{type(error).__name__}: {error}"))
    return results


def parse_in_order(groups: Iterable[tuple[Key, list[Page]]], workers: int, *,
                   ahead: int = 64
                   ) -> Iterator[tuple[Key, list[ParsedPage | ParseRefused | ParserCrashed]]]:
    """Each group's key and the parse of its pages, in the order of ``groups``.

    At most ``ahead`` groups are read ahead and in the workers at a time, so memory
    stays flat however many groups there are (Executor.map would read them all first).
    Should a worker die, the rest is parsed in this process.
    """
    executor = _executor(workers)
    groups = iter(groups)
    pending: deque[tuple[Key, list[Page],
                         Future[list[ParsedPage | ParseRefused | ParserCrashed]]]] = deque()
    try:
        while executor is not None:
            if len(pending) < ahead and (group := next(groups, None)) is not None:
                pending.append((*group, executor.submit(parse_all, group[1])))
                continue
            if not pending:
                return
            key, pages, future = pending.popleft()
            try:
                yield key, future.result()
            except BrokenProcessPool:
                logger.warning("a parser worker died; parsing in this process from now on")
                executor.shutdown(wait=False, cancel_futures=True)
                executor = None
                pending.appendleft((key, pages, future))
        for key, pages, _ in pending:
            yield key, parse_all(pages)
        for key, pages in groups:
            yield key, parse_all(pages)
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
