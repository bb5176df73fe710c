"""Crawl configuration: every default, documented, and a user's TOML file checked
against them when it is loaded.

This module is the one place a default lives (as Scrapy's ``default_settings.py`` is
for Scrapy): ``SITE`` and ``CRAWL`` below list every key of the ``[site]`` and
``[crawl]`` sections with its default and what it means; ``crawler/settings.py``
takes Scrapy's politeness settings from them (``scrapy_settings``), and the shipped
``default_config.toml`` only shows them (a test keeps it in step). The shipped file
holds the columns and the topic vocabularies.

``load_config`` refuses, with one ``ConfigError`` naming the file, section and key, a
file that is not TOML, a key no section knows (with the nearest known key: ``delai``,
did you mean ``delay``?), a value of the wrong type or out of range, a ``[[columns]]``
entry or ``[topics.NAME]`` table that is incomplete, and a column list with no
default column. ``pdarchive`` reports it in one line, exit code 2, before anything
starts: a bad value never reaches Scrapy (where ``concurrent_per_host = 0`` made a
crawl wait for ever and ``delay = "fast"`` raised inside Twisted).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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


# -- value checks: each returns the value to use or raises ConfigError(what it needs) --

Check = Callable[[Any], Any]


def _number(minimum: float = 0.0, *, above: bool = False, unit: str = "") -> Check:
    need = f"a number{unit} {'above' if above else 'of at least'} {minimum:g}"

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"needs {need}, not {value!r}")
        if value < minimum or (above and value == minimum):
            raise ConfigError(f"needs {need}, not {value!r}")
        return float(value)
    return check


def _integer(minimum: int = 0, meaning: str = "") -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"needs a whole number of at least {minimum}{meaning}, "
                              f"not {value!r}")
        return value
    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"needs true or false (unquoted), not {value!r}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"needs a non-empty string, not {value!r}")
    return value


def _url(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"https?://[^/\s]+(/\S*)?", value):
        raise ConfigError(f"needs an http:// or https:// address as a string, not {value!r}")
    return value.rstrip("/")


def _duration(value: Any) -> float:
    return parse_duration(value)


def _editions(value: Any) -> tuple[str, ...]:
    if (not isinstance(value, (list, tuple)) or not value
            or not all(isinstance(item, str) and item in ("gb", "big5") for item in value)):
        raise ConfigError(f'needs a list of "gb" and/or "big5", not {value!r}')
    return tuple(dict.fromkeys(value))


def _workers(value: Any) -> int | str:
    if value == "auto":
        return value
    try:
        return _integer(0)(value)  # type: ignore[no-any-return]
    except ConfigError:
        raise ConfigError(f'needs "auto" or a whole number of at least 0, not {value!r}') from None


def _column_id(value: Any) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not text.isdigit() or not text.isascii():
        raise ConfigError(f"needs the column's number (as in /GB/360300/), not {value!r}")
    return text


@dataclass(frozen=True)
class Option:
    """One key of a section: its default, the check of a configured value, and what
    it means."""

    default: Any
    check: Check
    doc: str


#: the ``[site]`` section
SITE: dict[str, Option] = {
    "base_url": Option("http://js.people.com.cn", _url,
                       "The channel; BIG5 (traditional-script) pages live under "
                       "{base_url}/BIG5/..."),
}

#: the ``[crawl]`` section
CRAWL: dict[str, Option] = {
    "editions": Option(("gb",), _editions,
                       'Editions fetched for every article: "gb" (simplified), '
                       '"big5" (traditional).'),
    "max_list_pages": Option(1000, _integer(0, " (0: follow to the end)"),
                             "Stop following a column's list pages after this many, with a "
                             "warning (0: follow to the end). A walk also ends at a list "
                             "page that lists no article it has not seen on an earlier "
                             "page: a pager that repeats itself or runs on empty."),
    "delay": Option(1.0, _number(0, unit=" of seconds"),
                    "Seconds between two requests to the site (Scrapy's DOWNLOAD_DELAY; "
                    "also AutoThrottle's starting delay)."),
    "concurrent_per_host": Option(1, _integer(1), "Requests in flight at once to the site."),
    "autothrottle": Option(True, _boolean,
                           "Adapt the delay to the site's response times (Scrapy's "
                           "AutoThrottle)."),
    "obey_robots_txt": Option(True, _boolean, "Fetch nothing robots.txt forbids."),
    "user_agent": Option(
        "pdarchive/0.1 (+https://github.com/pdarchive/pdarchive; research archive)", _text,
        "The User-Agent header of every request (crawl, parse, columns discover)."),
    "timeout": Option(30.0, _number(0, above=True, unit=" of seconds"),
                      "Seconds before a request is abandoned."),
    "max_response_bytes": Option(10 * 1024 * 1024, _integer(1),
                                 "The largest response accepted, in bytes; a larger one "
                                 "is recorded as a failure, not downloaded."),
    "images": Option(True, _boolean,
                     "Archive the pictures articles show (images[].src), fetched by the "
                     "same crawl, each once (--no-images turns it off for one crawl)."),
    "max_picture_bytes": Option(10 * 1024 * 1024, _integer(1),
                                "The largest picture accepted, in bytes; a larger one is "
                                "recorded as a failure, not downloaded."),
    "retries": Option(3, _integer(0),
                      "Retries of 5xx answers and timeouts within a crawl."),
    "backoff_base": Option(2.0, _number(0, unit=" of seconds"),
                           "The n-th retry waits backoff_base * 2 ** (n - 1) seconds."),
    "failure_retry_after": Option(3600.0, _duration,
                                  "A page that still fails is recorded and tried again by a "
                                  "later crawl after this long (a duration: \"90s\", \"30m\", "
                                  "\"1h\", \"7d\", or seconds), twice as long after each "
                                  "further failure..."),
    "failure_retry_max": Option(7 * 86400.0, _duration, "... up to this long."),
    "max_blocked": Option(8, _integer(0, " (0: never stop)"),
                          "Refusals in a row (HTTP 403/429/503, a \"访问过于频繁\" page) after "
                          "which a crawl stops, exit 6; the next one resumes where it "
                          "stopped (0: never stop)..."),
    "blocked_pause": Option(5.0, _duration,
                            "... each refusal first raises the pause between requests, "
                            "from this long (a duration or seconds), doubling with every "
                            "refusal in a row..."),
    "blocked_pause_max": Option(120.0, _duration, "... up to this long."),
    "parse_workers": Option("auto", _workers,
                            'Processes that parse pages while the crawl keeps fetching: '
                            '"auto" (one per core but one) or a number; 0 parses in the '
                            "crawl process."),
}

#: the keys of a ``[[columns]]`` entry (``id`` required)
COLUMN_KEYS = ("id", "name", "default")
#: the keys of a ``[topics.NAME]`` table (``threshold`` and ``terms`` required)
TOPIC_KEYS = ("threshold", "max_count", "terms")
#: the sections of a configuration file
SECTIONS = ("site", "crawl", "columns", "topics")

#: every ``[crawl]`` default, by key
CRAWL_DEFAULTS: dict[str, Any] = {name: option.default for name, option in CRAWL.items()}


def scrapy_settings(crawl: Mapping[str, Any]) -> dict[str, Any]:
    """The Scrapy settings that ``[crawl]`` values (all of them, as in CRAWL_DEFAULTS
    or ``Config.crawl_values()``) stand for."""
    return {
        "DOWNLOAD_DELAY": crawl["delay"],
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl["concurrent_per_host"],
        "AUTOTHROTTLE_ENABLED": crawl["autothrottle"],
        # AutoThrottle never goes below its start delay; 0 would divide by zero
        "AUTOTHROTTLE_START_DELAY": max(crawl["delay"], 0.1),
        "ROBOTSTXT_OBEY": crawl["obey_robots_txt"],
        "USER_AGENT": crawl["user_agent"],
        "DOWNLOAD_TIMEOUT": crawl["timeout"],
        "DOWNLOAD_MAXSIZE": crawl["max_response_bytes"],
        "RETRY_TIMES": crawl["retries"],
        "RETRY_BACKOFF_BASE": crawl["backoff_base"],
    }


@dataclass(frozen=True)
class Column:
    id: str
    name: str
    default: bool = False


@dataclass(frozen=True)
class Config:
    """A checked configuration; the ``[crawl]`` fields default to CRAWL's defaults."""

    base_url: str
    columns: tuple[Column, ...]
    editions: tuple[str, ...] = CRAWL_DEFAULTS["editions"]
    max_list_pages: int = CRAWL_DEFAULTS["max_list_pages"]
    delay: float = CRAWL_DEFAULTS["delay"]
    concurrent_per_host: int = CRAWL_DEFAULTS["concurrent_per_host"]
    autothrottle: bool = CRAWL_DEFAULTS["autothrottle"]
    obey_robots_txt: bool = CRAWL_DEFAULTS["obey_robots_txt"]
    user_agent: str = CRAWL_DEFAULTS["user_agent"]
    timeout: float = CRAWL_DEFAULTS["timeout"]
    max_response_bytes: int = CRAWL_DEFAULTS["max_response_bytes"]
    images: bool = CRAWL_DEFAULTS["images"]
    max_picture_bytes: int = CRAWL_DEFAULTS["max_picture_bytes"]
    retries: int = CRAWL_DEFAULTS["retries"]
    backoff_base: float = CRAWL_DEFAULTS["backoff_base"]
    failure_retry_after: float = CRAWL_DEFAULTS["failure_retry_after"]
    failure_retry_max: float = CRAWL_DEFAULTS["failure_retry_max"]
    max_blocked: int = CRAWL_DEFAULTS["max_blocked"]
    blocked_pause: float = CRAWL_DEFAULTS["blocked_pause"]
    blocked_pause_max: float = CRAWL_DEFAULTS["blocked_pause_max"]
    parse_workers: int | str = CRAWL_DEFAULTS["parse_workers"]
    source: str = "defaults"
    #: the other sections, as read (``topics``: checked by load_config)
    extra: dict[str, Any] = field(default_factory=dict)

    def column(self, column_id: str) -> Column:
        for column in self.columns:
            if column.id == column_id:
                return column
        return Column(column_id, f"column {column_id}")

    def default_columns(self) -> list[Column]:
        return [column for column in self.columns if column.default]

    def crawl_values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CRAWL}

    def scrapy_settings(self) -> dict[str, Any]:
        return scrapy_settings(self.crawl_values())


