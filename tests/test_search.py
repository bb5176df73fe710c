"""Search: against a substring oracle (tests/support/oracle.py) over the reference archive,
in both scripts. The archive is a real crawl of the reference mirror with both
editions."""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from random import Random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opencc import OpenCC

from archive import fulltext, search
from archive.search import QueryError, compile_query, highlight, parse_query, snippet
from archive.store import Archive
from archive.textnorm import normalise
from tests.support.cli import export_jsonl, pdarchive
from tests.support.oracle import EXPECTED, SEED, has, indexed_fields, oracle

S2T = OpenCC("s2t")


# -- the archive ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def archive(archive_db: Path) -> Iterator[Archive]:
    opened = Archive(archive_db, readonly=True)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def articles(archive_db: Path) -> list[dict[str, Any]]:
    return export_jsonl(archive_db)


def found(archive: Archive, query: str, **filters: Any) -> list[str]:
    """Article ids of every match, best first; asserts each comes once."""
    ids = [hit.article_id for hit in search.search(archive, query, limit=None, **filters)]
    assert len(ids) == len(set(ids)), f"{query!r}: an article twice: {ids}"
    return ids


# -- sampled queries --------------------------------------------------------------------

def _runs(article: dict[str, Any]) -> list[str]:
    return [run for field in indexed_fields(article) for run in field.split()]


def _sample_substrings(length: int, count: int, seed: int) -> list[str]:
    """Distinct ``length``-character substrings of the reference articles' normalised
    text (within runs), sampled with a fixed seed."""
    pool = sorted({run[start:start + length] for article in EXPECTED for run in _runs(article)
                   for start in range(len(run) - length + 1)})
    return Random(seed).sample(pool, count)


def _sample_raw(count: int, seed: int) -> list[str]:
    """Substrings of the original paragraphs holding punctuation, e.g. ``党建，工作``."""
    rng = Random(seed)
    paragraphs = [p for article in EXPECTED for p in article["body"]]
    samples: list[str] = []
    while len(samples) < count:
        paragraph = rng.choice(paragraphs)
        start = rng.randrange(len(paragraph))
        text = paragraph[start:start + rng.randint(4, 9)]
        if normalise(text) and " " in normalise(text) and text not in samples:
            samples.append(text)
    return samples


TWO_CHARS = _sample_substrings(2, 30, seed=2)
ONE_CHAR = _sample_substrings(1, 10, seed=1)
LONGER = [text for length in (3, 4, 6, 8) for text in _sample_substrings(length, 4, seed=length)]
PUNCTUATED = _sample_raw(12, seed=5)


@pytest.mark.parametrize("text", TWO_CHARS + ONE_CHAR + LONGER)
def test_substring_in_either_script_finds_exactly_the_oracles_articles(
        archive: Archive, articles: list[dict[str, Any]], text: str) -> None:
    wanted = oracle(articles, [text])
    assert wanted, f"{text!r} was sampled from the articles"
    assert set(found(archive, text)) == wanted
    traditional = S2T.convert(text)
    assert set(found(archive, traditional)) == oracle(articles, [traditional])


def test_the_samples_test_both_scripts() -> None:
    converted = [text for text in TWO_CHARS + ONE_CHAR + LONGER if S2T.convert(text) != text]
    assert len(converted) >= 10
    assert all(normalise(S2T.convert(text)) == text for text in converted[:10])


@pytest.mark.parametrize("text", PUNCTUATED)
def test_text_with_punctuation_matches_as_the_normalised_text_does(
        archive: Archive, articles: list[dict[str, Any]], text: str) -> None:
    assert set(found(archive, text)) == oracle(articles, [text]) != set()
    quoted = f'"{S2T.convert(text)}"'
    assert set(found(archive, quoted)) == oracle(articles, [text])


def _title_body_pairs() -> list[tuple[str, str]]:
    pairs = []
    for article in EXPECTED[:8]:
        title, body = indexed_fields(article)[:2]
        pairs.append((title.replace(" ", "")[-2:], body.replace(" ", "")[:2]))
    return pairs


