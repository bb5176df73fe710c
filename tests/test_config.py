"""The configuration: every fault refused when loaded, naming the key; every default
in one place (crawler/config.py), shown in default_config.toml and used by Scrapy."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from scrapy.settings import Settings

from crawler.config import CRAWL, CRAWL_DEFAULTS, SITE, ConfigError, load_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).parent.parent

#: (file text, what the one-line error must say)
FAULTS = [
    ("[crawl]\ndelai = 2\n", "[crawl] unknown key 'delai'; did you mean 'delay'?"),
    ("[crawl]\ndelay = \"fast\"\n", "[crawl] delay needs a number of seconds"),
    ("[crawl]\ndelay = -1\n", "[crawl] delay needs a number of seconds of at least 0"),
    ("[crawl]\nretries = \"many\"\n", "[crawl] retries needs a whole number"),
    ("[crawl]\nautothrottle = \"yes\"\n", "[crawl] autothrottle needs true or false"),
    ("[crawl]\nconcurrent_per_host = 0\n", "concurrent_per_host needs a whole number of at "
                                           "least 1, not 0"),
    ("[crawl]\ntimeout = 0\n", "[crawl] timeout needs a number of seconds above 0"),
    ("[crawl]\neditions = [\"gb\", \"tw\"]\n", "[crawl] editions needs a list of"),
    ("[crawl]\nparse_workers = \"many\"\n", "[crawl] parse_workers needs \"auto\""),
    ("[crawl]\nfailure_retry_after = \"soon\"\n", "[crawl] failure_retry_after not a duration"),
    ("[crawl]\nfailure_retry_after = \"2d\"\nfailure_retry_max = \"1d\"\n",
     "failure_retry_max is shorter than failure_retry_after"),
    ("[site]\nbase_url = 5\n", "[site] base_url needs an http:// or https:// address"),
    ("[site]\nbaseurl = \"http://x\"\n", "[site] unknown key 'baseurl'; did you mean 'base_url'?"),
    ("delay = 1\n", "unknown key 'delay'; it belongs in [crawl]"),
    ("[crawll]\n", "unknown key 'crawll'; did you mean 'crawl'?"),
    ("[topics.x]\nthreshold = \"x\"\nterms = {a = 1}\n", "[topics.x] threshold needs a number"),
    ("[topics.x]\nterms = {a = 1}\n", "[topics.x] needs a threshold"),
    ("[topics.x]\nthreshold = 1\n", "[topics.x] needs terms"),
    ("[topics.x]\nthreshold = 1\nterms = {a = \"heavy\"}\n", "[topics.x.terms] 'a' needs a number"),
    ("[topics.x]\nthreshold = 1\nmax_count = 0\nterms = {a = 1}\n",
     "[topics.x] max_count needs a whole number of at least 1"),
    ("[topics.x]\nthreshhold = 1\nterms = {a = 1}\n", "did you mean 'threshold'?"),
    ("[[columns]]\nid = \"360300\"\n", "no [[columns]] entry has default = true"),
    ("[[columns]]\nname = \"x\"\ndefault = true\n", "[[columns]] entry 1 needs an id"),
    ("[[columns]]\nid = \"abc\"\ndefault = true\n", "[[columns]] entry 1: id needs the column's"),
    ("[[columns]]\nid = \"1\"\ndefault = \"yes\"\n", "entry 1: default needs true or false"),
    ("[[columns]]\nid = \"1\"\ndefualt = true\n", "did you mean 'default'?"),
    ("[[columns]]\nid = \"1\"\ndefault = true\n[[columns]]\nid = 1\n", "column 1 is listed twice"),
    ("[crawl\ndelay = 1\n", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "message"), FAULTS, ids=[f[1][:40] for f in FAULTS])
def test_a_bad_configuration_is_refused_when_loaded(tmp_path: Path, text: str,
                                                    message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"{config}: ")
    assert "\n" not in str(raised.value)


def test_a_missing_or_undecodable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "latin1.toml").write_bytes(b'[site]\nbase_url = "http://\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(tmp_path / "latin1.toml")


def test_a_user_file_overrides_what_it_sets_and_keeps_the_rest(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[crawl]\ndelay = 0\nconcurrent_per_host = 4\neditions = ["gb", "big5"]\n'
                      '[site]\nbase_url = "http://127.0.0.1:8000/"\n')
    loaded = load_config(config)
    assert (loaded.delay, loaded.concurrent_per_host, loaded.editions) == (0, 4, ("gb", "big5"))
    assert loaded.base_url == "http://127.0.0.1:8000"
    assert loaded.retries == CRAWL_DEFAULTS["retries"]
    assert [c.id for c in loaded.default_columns()] == ["360300"]
    assert "party-building" in loaded.extra["topics"]


def _shown_defaults() -> dict[str, dict[str, object]]:
    """The [site] and [crawl] keys default_config.toml shows, commented out."""
    text = (ROOT / "crawler" / "default_config.toml").read_text("utf-8")
    head = text[:text.index("[[columns]]")]
    uncommented = re.sub(r"(?m)^# ([a-z_]+ = .*)$", r"\1", head)
    return tomllib.loads(uncommented)


def test_every_default_is_in_one_place_and_the_shipped_file_shows_it() -> None:
    shown = _shown_defaults()
    loaded = load_config()
    assert set(shown["crawl"]) == set(CRAWL) and set(shown["site"]) == set(SITE)
    for key, value in shown["crawl"].items():
        assert CRAWL[key].check(value) == CRAWL_DEFAULTS[key] == getattr(loaded, key), key
    assert SITE["base_url"].default == shown["site"]["base_url"] == loaded.base_url
    for option in (*CRAWL.values(), *SITE.values()):
        assert option.doc and option.check(option.default) == option.default


def test_scrapy_takes_the_politeness_defaults_from_the_config_module() -> None:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    config = load_config()
    for name, value in config.scrapy_settings().items():
        assert settings[name] == value, name
    assert settings["USER_AGENT"] == CRAWL_DEFAULTS["user_agent"] == config.user_agent


def test_the_readme_names_every_crawl_key() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme[readme.index("## Configuration"):]
    section = section[:section.index("\n## ", 3)]
    for key in CRAWL:
        assert f"`{key}`" in section, key


def test_the_stores_fallback_backoff_is_the_configured_default() -> None:
    """archive/store.py keeps its own fallback, for a distributed job seeded by an
    older pdarchive that did not send the backoff: it must say what config.py says."""
    from archive.store import RETRY_BASE, RETRY_MAX

    assert RETRY_BASE.total_seconds() == CRAWL_DEFAULTS["failure_retry_after"]
    assert RETRY_MAX.total_seconds() == CRAWL_DEFAULTS["failure_retry_max"]