#: the shipped configuration: a file beside this module (importlib.resources costs
#: every ``pdarchive`` command 10 ms of start-up)
DEFAULT_CONFIG = Path(__file__).with_name("default_config.toml")


def _read(path: Path | None) -> dict[str, Any]:
    if path is None:
        text = DEFAULT_CONFIG.read_text("utf-8")
    else:
        try:
            text = path.read_text("utf-8")
        except UnicodeDecodeError as error:
            raise ConfigError(f"{path}: not UTF-8 text ({error.reason} at byte "
                              f"{error.start})") from error
        except OSError as error:
            raise ConfigError(f"cannot read config {path}: {error.strerror}") from error
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path or 'default config'}: not valid TOML: {error}") from error


def _unknown(key: str, known: list[str] | tuple[str, ...], where: str) -> ConfigError:
    """An unknown key, with the nearest known one, or the section it belongs in."""
    import difflib  # only for a bad configuration: not every command's start-up

    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    home = [f"[{name}]" for name, keys in (("site", SITE), ("crawl", CRAWL))
            if key in keys and f"[{name}]" != where]
    hint = (f"; did you mean {close[0]!r}?" if close
            else f"; it belongs in {home[0]}" if home
            else f" (known: {', '.join(known)})")
    return ConfigError(f"{where + ' ' if where else ''}unknown key {key!r}{hint}")


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} needs to be a table ([section] with keys), not {value!r}")
    return value


