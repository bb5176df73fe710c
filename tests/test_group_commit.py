"""Group commits (archive/group_commit.py, Archive.begin_batch): many writes in one
transaction, the full-text index written at the commit, a write that fails for its own
reason taken out of its batch, nothing reported before it is committed."""

from __future__ import annotations

import sqlite3
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from archive import fulltext
from archive.group_commit import GroupCommit
from archive.search import search
from archive.store import Archive, FetchedPage, utc_now


def article(number: int, body: str) -> dict[str, Any]:
    article_id = f"3440{number:04d}"
    url = f"http://js.people.com.cn/n2/2021/0301/c360300-{article_id}.html"
    return {"article_id": article_id, "column_id": "360300", "url": url, "edition": "gb",
            "page_count": 1, "title": f"第{number}篇 党建工作", "pretitle": "", "subtitle": "",
            "published_at": f"2021-03-01T10:{number % 60:02d}:00+08:00",
            "source": "人民网-江苏频道", "source_url": None, "editors": ["张鑫"],
            "authors": [], "photographers": [], "body": [body], "images": [],
            "pages": [url], "extractor": "rm_txt"}


def page(record: dict[str, Any]) -> FetchedPage:
    return FetchedPage(url=record["url"], status=200, headers={"Content-Type": "text/html"},
                       body=f"<html><body>{record['body'][0]}</body></html>".encode(),
                       fetched_at=utc_now(), article_id=record["article_id"], edition="gb",
                       page=1)


def save(archive: Archive, record: dict[str, Any]) -> str:
    return archive.save_article(record, [page(record)], None)


def found(archive: Archive, query: str) -> set[str]:
    return {hit.article_id for hit in search(archive, query)}


def reader(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


def test_a_batch_is_committed_whole_and_reported_only_then(fresh_db: Archive) -> None:
    committed: list[tuple[int, str]] = []
    group: GroupCommit[int] = GroupCommit(fresh_db, size=3, on_commit=lambda key, outcome:
                                          committed.append((key, outcome)),
                                          on_failure=lambda key, error: None)
    other = reader(fresh_db.path)
    group.write(1, partial(save, fresh_db, article(1, "苏州 社区 党员")))
    group.write(2, partial(save, fresh_db, article(2, "南京 基层 治理")))
    assert committed == []  # not committed, not reported
    assert other.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    group.write(3, partial(save, fresh_db, article(3, "无锡 乡村 振兴")))  # the third: commit
    assert committed == [(1, "new"), (2, "new"), (3, "new")]
    assert other.execute("SELECT count(*) FROM articles").fetchone()[0] == 3
    group.write(4, partial(save, fresh_db, article(4, "扬州 党建 引领")))
    group.commit()
    assert committed[-1] == (4, "new")
    assert found(fresh_db, "党员") == {"34400001"}


def test_the_index_written_at_the_commit_is_the_index_a_rebuild_makes(
        fresh_db: Archive) -> None:
    """Deferred FTS5 statements, an article changed twice within one batch included
    (its 'delete' and insert statements must run in order)."""
    group: GroupCommit[int] = GroupCommit(fresh_db, size=100, on_commit=lambda *_: None,
                                          on_failure=lambda *_: None)
    texts = ["苏州 社区 党员 服务", "南京 基层 治理 创新", "无锡 乡村 振兴 党建"]
    for number, text in enumerate(texts):
        group.write(number, partial(save, fresh_db, article(number, text)))
    group.write(10, partial(save, fresh_db, article(1, "南京 志愿 服务 队伍")))
    group.write(11, partial(save, fresh_db, article(1, "南京 红色 教育 基地")))
    group.commit()
    queries = ["党员", "治理", "志愿", "红色", "教育基地", "服务", "党建工作", "南京"]
    incremental = {query: found(fresh_db, query) for query in queries}
    assert incremental["治理"] == set() and incremental["志愿"] == set()
    assert incremental["红色"] == {"34400001"}
    with fresh_db.transaction():
        fulltext.rebuild(fresh_db.db)
    assert {query: found(fresh_db, query) for query in queries} == incremental
    assert fresh_db.conn.execute(
        f"INSERT INTO {fulltext.TABLE} ({fulltext.TABLE}, rank) VALUES ('integrity-check', 1)"
    ) is not None  # FTS5 checks its index against search_text's terms: raises if not


def test_a_write_that_fails_for_its_own_reason_leaves_the_batch_and_the_rest_is_kept(
        fresh_db: Archive) -> None:
    committed: list[int] = []
    failed: list[tuple[int, str]] = []
    counts = {"written": 0}

    def counted(record: dict[str, Any]) -> str:
        counts["written"] += 1
        return save(fresh_db, record)

    def broken() -> None:
        save(fresh_db, article(9, "写到一半"))  # written, then the write fails halfway
        raise ValueError("a bug in the writer")

    group: GroupCommit[int] = GroupCommit(
        fresh_db, size=10, on_commit=lambda key, _: committed.append(key),
        on_failure=lambda key, error: failed.append((key, str(error))),
        snapshot=lambda: dict(counts), restore=lambda saved: counts.update(saved))
    group.write(1, partial(counted, article(1, "苏州 社区 党员")))
    group.write(2, partial(counted, article(2, "南京 基层 治理")))
    group.write(3, broken)
    group.write(4, partial(counted, article(4, "扬州 党建 引领")))
    group.commit()
    assert committed == [1, 2, 4]
    assert failed == [(3, "a bug in the writer")]
    assert counts["written"] == 3  # the replay of 1 and 2 counted once
    assert fresh_db.known_article_ids() == {"34400001", "34400002", "34400004"}
    assert found(fresh_db, "写到") == set()


def test_a_fault_of_the_archive_loses_the_batch_and_reports_none_of_it(
        fresh_db: Archive) -> None:
    committed: list[int] = []
    group: GroupCommit[int] = GroupCommit(fresh_db, size=10,
                                          on_commit=lambda key, _: committed.append(key),
                                          on_failure=lambda key, error: None)
    group.write(1, partial(save, fresh_db, article(1, "苏州 社区 党员")))

    def disk_full() -> None:
        raise sqlite3.OperationalError("database or disk is full")

    with pytest.raises(sqlite3.OperationalError):
        group.write(2, disk_full)
    group.commit()
    assert committed == []
    assert fresh_db.known_article_ids() == set()
    assert not fresh_db.in_batch
    save(fresh_db, article(3, "无锡 乡村 振兴"))  # the archive is usable again
    assert found(fresh_db, "乡村") == {"34400003"}
