"""The archive's write path alone: an article a transaction against group commits.

Articles of a synthetic mirror (tests/support/mirror.py), parsed once, untimed, are
written with ``ItemWriter`` (the one write path of a crawl and of ingest) into a new
archive three ways, interleaved, ``--rounds`` times each:

1. one transaction an article (``Archive.transaction``), as ``pdarchive ingest`` writes
   and as a local crawl wrote before its writes were grouped;
2. group commits (``archive.group_commit.GroupCommit``: 64 articles a transaction, the
   full-text index written at the commit), as a local crawl's writer process writes;
3. the same without FTS5's one-character prefix index (what it costs to keep;
   bench/prefix_index.py measures what it buys).

It prints the CPU time per article of the best round of each. Run as
``python -m bench.write [--write]`` from the repository root.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path

from archive import fulltext
from archive.group_commit import BATCH_SIZE, GroupCommit
from archive.store import Archive, FetchedPage, utc_now
from bench.report import write_section
from crawler.items import ArticleItem, ParsedPageResult
from crawler.parse import ParseRefused, parse_document
from crawler.writer import ItemWriter
from tests.support.mirror import build_mirror
from tests.support.synthetic import machine


def articles(site: Path, host: str = "js.people.com.cn") -> list[ArticleItem]:
    """One item per single-page article of the mirror, as the spider hands it over."""
    items = []
    for path in sorted((site / host).rglob("c360300-*.html")):
        url = f"http://{host}/{path.relative_to(site / host)}"
        body = path.read_bytes()
        try:
            parsed = parse_document(body, url, "text/html")
        except ParseRefused:
            continue
        record = parsed.record
        if record["page_count"] != 1:
            continue
        fetched = FetchedPage(url=url, status=200, headers={"Content-Type": "text/html"},
                              body=body, fetched_at=utc_now(), article_id=record["article_id"],
                              edition="gb", page=1, encoding=parsed.encoding,
                              extractor=parsed.extractor)
        items.append(ArticleItem(record["article_id"], record["column_id"],
                                 {"gb": [ParsedPageResult(fetched, record)]}))
    return items


def one_transaction_each(archive: Archive, writer: ItemWriter, items: list[ArticleItem]) -> None:
    for item in items:
        with archive.transaction():
            writer.write(item)


def grouped(archive: Archive, writer: ItemWriter, items: list[ArticleItem]) -> None:
    group: GroupCommit[int] = GroupCommit(archive, size=BATCH_SIZE,
                                          on_commit=lambda *_: None,
                                          on_failure=lambda *_: None)
    for number, item in enumerate(items):
        group.write(number, partial(writer.write, item))
    group.commit()


def timed(path: Path, items: list[ArticleItem],
          write: Callable[[Archive, ItemWriter, list[ArticleItem]], None],
          prefix: bool = True) -> float:
    """CPU seconds of writing ``items`` into a new archive at ``path`` (its index
    without the one-character prefix index unless ``prefix``)."""
    archive = Archive(path)
    if not prefix:
        with archive.transaction():
            fulltext.rebuild(archive.db, prefix=False)  # (the archive is empty)
    writer = ItemWriter(archive, archive.start_run({}, ["360300"]))
    started = time.process_time()
    write(archive, writer, items)
    seconds = time.process_time() - started
    archive.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    ways: dict[str, tuple[Callable[[Archive, ItemWriter, list[ArticleItem]], None], bool]] = {
        "one transaction an article": (one_transaction_each, True),
        f"groups of {BATCH_SIZE}, index written at the commit": (grouped, True),
        f"groups of {BATCH_SIZE}, no prefix index": (grouped, False),
    }
    with tempfile.TemporaryDirectory() as scratch:
        print(f"building and parsing a mirror of {args.articles} articles …", file=sys.stderr)
        items = articles(build_mirror(Path(scratch) / "site", args.articles))
        runs: dict[str, list[float]] = {name: [] for name in ways}
        for round_ in range(args.rounds):
            for number, (name, (write, prefix)) in enumerate(ways.items()):
                path = Path(scratch) / f"archive-{round_}-{number}.db"
                runs[name].append(timed(path, items, write, prefix))
    base = min(runs[next(iter(ways))])
    lines = [
        f"{len(items):,} single-page articles of a synthetic mirror, parsed beforehand, "
        f"written with `ItemWriter` into a new archive each time (pages, capture bodies, "
        f"topics, index); CPU time, best of {args.rounds} rounds, the three ways "
        f"interleaved; {machine()}, {date.today()}.",
        "",
        "| writes | ms per article (best) | all rounds (s) | vs one transaction each |",
        "|---|---:|---:|---:|",
    ]
    for name, seconds in runs.items():
        best = min(seconds)
        lines.append(f"| {name} | {1000 * best / len(items):.2f} | "
                     f"{', '.join(f'{value:.2f}' for value in seconds)} | {best / base:.2f}× |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section("write", table, "The write path: an article a transaction against groups")


if __name__ == "__main__":
    main()