@pytest.mark.parametrize(("tail", "head"), _title_body_pairs())
def test_title_and_body_are_separate_fields(archive: Archive, articles: list[dict[str, Any]],
                                            tail: str, head: str) -> None:
    # as one run (or one phrase) the words must stand together in one field
    assert set(found(archive, tail + head)) == oracle(articles, [tail + head])
    assert set(found(archive, f'"{tail} {head}"')) == oracle(articles, [f"{tail} {head}"])
    # as two words each may be anywhere
    both = oracle(articles, [tail, head])
    assert set(found(archive, f"{tail} {head}")) == both
    assert set(found(archive, f"{S2T.convert(tail)}  {S2T.convert(head)}")) == both
    assert both - oracle(articles, [tail + head]), "the words meet only across fields"


def test_a_phrase_runs_on_from_one_paragraph_into_the_next(
        archive: Archive, articles: list[dict[str, Any]]) -> None:
    seed = next(article for article in articles if article["article_id"] == SEED)
    first, second = seed["body"][0], seed["body"][1]
    phrase = f'"{first[-3:]} {second[:3]}"'
    assert SEED in found(archive, phrase)
    assert set(found(archive, phrase)) == oracle(articles, [f"{first[-3:]} {second[:3]}"])


@pytest.mark.parametrize(("query", "all_of", "any_of", "none_of"), [
    ("黨建 城管", ["党建", "城管"], [], []),
    ("党建 OR 城管", [], ["党建", "城管"], []),
    ("物業 OR 公積金 江蘇", ["江苏"], ["物业", "公积金"], []),
    ("住建 -城管", ["住建"], [], ["城管"]),
    ("党委 NOT 物業", ["党委"], [], ["物业"]),
    ('江苏 -"党建工作"', ["江苏"], [], ["党建工作"]),
    ("党建 AND 城管", ["党建", "城管"], [], []),
    ("2020年", ["2020年"], [], []),
    ("２０２０年", ["2020年"], [], []),
    ("11个市", ["11个市"], [], []),
    ("1-2个", ["1-2个"], [], []),
    ("“建起来”", ["建起来"], [], []),
    ("智慧党建+", ["智慧党建"], [], []),
    ("（扩大）会", ["扩大 会"], [], []),
    ("黨委從“建起來”", ["党委从 建起来"], [], []),
    ("張鑫", ["张鑫"], [], []),
    ("人民网-江苏", ["人民网 江苏"], [], []),
    ("新华日报 喜迎二十大", ["新华日报", "喜迎二十大"], [], []),
])
def test_query_syntax_against_the_oracle(archive: Archive, articles: list[dict[str, Any]],
                                         query: str, all_of: list[str], any_of: list[str],
                                         none_of: list[str]) -> None:
    wanted = oracle(articles, all_of, any_of, none_of)
    assert wanted, "a query that finds nothing tests little"
    assert set(found(archive, query)) == wanted


def test_both_editions_are_one_article_found_by_either_text(archive: Archive) -> None:
    for query in ("江苏住建行业党委从“建起来”走向“强起来”",
                  "江蘇住建行業黨委從“建起來”走向“強起來”"):
        assert found(archive, f'"{query}"') == [SEED]


def test_ranking_is_fts5_bm25_with_the_title_weighted_above_the_body(
        archive: Archive) -> None:
    assert fulltext.WEIGHTS[0] > fulltext.WEIGHTS[1]
    weights = ", ".join(map(str, fulltext.WEIGHTS))
    for query in ("徐州", "物业服务", "2020年", "党建 江苏 委", "城管 OR 物业", "来 起"):
        expected = archive.db.execute(
            f"SELECT articles.article_id, -bm25(articles_fts, {weights}) AS score "
            "FROM articles_fts JOIN articles ON articles.rowid = articles_fts.rowid "
            "WHERE articles_fts MATCH ? ORDER BY score DESC, articles.rowid DESC",
            [compile_query(query)]).fetchall()
        hits = search.search(archive, query, limit=None)
        assert [hit.article_id for hit in hits] == [row[0] for row in expected], query
        for hit, (_, score) in zip(hits, expected, strict=True):
            assert hit.score == pytest.approx(score, rel=1e-5)