def _options(section: str, data: Any, options: dict[str, Option]) -> dict[str, Any]:
    checked = {}
    for key, value in _table(data, f"[{section}]").items():
        if key not in options:
            raise _unknown(key, list(options), f"[{section}]")
        try:
            checked[key] = options[key].check(value)
        except ConfigError as error:
            raise ConfigError(f"[{section}] {key} {error}") from None
    return checked


def _columns(data: Any) -> tuple[Column, ...]:
    if not isinstance(data, list):
        raise ConfigError("columns needs to be a list of [[columns]] entries")
    columns: dict[str, Column] = {}
    for number, entry in enumerate(data, 1):
        where = f"[[columns]] entry {number}"
        entry = _table(entry, where)
        for key in entry:
            if key not in COLUMN_KEYS:
                raise _unknown(key, COLUMN_KEYS, where)
        if "id" not in entry:
            raise ConfigError(f"{where} needs an id (the number in /GB/ID/index.html)")
        values: dict[str, Any] = {}
        for key, check in (("id", _column_id), ("name", _text), ("default", _boolean)):
            if key in entry:
                try:
                    values[key] = check(entry[key])
                except ConfigError as error:
                    raise ConfigError(f"{where}: {key} {error}") from None
        column_id = values["id"]
        name, default = values.get("name", column_id), values.get("default", False)
        if column_id in columns:
            raise ConfigError(f"{where}: column {column_id} is listed twice")
        columns[column_id] = Column(column_id, name, default)
    if not any(column.default for column in columns.values()):
        raise ConfigError("no [[columns]] entry has default = true: mark the columns "
                          "`pdarchive crawl` takes when no --column is given")
    return tuple(columns.values())


