"""An article's versions: ``pdarchive history`` and ``pdarchive export --versions``.

A version is what the site showed between two changes: the articles row holds the
current one, ``article_versions`` the earlier ones, and ``version_captures`` links
each to the captures (raw pages) it was read from. Each version is told with its
capture times and the fields that differ from the version before it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .export import NO_FILTERS, export_record, iter_records
from .filters import Filters
from .store import Archive

#: fields of an exported record that say when, not what: never "changed"
TIME_FIELDS = ("fetched_at", "first_seen_at", "updated_at")


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    """The fields of ``after`` (an exported record) that differ from ``before``."""
    if before is None:
        return []
    keys = dict.fromkeys([*before, *after])
    return [key for key in keys if key not in TIME_FIELDS
            and before.get(key) != after.get(key)]


def versions(archive: Archive, article_id: str) -> list[dict[str, Any]]:
    """Every version of the article, oldest first: ``version``, ``captured_at`` (its
    newest capture's fetch time; the record's fetch time when it has no capture),
    ``replaced_at`` (None for the current one), ``changed`` (fields that differ from
    the version before), ``captures`` and ``record`` (as exported)."""
    told: list[dict[str, Any]] = []
    previous: dict[str, Any] | None = None
    for version in archive.history(article_id):
        record = export_record(version["record"])
        captures = version["captures"]
        told.append({
            "version": version["version"],
            "captured_at": (max(capture["fetched_at"] for capture in captures) if captures
                            else record.get("fetched_at")),
            "replaced_at": version["replaced_at"],
            "changed": changed_fields(previous, record),
            "captures": captures,
            "record": record,
        })
        previous = record
    return told


def render_text(article_id: str, told: list[dict[str, Any]]) -> str:
    current = told[-1]["record"]
    lines = [f"{article_id} {current['title']} ({len(told)} "
             f"version{'s' * (len(told) != 1)})"]
    for version in told:
        pages = len({capture["url"] for capture in version["captures"]})
        when = version["captured_at"] or "?"
        state = ("current" if version["replaced_at"] is None
                 else f"replaced {version['replaced_at']}")
        if pages:
            lines.append(f"version {version['version']}: captured {when} "
                         f"({pages} page{'s' * (pages != 1)}), {state}")
        else:  # stored before every capture was kept (schema 4), or with no page
            lines.append(f"version {version['version']}: fetched {when} (its pages were "
                         f"not kept), {state}")
        if version["changed"]:
            lines.append(f"  changed: {', '.join(version['changed'])}")
            if "title" in version["changed"]:
                lines.append(f"  title: {version['record']['title']}")
        elif len(told) > 1 and version is not told[0]:
            lines.append("  changed: nothing a reader sees (re-read by an older parser?)")
    return "\n".join(lines)


def iter_json_with_versions(archive: Archive, filters: Filters = NO_FILTERS,
                            query: str | None = None) -> Iterator[bytes]:
    """The export's records, each with its ``version`` and ``versions``: the earlier
    versions, oldest first, each ``{"version", "captured_at", "replaced_at",
    "changed", "record"}``."""
    for record in iter_records(archive, filters, query):
        told = versions(archive, record["article_id"])
        record["version"] = told[-1]["version"] if told else 1
        record["versions"] = [{key: version[key] for key in (
            "version", "captured_at", "replaced_at", "changed", "record")}
            for version in told[:-1]]
        yield json.dumps(record, ensure_ascii=False).encode("utf-8")