def test_every_match_is_ranked_counted_and_reachable_page_by_page(
        archive: Archive, articles: list[dict[str, Any]]) -> None:
    """No window: the pages of a common query together hold each match once, in the
    order of the whole ranking, and every page knows the exact total."""
    wanted = oracle(articles, ["党"])
    everything = search.search_page(archive, "党", limit=None)
    assert everything.total == len(wanted) == len(everything.hits) > 15
    pages, offset = [], 0
    while True:
        page = search.search_page(archive, "党", offset=offset, limit=4)
        assert page.total == len(wanted)
        if not page.hits:
            break
        pages += page.hits
        offset += 4
    assert [hit.article_id for hit in pages] == [hit.article_id for hit in everything.hits]
    assert {hit.article_id for hit in pages} == wanted


def test_sort_by_time(archive: Archive, articles: list[dict[str, Any]]) -> None:
    newest = search.search_page(archive, "黨建", sort="newest", limit=None).hits
    oldest = search.search_page(archive, "黨建", sort="oldest", limit=None).hits
    times = [hit.published_at for hit in newest]
    assert times == sorted(times, reverse=True) and len(times) == len(oracle(articles, ["党建"]))
    assert [hit.article_id for hit in oldest] == [hit.article_id for hit in reversed(newest)]
    with pytest.raises(ValueError):
        search.search_page(archive, "党建", sort="random")


def test_times_are_compared_as_instants(archive: Archive,
                                        articles: list[dict[str, Any]]) -> None:
    """03:00 UTC is 11:00 in Beijing, where the stored times are."""
    cut = "2020-10-19T14:37:00+08:00"
    in_utc = "2020-10-19T06:37:00Z"
    wanted = {a["article_id"] for a in articles if a["published_at"] >= cut}
    assert set(found(archive, "黨建", since=in_utc)) == wanted & oracle(articles, ["党建"])
    before = {a["article_id"] for a in articles if a["published_at"] <= cut}
    assert set(found(archive, "黨建", until=in_utc)) == before & oracle(articles, ["党建"])


@pytest.mark.parametrize("written", ["2021/01/01", "2021年1月1日", "2021-1-1"])
def test_dates_in_other_forms_are_read_not_dropped(archive: Archive, written: str) -> None:
    assert found(archive, "黨建", since=written) == found(archive, "黨建", since="2021-01-01")


def test_until_a_month_takes_in_the_whole_month(archive: Archive,
                                                articles: list[dict[str, Any]]) -> None:
    wanted = {a["article_id"] for a in articles if a["published_at"][:7] <= "2020-10"}
    assert set(found(archive, "黨建", until="2020年10月")) == wanted & oracle(articles, ["党建"])


@pytest.mark.parametrize("bad", ["2020-13-45", "yesterday", "2021-02-30", "21-01-01"])
def test_a_date_that_cannot_be_read_is_an_error(archive: Archive, bad: str) -> None:
    with pytest.raises(ValueError, match=repr(bad).strip("'")):
        search.search(archive, "党建", since=bad)


def test_the_source_filter_folds_scripts_and_widths(archive: Archive) -> None:
    simplified = found(archive, "黨建", source="人民网")
    assert simplified
    assert found(archive, "黨建", source="人民網") == simplified
    assert found(archive, "黨建", source="人民網－江蘇") == found(archive, "黨建",
                                                              source="人民网-江苏")


def test_an_operator_left_alone_by_dropped_punctuation_is_an_error() -> None:
    for query in ("张鑫 OR ，", "， OR 张鑫", "张鑫 NOT 。", '张鑫 OR ""'):
        with pytest.raises(QueryError, match="no letter or digit"):
            parse_query(query)
    assert parse_query("张鑫 ，") == parse_query("张鑫")


def test_filters_narrow_the_matches(archive: Archive, articles: list[dict[str, Any]]) -> None:
    def matching(test: Any) -> set[str]:
        return {a["article_id"] for a in articles if test(a)} & oracle(articles, ["党建"])

    assert set(found(archive, "黨建", since="2021-01-01", until="2021-12-31")) == matching(
        lambda a: a["published_at"][:4] == "2021") != set()
    assert set(found(archive, "黨建", until="2020-10-19")) == matching(
        lambda a: a["published_at"][:10] <= "2020-10-19") != set()
    assert set(found(archive, "黨建", since="2020-10-19T14:37:00+08:00")) == matching(
        lambda a: a["published_at"] >= "2020-10-19T14:37:00+08:00")
    assert set(found(archive, "黨建", source="新华日报")) == matching(
        lambda a: "新华日报" in a["source"]) != set()
    assert set(found(archive, "黨建", source="人民网－江苏")) == matching(
        lambda a: "人民网-江苏" in a["source"]) != set()
    assert found(archive, "黨建", column="360300") and found(archive, "黨建", column="1") == []


