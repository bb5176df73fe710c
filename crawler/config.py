"""Crawl configuration: the shipped defaults, overridden by a user's TOML file."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """The configuration file is missing or says something that cannot be used."""


_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | float) -> float:
    """Seconds in ``value``: a number (of seconds, as systemd reads a bare number), or
    ``"90s"``, ``"30m"``, ``"6h"``, ``"1d"``, ``"1h30m"``. Raises ConfigError for
    anything else or a negative value."""
    if isinstance(value, bool):
        raise ConfigError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            text += "s"
        if not text or _DURATION.sub("", text):
            raise ConfigError(f"not a duration: {value!r} (use e.g. 90s, 30m, 6h, 1d, 1h30m)")
        seconds = sum(float(number) * _UNIT_SECONDS[unit]
                      for number, unit in _DURATION.findall(text))
    if seconds < 0:
        raise ConfigError(f"a duration cannot be negative: {value!r}")
    return seconds


@dataclass(frozen=True)
class Column:
    id: str
    name: str
    default: bool = False


@dataclass(frozen=True)
class Config:
    base_url: str
    columns: tuple[Column, ...]
    editions: tuple[str, ...] = ("gb",)
    max_list_pages: int = 1000
    delay: float = 1.0
    concurrent_per_host: int = 1
    autothrottle: bool = True
    obey_robots_txt: bool = True
    user_agent: str = "pdarchive/0.1"
    timeout: float = 30.0
    max_response_bytes: int = 10 * 1024 * 1024
    retries: int = 3
    backoff_base: float = 2.0
    #: seconds before a failed page is tried again by a later crawl; doubles with
    #: every failed attempt, up to failure_retry_max
    failure_retry_after: float = 3600.0
    failure_retry_max: float = 7 * 86400.0
    #: blocked answers in a row (HTTP 403/429/503, block pages) after which a crawl
    #: stops (0: never); each one first raises the pause between requests, from
    #: blocked_pause seconds, doubling, up to blocked_pause_max
    max_blocked: int = 8
    blocked_pause: float = 5.0
    blocked_pause_max: float = 120.0
    #: processes parsing pages beside the crawl: "auto" (cores − 1) or a number (0: none)
    parse_workers: int | str = "auto"
    source: str = "defaults"
    extra: dict[str, Any] = field(default_factory=dict)

    def column(self, column_id: str) -> Column:
        for column in self.columns:
            if column.id == column_id:
                return column
        return Column(column_id, f"column {column_id}")

    def default_columns(self) -> list[Column]:
        return [column for column in self.columns if column.default]


def _read(path: Path | None) -> dict[str, Any]:
    if path is None:
        text = resources.files("crawler").joinpath("default_config.toml").read_text("utf-8")
    else:
        try:
            text = path.read_text("utf-8")
        except OSError as error:
            raise ConfigError(f"cannot read config {path}: {error.strerror}") from error
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path or 'default config'}: {error}") from error


#: [crawl] keys given as durations ("1h", "7d") or seconds
_DURATION_KEYS = ("failure_retry_after", "failure_retry_max", "blocked_pause",
                  "blocked_pause_max")


def load_config(path: str | Path | None = None) -> Config:
    """The defaults, with every key the file at ``path`` sets taking precedence."""
    data = _read(None)
    if path is not None:
        user = _read(Path(path))
        for section in ("site", "crawl"):
            data.setdefault(section, {}).update(user.get(section, {}))
        for key in set(user) - {"site", "crawl"}:
            data[key] = user[key]
    crawl = data.get("crawl", {})
    try:
        columns = tuple(
            Column(str(item["id"]), str(item.get("name", item["id"])), bool(item.get("default")))
            for item in data.get("columns", [])
        )
    except KeyError as error:
        raise ConfigError("every [[columns]] entry needs an id") from error
    for key in _DURATION_KEYS:
        if key in crawl:
            try:
                crawl[key] = parse_duration(crawl[key])
            except ConfigError as error:
                raise ConfigError(f"[crawl] {key}: {error}") from None
    editions = tuple(crawl.get("editions", ["gb"]))
    if set(editions) - {"gb", "big5"}:
        raise ConfigError(f"unknown edition in {editions}: use gb and/or big5")
    known = set(Config.__dataclass_fields__)
    return Config(
        base_url=str(data.get("site", {}).get("base_url", "http://js.people.com.cn")).rstrip("/"),
        columns=columns,
        editions=editions,
        source=str(path) if path else "defaults",
        extra={key: value for key, value in data.items()
               if key not in {"site", "crawl", "columns"}},
        **{key: value for key, value in crawl.items() if key in known and key != "editions"},
    )
