"""``pdarchive stats``: what the archive holds and how the last crawls went."""

from __future__ import annotations

from typing import Any

from .filters import Filters
from .store import Archive


def collect(archive: Archive, topic: str | None = None,
            min_score: float | None = None) -> dict[str, Any]:
    """Counts of the archive, or of the articles of ``topic`` scoring ``min_score`` up."""
    clauses, params = Filters(topic=topic, min_score=min_score).clauses("a")
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""

    def query(sql: str) -> list[dict[str, Any]]:
        return archive.rows(sql.format(where=where), params)

    return {
        "topic": {"name": topic, "min_score": min_score} if topic else None,
        "articles": query("SELECT count(*) AS n FROM articles AS a{where}")[0]["n"],
        "by_column": query("SELECT column_id, count(*) AS articles FROM articles AS a{where} "
                           "GROUP BY column_id ORDER BY column_id"),
        "by_month": query("SELECT substr(published_at, 1, 7) AS month, count(*) AS articles "
                          "FROM articles AS a{where} GROUP BY month ORDER BY month"),
        "by_edition": query(
            "SELECT p.edition, count(*) AS pages FROM pages AS p JOIN articles AS a "
            "USING (article_id){where} GROUP BY p.edition ORDER BY p.edition"),
        "by_topic": archive.rows(
            "SELECT topic, count(*) AS scored, round(avg(score), 2) AS mean_score "
            "FROM article_topics GROUP BY topic ORDER BY topic"),
        "parsed_by_fallback": query(
            "SELECT count(*) AS n FROM articles AS a"
            + (f"{where} AND" if where else " WHERE") + " extractor = 'fallback'")[0]["n"],
        "last_runs": archive.runs(5),
        "failures": archive.failures(),
        "failures_by_kind": archive.rows(
            "SELECT coalesce(kind, stage) AS kind, count(*) AS count FROM failures "
            "GROUP BY 1 ORDER BY 2 DESC, 1"),
        # how much room each kind of capture takes: the whole archive's, whatever the topic
        "space": archive.space(),
        "missing_editions": {row["edition"]: row["n"] for row in archive.rows(
            "SELECT edition, count(*) AS n FROM missing_editions GROUP BY edition "
            "ORDER BY edition")},
    }


def render_text(stats: dict[str, Any]) -> str:
    topic = stats.get("topic")
    lines = [f"articles: {stats['articles']}" + (
        f" (topic {topic['name']}, score ≥ {topic['min_score']:g})" if topic else "")]
    if stats["parsed_by_fallback"]:
        lines.append(f"  parsed by the generic fallback: {stats['parsed_by_fallback']}")
    lines.append("by column:")
    lines += [f"  {row['column_id']}: {row['articles']}" for row in stats["by_column"]]
    lines.append("by edition (article pages):")
    lines += [f"  {row['edition']}: {row['pages']}" for row in stats["by_edition"]]
    lines.append("by month:")
    lines += [f"  {row['month']}: {row['articles']}" for row in stats["by_month"]]
    space = stats.get("space") or {}
    if space:
        lines.append("space (captures, distinct bodies, bytes as fetched, as stored):")
    for kind, label in (("article", "article pages"), ("list", "list pages"),
                        ("picture", "pictures")):
        if kind in space:
            row = space[kind]
            lines.append(f"  {label}: {row['captures']} captures, {row['bodies']} bodies, "
                         f"{_size(row['bytes'])}, {_size(row['stored_bytes'])} stored")
    lines.append("last runs:")
    for run in stats["last_runs"]:
        lines.append(
            f"  #{run['id']} {run['started_at']} {run['status']}: {run['requests']} requests, "
            f"{run['new']} new, {run['updated']} updated, {run['unchanged']} unchanged, "
            f"{run['failed']} failed" + (f" — {run['message']}" if run.get("message") else ""))
    for edition, count in stats.get("missing_editions", {}).items():
        lines.append(f"articles with no {edition} edition (the site has none): {count}")
    failures = stats["failures"]
    kinds = ", ".join(f"{row['kind']} {row['count']}" for row in stats.get("failures_by_kind", []))
    lines.append(f"open failures: {len(failures)}" + (f" ({kinds})" if kinds else ""))
    for failure in failures:
        kind = f"; {failure['kind']}" if failure.get("kind") else ""
        lines.append(f"  {failure['url']} [{failure['stage']}] {failure['reason']} "
                     f"(attempts {failure['attempts']}, next {failure['next_attempt_at']}{kind})")
    return "\n".join(lines)


def _size(count: int) -> str:
    """Bytes as a person reads them: ``5,120 bytes``, ``2.3 MB``."""
    if count < 1024 * 1024:
        return f"{count:,} bytes"
    if count < 1024 ** 3:
        return f"{count / 1024 / 1024:.1f} MB"
    return f"{count / 1024 ** 3:.2f} GB"