# -- snippets -----------------------------------------------------------------------------

def test_snippets_mark_the_hit_in_the_original_script() -> None:
    text = "據介紹，五年來江蘇省住房和城鄉建設行業黨委堅持落實管黨治黨政治責任。"
    assert snippet(text, "党委", marks=("[", "]")) == (
        "據介紹，五年來江蘇省住房和城鄉建設行業[黨委]堅持落實管黨治黨政治責任。")
    assert highlight(text, "党 住房", marks=("[", "]")) == (
        "據介紹，五年來江蘇省[住房]和城鄉建設行業[黨]委堅持落實管[黨]治[黨]政治責任。")
    assert snippet(text, '"城鄉，建設"') == text  # no such phrase: the start of the text
    assert snippet("营业额达１２３㍿株式会社ＡＢＣ", "123", marks=("[", "]")) == (
        "营业额达[１２３]㍿株式会社ＡＢＣ")
    assert snippet("x㍿y", "式会", marks=("[", "]")) == "x[㍿]y"
    assert snippet("Ａｌｐｈａ 5G，江苏", "5g 江苏", marks=("[", "]")) == "Ａｌｐｈａ [5G]，[江苏]"


def test_a_long_text_is_cut_around_its_first_hit() -> None:
    text = "甲" * 300 + "党建工作" + "乙" * 300
    excerpt = snippet(text, "黨建", width=40)
    assert excerpt.startswith("…") and excerpt.endswith("…")
    assert "\x02党建\x03" in excerpt and len(excerpt) == 40 + 2 + 2


# -- malformed queries ----------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "", "   ", '"', '""', "*", ")", "(", "，。！", "-", "--", "-党建", '-"党建"', "党建 OR -城管",
])
def test_a_query_with_nothing_to_find_is_a_clear_error(query: str) -> None:
    with pytest.raises(QueryError) as error:
        compile_query(query)
    assert str(error.value)


@pytest.mark.parametrize(("query", "same_as"), [
    ('"党建', "党建"), ('党建"', "党建"), ("党建*", "党建"), ("(党建", "党建"),
    ("title:党建", '"title 党建"'), ("^党建", "党建"), ("NEAR(党建 工作)", '"near 党建" 工作'),
    ("NEAR(", "near"), ("OR", "or"), ("AND", "and"), ("NOT", "not"),
    ('党建 "', "党建"), ("党建 OR", "党建 or"), ("OR 党建", "or 党建"), ("党建 NOT", "党建 not"),
    ('"党建" "工作"', "党建 工作"), ("党建 AND", "党建 and"),
])
def test_fts_syntax_is_literal_text(archive: Archive, query: str, same_as: str) -> None:
    assert compile_query(query) == compile_query(same_as)
    found(archive, query)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('党建工作黨"*()-:^+{}[],.，。 NEARORANDTabc5')),
               max_size=14) | st.text(max_size=12))
def test_every_query_compiles_to_valid_fts5_or_is_refused(archive: Archive, query: str) -> None:
    try:
        expression = compile_query(query)
    except QueryError:
        return
    archive.db.execute(f"SELECT count(*) FROM {fulltext.TABLE} WHERE {fulltext.TABLE} MATCH ?",
                       [expression]).fetchone()


def test_compiled_queries() -> None:
    assert compile_query("黨建") == '"党建"'
    assert compile_query("党") == '"党"*'
    assert compile_query("住房和城") == '"住房 房和 和城"'
    assert compile_query("党建，工作") == '"党建 建 工作"'
    assert compile_query("建设，党") == '"建设 设 党"*'
    assert compile_query("5G OR 党建 -城管") == '(("5g" OR "党建")) NOT ("城管")'
    assert parse_query("a b OR c").groups == (
        (parse_query("a").phrases[0],), tuple(parse_query("b c").phrases))