def _topics(data: Any) -> dict[str, Any]:
    topics = _table(data, "[topics]")
    for name, section in topics.items():
        where = f"[topics.{name}]"
        section = _table(section, where)
        for key in section:
            if key not in TOPIC_KEYS:
                raise _unknown(key, TOPIC_KEYS, where)
        if "threshold" not in section:
            raise ConfigError(f"{where} needs a threshold (the score from which --topic "
                              f"{name} keeps an article)")
        terms = section.get("terms")
        if not isinstance(terms, dict) or not terms:
            raise ConfigError(f"{where} needs terms: a [topics.{name}.terms] table of "
                              '"term" = weight')
        for key, check in (("threshold", _number(0)), ("max_count", _integer(1))):
            if key in section:
                try:
                    check(section[key])
                except ConfigError as error:
                    raise ConfigError(f"{where} {key} {error}") from None
        for term, weight in terms.items():
            if not term.strip():
                raise ConfigError(f"[topics.{name}.terms] has an empty term")
            try:
                _number(0, above=True)(weight)
            except ConfigError as error:
                raise ConfigError(f"[topics.{name}.terms] {term!r} {error}") from None
    return topics


def _check(data: dict[str, Any]) -> dict[str, Any]:
    """The sections of one file, each key checked (a file may leave any out)."""
    for key in data:
        if key not in SECTIONS:
            raise _unknown(key, SECTIONS, "")
    checked: dict[str, Any] = {}
    if "site" in data:
        checked["site"] = _options("site", data["site"], SITE)
    if "crawl" in data:
        checked["crawl"] = _options("crawl", data["crawl"], CRAWL)
    if "columns" in data:
        checked["columns"] = _columns(data["columns"])
    if "topics" in data:
        checked["topics"] = _topics(data["topics"])
    return checked


def load_config(path: str | Path | None = None) -> Config:
    """The defaults, with every key the file at ``path`` sets taking precedence
    (``[[columns]]`` and ``[topics]``, when the file has them, replace the shipped
    ones whole). Raises ConfigError, naming the file, for anything it cannot use."""
    data = _check(_read(None))
    if path is not None:
        try:
            user = _check(_read(Path(path)))
        except ConfigError as error:
            message = str(error)
            raise ConfigError(message if message.startswith(("cannot read", f"{path}:"))
                              else f"{path}: {message}") from None
        for section in ("site", "crawl"):
            data.setdefault(section, {}).update(user.get(section, {}))
        for key in ("columns", "topics"):
            if key in user:
                data[key] = user[key]
    crawl = data.get("crawl", {})
    if crawl.get("failure_retry_max", CRAWL_DEFAULTS["failure_retry_max"]) < crawl.get(
            "failure_retry_after", CRAWL_DEFAULTS["failure_retry_after"]):
        raise ConfigError(f"{path or 'default config'}: [crawl] failure_retry_max is shorter "
                          "than failure_retry_after")
    return Config(
        base_url=data.get("site", {}).get("base_url", SITE["base_url"].default),
        columns=data.get("columns", ()),
        source=str(path) if path else "defaults",
        extra={"topics": data["topics"]} if "topics" in data else {},
        **crawl,
    )
