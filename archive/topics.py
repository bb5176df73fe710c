"""Topic tagging: a transparent score per article from a weighted vocabulary.

An article's score for a topic is the sum, over the topic's terms, of the term's
weight times the times the term occurs in the title block and body, each term
counted at most ``max_count`` times so one word repeated cannot carry an article.
Terms and text are compared in normalised form (NFKC, traditional → simplified,
see textnorm), so the BIG5 edition of an article scores as its GB edition does.
Nothing is learned or hidden: ``explain`` lists every term that counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .textnorm import normalise

#: the topic configured by default, and the one `--topic` means when none is named
PARTY_BUILDING = "party-building"


class TopicConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Topic:
    name: str
    terms: Mapping[str, float]
    threshold: float
    max_count: int = 3
    #: normalised form of each term, computed once
    _normalised: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_config(cls, name: str, section: Mapping[str, Any]) -> Topic:
        try:
            terms = {str(term): float(weight) for term, weight in section["terms"].items()}
            threshold = float(section["threshold"])
            max_count = int(section.get("max_count", 3))
        except (KeyError, TypeError, ValueError) as error:
            raise TopicConfigError(
                f"[topics.{name}] needs terms (term = weight) and a threshold") from error
        if not terms:
            raise TopicConfigError(f"[topics.{name}] has no terms")
        normalised = {term: normalise(term).replace(" ", "") for term in terms}
        return cls(name, terms, threshold, max_count, normalised)


@dataclass(frozen=True)
class TopicScore:
    topic: str
    score: float
    #: term → times counted (after the max_count cap)
    matches: dict[str, int]
    threshold: float

    @property
    def relevant(self) -> bool:
        return self.score >= self.threshold


def topics_from_config(extra: Mapping[str, Any]) -> list[Topic]:
    """The ``[topics.NAME]`` sections of a loaded configuration (``Config.extra``)."""
    return [Topic.from_config(name, section)
            for name, section in (extra.get("topics") or {}).items()]


def article_text(article: Mapping[str, Any]) -> str:
    parts = [article.get("pretitle") or "", article.get("title") or "",
             article.get("subtitle") or "", *(article.get("body") or [])]
    return normalise("\n".join(parts)).replace(" ", "")


def score(topic: Topic, article: Mapping[str, Any], text: str | None = None) -> TopicScore:
    text = article_text(article) if text is None else text
    matches: dict[str, int] = {}
    total = 0.0
    for term, weight in topic.terms.items():
        count = min(text.count(topic._normalised[term]), topic.max_count)
        if count:
            matches[term] = count
            total += weight * count
    return TopicScore(topic.name, round(total, 2), matches, topic.threshold)


def score_all(topics: Sequence[Topic], article: Mapping[str, Any]) -> list[TopicScore]:
    text = article_text(article)
    return [score(topic, article, text) for topic in topics]


def explain(result: TopicScore, topic: Topic) -> str:
    """The arithmetic behind a score, one line per term that counted."""
    lines = [f"topic {topic.name}: score {result.score:g} "
             f"({'at or above' if result.relevant else 'below'} threshold {topic.threshold:g})"]
    for term, count in sorted(result.matches.items(), key=lambda item: -topic.terms[item[0]]):
        weight = topic.terms[term]
        capped = " (capped)" if count == topic.max_count else ""
        lines.append(f"  {term}: {count} × {weight:g} = {count * weight:g}{capped}")
    if not result.matches:
        lines.append("  no term of the vocabulary occurs")
    return "\n".join(lines)