# -- the command ------------------------------------------------------------------------------

def test_search_command_json(archive_db: Path, articles: list[dict[str, Any]]) -> None:
    result = pdarchive("search", "黨建", "--db", archive_db, "--format", "json", check=True)
    hits = json.loads(result.stdout)
    assert {hit["article_id"] for hit in hits} == oracle(articles, ["党建"])
    assert len(hits) == len({hit["article_id"] for hit in hits})
    for hit in hits:
        assert list(hit) == ["article_id", "url", "title", "published_at", "source",
                             "snippet", "score"]
        marked = hit["snippet"].split("«")[1].split("»")[0]
        assert normalise(marked) == "党建", hit["snippet"]
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    limited = pdarchive("search", "黨建", "--db", archive_db, "--format", "json",
                        "--limit", "3", check=True)
    assert json.loads(limited.stdout) == hits[:3]


def test_search_command_filters(archive_db: Path, articles: list[dict[str, Any]]) -> None:
    result = pdarchive("search", "党建 物业", "--db", archive_db, "--format", "json",
                       "--since", "2020-01-01", "--until", "2022-12-31", "--column", "360300",
                       "--source", "人民网", check=True)
    wanted = {a["article_id"] for a in articles if "2020" <= a["published_at"][:4] <= "2022"
              and "人民网" in a["source"]} & oracle(articles, ["党建", "物业"])
    assert {hit["article_id"] for hit in json.loads(result.stdout)} == wanted != set()


def test_search_command_text_marks_hits_plainly_when_not_on_a_terminal(
        archive_db: Path) -> None:
    result = pdarchive("search", "徐州城管", "--db", archive_db, check=True)
    assert "«徐州城管»" in result.stdout and "\x1b[" not in result.stdout
    assert result.stdout.startswith("1. ")
    nothing = pdarchive("search", "没有这样的词语", "--db", archive_db)
    assert nothing.returncode == 0 and nothing.stdout == ""
    assert "no article matches" in nothing.stderr


def test_search_command_highlights_on_a_terminal(archive_db: Path) -> None:
    leader, follower = pty.openpty()
    env = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    with subprocess.Popen([sys.executable, "-m", "archive.cli", "search", "徐州城管", "--db",
                           str(archive_db)], stdout=follower, stderr=subprocess.PIPE,
                          env=env) as process:
        os.close(follower)
        output = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closes when the process ends
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=60) == 0
    os.close(leader)
    text = output.decode("utf-8")
    assert f"{search.ANSI_MARKS[0]}徐州城管{search.ANSI_MARKS[1]}" in text and "«" not in text


@pytest.mark.parametrize("query", ['"', "*", "NEAR(", ")", "", "，。", "OR", "a OR -b",
                                   '"党建', "-党建 -城管"])
def test_search_command_never_shows_a_traceback(archive_db: Path, query: str) -> None:
    result = pdarchive("search", "--db", archive_db, "--format", "json", "--", query)
    assert "Traceback" not in result.stderr
    if result.returncode == 2:
        assert result.stderr.startswith("pdarchive: error: cannot search for")
        assert result.stderr.count("\n") == 1 and result.stdout == ""
    else:
        assert result.returncode == 0, result.stderr
        assert isinstance(json.loads(result.stdout), list)


def test_search_command_usage_errors(archive_db: Path, tmp_path: Path) -> None:
    assert pdarchive("search", "党建", "--db", archive_db, "--limit", "0").returncode == 2
    missing = pdarchive("search", "党建", "--db", tmp_path / "none.db")
    assert missing.returncode == 2 and "no archive" in missing.stderr
    for bad in (["张鑫 OR ，"], ["党建", "--since", "2020-13-45"],
                ["党建", "--page", "2", "--offset", "3"], ["党建", "--sort", "random"]):
        result = pdarchive("search", *bad, "--db", archive_db)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, bad


