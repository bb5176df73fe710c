"""Crawl configuration: the shipped defaults, overridden by a user's TOML file."""

from __future__ import annotations

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
    max_list_pages: int = 0
    delay: float = 1.0
    concurrent_per_host: int = 1
    autothrottle: bool = True
    obey_robots_txt: bool = True
    user_agent: str = "pdarchive/0.1"
    timeout: float = 30.0
    max_response_bytes: int = 10 * 1024 * 1024
    retries: int = 3
    backoff_base: float = 2.0
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
