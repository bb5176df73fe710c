"""``pdarchive stats``: what the archive holds and how the last crawls went."""

from __future__ import annotations

from typing import Any

from .store import Archive


def collect(archive: Archive) -> dict[str, Any]:
    query = archive.db.execute_returning_dicts
    return {
        "articles": query("SELECT count(*) AS n FROM articles")[0]["n"],
        "by_column": query("SELECT column_id, count(*) AS articles FROM articles "
                           "GROUP BY column_id ORDER BY column_id"),
        "by_month": query("SELECT substr(published_at, 1, 7) AS month, count(*) AS articles "
                          "FROM articles GROUP BY month ORDER BY month"),
        "by_edition": query(
            "SELECT edition, count(*) AS pages FROM pages WHERE kind = 'article' "
            "GROUP BY edition ORDER BY edition"),
        "parsed_by_fallback": query(
            "SELECT count(*) AS n FROM articles WHERE extractor = 'fallback'")[0]["n"],
        "last_runs": archive.runs(5),
        "failures": archive.failures(),
    }


def render_text(stats: dict[str, Any]) -> str:
    lines = [f"articles: {stats['articles']}"]
    if stats["parsed_by_fallback"]:
        lines.append(f"  parsed by the generic fallback: {stats['parsed_by_fallback']}")
    lines.append("by column:")
    lines += [f"  {row['column_id']}: {row['articles']}" for row in stats["by_column"]]
    lines.append("by edition (article pages):")
    lines += [f"  {row['edition']}: {row['pages']}" for row in stats["by_edition"]]
    lines.append("by month:")
    lines += [f"  {row['month']}: {row['articles']}" for row in stats["by_month"]]
    lines.append("last runs:")
    for run in stats["last_runs"]:
        lines.append(
            f"  #{run['id']} {run['started_at']} {run['status']}: {run['requests']} requests, "
            f"{run['new']} new, {run['updated']} updated, {run['unchanged']} unchanged, "
            f"{run['failed']} failed" + (f" — {run['message']}" if run.get("message") else ""))
    failures = stats["failures"]
    lines.append(f"open failures: {len(failures)}")
    for failure in failures:
        lines.append(f"  {failure['url']} [{failure['stage']}] {failure['reason']} "
                     f"(attempts {failure['attempts']}, next {failure['next_attempt_at']})")
    return "\n".join(lines)