def test_search_command_total_paging_and_sort(archive_db: Path,
                                              articles: list[dict[str, Any]]) -> None:
    wanted = oracle(articles, ["党建"])
    every = json.loads(pdarchive("search", "党建", "--db", archive_db, "--format", "json",
                                 "--limit", "1000", check=True).stdout)
    first = pdarchive("search", "党建", "--db", archive_db, "--format", "json", "--limit", "5",
                      check=True)
    assert f"{len(wanted):,} articles match; 1–5 shown, best first" in first.stderr
    second = pdarchive("search", "党建", "--db", archive_db, "--format", "json", "--limit",
                       "5", "--page", "2", check=True)
    assert json.loads(second.stdout) == every[5:10]
    offset = pdarchive("search", "党建", "--db", archive_db, "--format", "json", "--limit",
                       "5", "--offset", "7", check=True)
    assert json.loads(offset.stdout) == every[7:12]
    newest = json.loads(pdarchive("search", "党建", "--db", archive_db, "--format", "json",
                                  "--limit", "1000", "--sort", "newest", check=True).stdout)
    assert [hit["published_at"] for hit in newest] == sorted(
        (hit["published_at"] for hit in every), reverse=True)


# -- keeping the index current ------------------------------------------------------------------

def _store(db: Path, records: Iterable[dict[str, Any]]) -> None:
    archive = Archive(db)
    for record in records:
        archive.save_article(record, [], run_id=None)
    archive.close()


def _index_rows(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as connection:
        return (connection.execute(f"SELECT count(*) FROM {fulltext.TABLE}").fetchone()[0],
                connection.execute(f"SELECT count(*) FROM {fulltext.TEXT_TABLE}").fetchone()[0])


def test_the_index_follows_updated_articles(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    record = dict(next(a for a in EXPECTED if a["article_id"] == "34401096"))
    _store(db, EXPECTED)
    changed = dict(record, title="徐州城管以案明纪常态开展 5G网络", body=["Ａｌｐｈａ团队测试。"],
                   published_at="2024-01-02T03:04:00+08:00")
    _store(db, [changed])
    archive = Archive(db, readonly=True)
    assert set(found(archive, "月月谈")) == {
        a["article_id"] for a in EXPECTED if has(a, "月月谈")} - {"34401096"}
    assert found(archive, "5g") == found(archive, "5G 网络") == ["34401096"]
    assert found(archive, "alpha") == found(archive, "ALPHA") == ["34401096"]
    assert found(archive, "黨建", since="2024-01-01") == []
    assert found(archive, "徐州", since="2024-01-01") == ["34401096"]
    rowid = archive.db.execute("SELECT rowid FROM articles WHERE article_id = '34401096'"
                               ).fetchone()[0]
    assert rowid // fulltext.ROWID_SLOTS == 202401020304
    archive.close()
    assert _index_rows(db) == (len(EXPECTED), len(EXPECTED))


def test_a_big5_only_article_is_indexed_by_its_own_text(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    record = dict(EXPECTED[0], article_id="1", edition="big5", title="黨建引領物業服務",
                  body=["堅持黨建引領，推動物業管理服務提質增效。"], editors=["張鑫"])
    _store(db, [record])
    archive = Archive(db, readonly=True)
    hits = search.search(archive, "党建 张鑫")
    assert [hit.article_id for hit in hits] == ["1"]
    assert hits[0].snippet == "堅持«黨建»引領，推動物業管理服務提質增效。"


def test_reindex_rebuilds_the_index(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    _store(db, EXPECTED)
    archive = Archive(db, readonly=True)
    before = [(hit.article_id, hit.score) for hit in search.search(archive, "党建 工作")]
    archive.close()
    with sqlite3.connect(db) as connection:
        connection.execute(f"INSERT INTO {fulltext.TABLE} ({fulltext.TABLE}) VALUES ('delete-all')")
        connection.execute(f"DELETE FROM {fulltext.TEXT_TABLE}")
    assert json.loads(pdarchive("search", "党建", "--db", db, "--format", "json",
                                check=True).stdout) == []
    result = pdarchive("reindex", "--db", db)
    assert result.returncode == 0, result.stderr
    assert f"reindexed {len(EXPECTED)} articles" in result.stderr
    archive = Archive(db, readonly=True)
    assert [(hit.article_id, hit.score) for hit in search.search(archive, "党建 工作")] == before
    archive.close()
    assert pdarchive("reindex", "--db", tmp_path / "none.db").returncode == 2
