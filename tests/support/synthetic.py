"""A synthetic archive of any size, for the search and export benchmarks.

Articles come from tests/support/mirror.py's generator (its sentences of the reference
articles' bodies, templated sentences, and Zipf-distributed ``RARE_TERMS`` in 8% of
articles: 1.5–4 KB of body text each, as real ones) with a fixed seed, published
every 5 minutes to 2 hours going back from mid-2024 (100,000 articles: about twelve
years), spread over the mirror's eight columns. Each is written through
``Archive.save_article``, as a crawl writes it, so the index is built as the crawl
builds it; the index is optimised at the end, as ``pdarchive reindex`` leaves it.

Building 100,000 articles takes a few minutes; the file is kept and reused when it
already holds the wanted number of articles. With ``captures`` (the WARC export's
benchmark) each article is saved with its page as the mirror serves it
(``tests.support.mirror.render_article``), as a crawl saves it, into a file of its own: the
same articles, plus a capture each.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from random import Random

from archive import fulltext
from archive.store import Archive, FetchedPage, utc_now
from tests.support.mirror import (
    COLUMN_NAMES,
    ENCODINGS,
    NEWEST,
    NEWEST_ID,
    make_article,
    render_article,
)

SEED = 20240628


def default_path(articles: int, captures: bool = False) -> Path:
    suffix = "-captures" if captures else ""
    return Path(tempfile.gettempdir()) / f"pdarchive-bench-{articles}{suffix}.db"


def _count(path: Path, captures: bool = False) -> int:
    if not path.exists():
        return -1
    archive = Archive(path)  # writable: brings a kept archive of an older schema up to date
    try:
        count = int(archive.db.execute("SELECT count(*) FROM articles").fetchone()[0])
        if captures and not archive.db.execute("SELECT 1 FROM captures LIMIT 1").fetchone():
            return -1
        return count
    finally:
        archive.close()


def ensure_archive(articles: int, path: Path | None = None, *, rebuild: bool = False,
                   captures: bool = False) -> Path:
    """The archive at ``path`` with ``articles`` synthetic articles, built if needed;
    with ``captures``, each with its raw page."""
    path = path or default_path(articles, captures)
    if not rebuild and _count(path, captures) == articles:
        return path
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    started = time.perf_counter()
    rng = Random(SEED)
    columns = sorted(COLUMN_NAMES)
    archive = Archive(path)
    published, article_id = NEWEST, NEWEST_ID
    for serial in range(articles):
        article = make_article(rng, serial, article_id, published, rng.choice(columns), 0)
        record = article.record()
        record["pages"] = [record["url"]]
        pages = [FetchedPage(
            url=record["url"], status=200,
            headers={"Content-Type": f"text/html; charset={ENCODINGS[article.template]}",
                     "Server": "nginx"},
            body=render_article(article), fetched_at=utc_now(), article_id=record["article_id"],
            edition="gb", page=1)] if captures else []
        archive.save_article(record, pages, run_id=None)
        published -= timedelta(minutes=rng.randint(5, 120))
        article_id -= rng.randint(1, 50)
        if serial % 10_000 == 9_999:
            print(f"  {serial + 1} articles, {time.perf_counter() - started:.0f} s",
                  file=sys.stderr)
    with archive.transaction():
        archive.db.execute(f"INSERT INTO {fulltext.TABLE} ({fulltext.TABLE}) "
                           "VALUES ('optimize')")
    archive.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    archive.close()
    print(f"built {articles} articles into {path} in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    return path


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}")
