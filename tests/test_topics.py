"""Topic tagging over the reference pages: party-building articles score above the
default threshold in both editions; an unrelated article scores below it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.topics import PARTY_BUILDING, Topic, explain, score, topics_from_config
from crawler.config import load_config
from crawler.parse import parse_page

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED_PAGES = sorted((FIXTURES / "reference/expected/pages").glob("*.json"))
UNRELATED = FIXTURES / "unrelated/c360302-39990001.html"
UNRELATED_URL = "http://js.people.com.cn/n2/2023/1205/c360302-39990001.html"


@pytest.fixture(scope="module")
def party_building() -> Topic:
    topics = {topic.name: topic for topic in topics_from_config(load_config().extra)}
    return topics[PARTY_BUILDING]


@pytest.mark.parametrize("page", EXPECTED_PAGES, ids=lambda path: path.name[:60])
def test_reference_articles_are_party_building(page: Path, party_building: Topic) -> None:
    result = score(party_building, json.loads(page.read_text("utf-8")))
    assert result.relevant, explain(result, party_building)


def test_both_editions_of_the_seed_score_the_same(party_building: Topic) -> None:
    pages = FIXTURES / "reference/expected/pages"
    gb = json.loads((pages / "js.people.com.cn_n2_2020_1019_c360300-34359164.html.json")
                    .read_text("utf-8"))
    big5 = json.loads((pages / "js.people.com.cn_BIG5_n2_2020_1019_c360300-34359164.html.json")
                      .read_text("utf-8"))
    assert score(party_building, gb) == score(party_building, big5)


def test_unrelated_article_scores_below_threshold(party_building: Topic) -> None:
    article = parse_page(UNRELATED.read_bytes(), UNRELATED_URL)
    result = score(party_building, article)
    assert not result.relevant
    assert result.matches == {"党员": 1}  # mentioned in passing: counted, not enough
    assert "below threshold" in explain(result, party_building)


def test_a_term_counts_at_most_max_count_times(party_building: Topic) -> None:
    article = {"title": "党建", "body": ["党建" * 50]}
    assert score(party_building, article).matches["党建"] == party_building.max_count


def test_vocabulary_is_configurable() -> None:
    topic = Topic.from_config("tourism", {"terms": {"观鸟": 5, "水鸟": 2}, "threshold": 4})
    article = parse_page(UNRELATED.read_bytes(), UNRELATED_URL)
    assert score(topic, article).relevant
