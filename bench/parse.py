"""Parse benchmark: our extractor against trafilatura and GNE, on the same pages, in one run.

Pages: every status-200 article page of the reference mirror that has an expected parse
("reference pages"), the 45 KB full-size page (the seed article inside real-size
page chrome, tests/fixtures/fullsize), and the real people.com.cn pages other public
projects saved (``../shared/reference/real``, read in place, with their hand-read
ground truth; left out with a note when that folder is absent). For each extractor
and page set it measures pages per second (several rounds, best and median) and field
accuracy against the expected records: title, published_at (with the time of day),
source, editors, authors and body (the paragraph list, whitespace-normalised).

Fairness: our parser gets the bytes and decodes them inside the timed call; trafilatura
and GNE get the text already decoded by our decoder (``decode_page``), outside the
timing. Their outputs are mapped onto our fields as closely as they allow (see
``trafilatura_fields`` and ``gne_fields``); a field a tool has no output for counts as
empty, which is wrong wherever the page has one.

    python -m bench.parse [--rounds N] [--write]

``--write`` replaces this benchmark's section of BENCHMARKS.md (between
``<!-- bench:parse:start -->`` and ``<!-- bench:parse:end -->``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

import trafilatura
from gne import GeneralNewsExtractor

from crawler.parse import parse_document, parse_page
from crawler.parse.decoding import decode_page
from crawler.parse.people import parse_datetime
from crawler.parse.text import clean, nfkc

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
REFERENCE = FIXTURES / "reference"
FULLSIZE = FIXTURES / "fullsize" / "seed_fullsize.html"
REAL = ROOT.parent / "shared" / "reference" / "real"
SEED_URL = "http://js.people.com.cn/n2/2020/1019/c360300-34359164.html"
BENCHMARKS = ROOT / "BENCHMARKS.md"
START, END = "<!-- bench:parse:start -->", "<!-- bench:parse:end -->"
BEIJING = timezone(timedelta(hours=8))

FIELDS = ("title", "published_at", "source", "editors", "authors", "body")
REFERENCE_SET, FULLSIZE_SET, REAL_SET = "reference pages", "full-size page(s)", "real pages"
OVERALL = "overall"
#: passes over a set per timed round: enough for a round to last well over a timer tick
PASSES = {REFERENCE_SET: 3, FULLSIZE_SET: 20, REAL_SET: 15}
#: (set, tool, at least this many times its throughput)
TARGETS = ((OVERALL, "GNE", 1.5), (OVERALL, "trafilatura", 4.0),
           (REAL_SET, "GNE", 2.0), (REAL_SET, "trafilatura", 4.0))


@dataclass(frozen=True)
class Page:
    url: str
    body: bytes
    content_type: str | None
    #: the page decoded by our decoder: what trafilatura and GNE get
    text: str
    expected: dict[str, Any]
    #: paragraphs that count as right whether present or not (real pages)
    optional_body: tuple[str, ...] = ()
    #: other accepted spellings of the source (real pages)
    sources: tuple[str, ...] = ()


def _page(url: str, body: bytes, content_type: str | None, expected: dict[str, Any],
          **conventions: Any) -> Page:
    return Page(url, body, content_type, decode_page(body, content_type).text, expected,
                **conventions)


def load_real() -> list[Page]:
    """The real pages with their ground truth, by the conventions of real/README.md."""
    if not (REAL / "expected.json").exists():
        return []
    manifest = json.loads((REAL / "MANIFEST.json").read_text(encoding="utf-8"))
    truth = json.loads((REAL / "expected.json").read_text(encoding="utf-8"))
    pages = []
    for url, entry in sorted(manifest.items()):
        expected = dict(truth[url], source=nfkc(truth[url]["source"]))
        pages.append(_page(url, (REAL / entry["file"]).read_bytes(), "text/html", expected,
                           optional_body=tuple(expected.get("body_optional", ())),
                           sources=tuple(nfkc(alt) for alt in expected["source_alt"])))
    return pages


def load_sets() -> dict[str, list[Page]]:
    manifest = json.loads((REFERENCE / "site" / "MANIFEST.json").read_text(encoding="utf-8"))
    reference: list[Page] = []
    for url, entry in sorted(manifest.items()):
        expected = REFERENCE / "expected" / "pages" / (
            url.split("://", 1)[1].replace("/", "_") + ".json")
        if entry["status"] == 200 and expected.exists():
            reference.append(_page(
                url, (REFERENCE / "site" / entry["file"]).read_bytes(),
                entry["headers"].get("Content-Type"),
                json.loads(expected.read_text(encoding="utf-8"))))
    seed = next(page for page in reference if page.url == SEED_URL)
    sets = {REFERENCE_SET: reference,
            FULLSIZE_SET: [_page(SEED_URL, FULLSIZE.read_bytes(), "text/html", seed.expected)]}
    real = load_real()
    if real:
        sets[REAL_SET] = real
    return sets


# --- mapping each tool's output onto our fields ----------------------------------------

_ROLE_WORDS = re.compile(r"(?:本报|本网)?(?:记者|通讯员|作者|撰文)\s*[:：]?|(?:文|摄影|摄)\s*[:：]")
_NAME_SEPARATORS = re.compile(r"[\s,，、;；/|｜]+")


def names(value: str | None) -> list[str]:
    """People named in a tool's author string, role words dropped."""
    return [name for name in _NAME_SEPARATORS.split(_ROLE_WORDS.sub(" ", value or "")) if name]


def paragraphs(text: str | None) -> list[str]:
    return [line for line in map(clean, (text or "").splitlines()) if line]


def moment(value: Any) -> str | None:
    """ISO 8601 in Beijing time when ``value`` has a time of day; else its date alone,
    which never equals an expected ``published_at``."""
    if not value:
        return None
    text = str(value).strip()
    if not re.search(r"\d{1,2}:\d{2}", text):
        found = parse_datetime(text)
        return found[:10] if found else text
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return parse_datetime(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=BEIJING)
    return parsed.astimezone(BEIJING).isoformat()


def our_fields(record: dict[str, Any]) -> dict[str, Any]:
    return {field: record[field] for field in FIELDS}


def trafilatura_fields(document: Any) -> dict[str, Any]:
    data = document.as_dict() if hasattr(document, "as_dict") else dict(document or {})
    return {
        "title": clean(data.get("title")),
        "published_at": moment(data.get("date")),
        "source": nfkc(data.get("sitename") or ""),
        "editors": [],
        "authors": names(data.get("author")),
        "body": paragraphs(data.get("text")),
    }


def gne_fields(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": clean(result.get("title")),
        "published_at": moment(result.get("publish_time")),
        "source": "",
        "editors": [],
        "authors": names(result.get("author")),
        "body": paragraphs(result.get("content")),
    }


def expected_fields(expected: dict[str, Any]) -> dict[str, Any]:
    return {**our_fields(expected), "title": clean(expected["title"])}


def field_right(page: Page, field: str, found: Any, expected: Any) -> bool:
    """``found`` is right for ``field``: equal, or equal by the real pages' conventions
    (optional paragraphs, other spellings of the source, spaces inside names)."""
    if found == expected:
        return True
    if field == "body" and page.optional_body and isinstance(found, list):
        return ([line for line in found if line not in page.optional_body]
                == [line for line in expected if line not in page.optional_body])
    if field == "source":
        return found in page.sources
    if field == "authors" and isinstance(found, list):
        return ["".join(name.split()) for name in found] == [
            "".join(name.split()) for name in expected]
    return False


@dataclass(frozen=True)
class Extractor:
    name: str
    #: the timed call
    run: Callable[[Page], Any]
    #: its output as our fields (untimed)
    fields: Callable[[Any], dict[str, Any]]
    #: fields it has no output for
    missing: tuple[str, ...] = ()


def extractors() -> list[Extractor]:
    gne = GeneralNewsExtractor()
    return [
        Extractor("pdarchive", lambda page: parse_page(page.body, page.url, page.content_type),
                  our_fields),
        Extractor("GNE", lambda page: gne.extract(page.text), gne_fields,
                  missing=("source", "editors")),
        Extractor("trafilatura",
                  lambda page: trafilatura.bare_extraction(page.text, url=page.url,
                                                           with_metadata=True),
                  trafilatura_fields, missing=("editors",)),
    ]


# --- measuring -------------------------------------------------------------------------


def _quote(value: Any, width: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def describe_miss(field: str, found: Any, expected: Any) -> str:
    if field == "body" and isinstance(found, list):
        extra = [line for line in found if line not in expected]
        missing = [line for line in expected if line not in found]
        parts = [f"{verb} {_quote(lines[0])}" + (f" and {len(lines) - 1} more" if lines[1:] else "")
                 for verb, lines in (("adds", extra), ("drops", missing)) if lines]
        return "; ".join(parts) or "paragraphs out of order"
    return f"{_quote(found)} for {_quote(expected)}"


def accuracy(extractor: Extractor, pages: Sequence[Page]) -> tuple[dict[str, int], dict[str, str]]:
    """How many pages each field is right on (and all of them), and what the first miss of
    each field looked like."""
    right = dict.fromkeys((*FIELDS, "all"), 0)
    misses: dict[str, str] = {}
    for page in pages:
        try:
            found = extractor.fields(extractor.run(page))
        except Exception as error:  # a refusal or a crash is a wrong answer on every field
            found = dict.fromkeys(FIELDS, f"{type(error).__name__}: {error}")
        expected = expected_fields(page.expected)
        hits = [field for field in FIELDS
                if field_right(page, field, found[field], expected[field])]
        for field in hits:
            right[field] += 1
        right["all"] += len(hits) == len(FIELDS)
        for field in FIELDS:
            if field not in hits and field not in misses:
                where = page.url.split("://", 1)[1]
                misses[field] = f"{where}: {describe_miss(field, found[field], expected[field])}"
    return right, misses


def timed_pass(extractor: Extractor, pages: Sequence[Page], passes: int) -> float:
    """Seconds for one pass over ``pages`` (the mean of ``passes`` back-to-back passes)."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(passes):
        for page in pages:
            extractor.run(page)
    return (time.perf_counter() - start) / passes


@dataclass
class Result:
    pages: int
    #: pages per second, one per round
    rates: list[float]
    right: dict[str, int]
    #: field -> the first page it is wrong on, and how
    misses: dict[str, str]

    @property
    def best(self) -> float:
        return max(self.rates)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def measure(sets: dict[str, list[Page]], tools: list[Extractor], rounds: int
            ) -> dict[str, dict[str, Result]]:
    """``{set: {extractor: Result}}``, with an ``overall`` set over every page. Rounds
    interleave the extractors so that drift in machine load hits them alike."""
    every_page = [page for pages in sets.values() for page in pages]
    results = {
        name: {tool.name: Result(len(pages), [], *accuracy(tool, pages)) for tool in tools}
        for name, pages in [*sets.items(), (OVERALL, every_page)]
    }
    for tool in tools:  # warm-up: imports, caches, lazy initialisation
        for page in every_page:
            tool.run(page)
    for _ in range(rounds):
        for tool in tools:
            seconds = {name: timed_pass(tool, pages, PASSES[name]) for name, pages in sets.items()}
            for name, pages in sets.items():
                results[name][tool.name].rates.append(len(pages) / seconds[name])
            results[OVERALL][tool.name].rates.append(len(every_page) / sum(seconds.values()))
    return results


# --- reporting -------------------------------------------------------------------------


def _percent(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    return (f"Python {platform.python_version()} ({platform.python_implementation()}), "
            f"{os.cpu_count()} CPUs ({_cpu_model()}), {platform.system()} "
            f"{platform.release()}; trafilatura {version('trafilatura')}, gne {version('gne')}, "
            f"lxml {version('lxml')}, beautifulsoup4 {version('beautifulsoup4')}")


def table(results: dict[str, dict[str, Result]], tools: list[Extractor]) -> list[str]:
    header = ["pages", "extractor", "pages/s (best)", "pages/s (median)", "× GNE",
              "× trafilatura", *FIELDS, "all fields"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, by_tool in results.items():
        for tool in tools:
            result = by_tool[tool.name]
            cells = [f"{name} ({result.pages})", tool.name, f"{result.best:,.0f}",
                     f"{result.median:,.0f}",
                     f"{result.best / by_tool['GNE'].best:.2f}×",
                     f"{result.best / by_tool['trafilatura'].best:.2f}×"]
            for field in FIELDS:
                cell = _percent(result.right[field], result.pages)
                cells.append(f"{cell} (none)" if field in tool.missing else cell)
            cells.append(_percent(result.right["all"], result.pages))
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def verdicts(results: dict[str, dict[str, Result]]) -> list[str]:
    overall = results[OVERALL]
    ours = overall["pdarchive"]
    fields_right = sum(ours.right[field] for field in FIELDS)
    checks = [
        ("100% of fields right for us",
         fields_right == ours.pages * len(FIELDS),
         f"{_percent(fields_right, ours.pages * len(FIELDS))} of page fields, "
         f"{ours.right['all']}/{ours.pages} pages entirely right"),
    ]
    for name, tool, target in TARGETS:
        if name not in results:
            continue
        per_set = ", ".join(f"{other} {by_tool['pdarchive'].best / by_tool[tool].best:.2f}×"
                            for other, by_tool in results.items() if other != OVERALL)
        ratio = results[name]["pdarchive"].best / results[name][tool].best
        detail = f"{ratio:.2f}× on the {name}" + (f" ({per_set})" if name == OVERALL else "")
        checks.append((f"throughput ≥ {target:g}× {tool} on the {name}", ratio >= target,
                       detail))
    if REAL_SET in results:
        real = results[REAL_SET]["pdarchive"]
        checks.append((f"every field right on the {REAL_SET}", real.right["all"] == real.pages,
                       f"{real.right['all']}/{real.pages} pages entirely right"))
    return [f"- {'met' if met else '**not met**'}: {label}: {detail}"
            for label, met, detail in checks]


def templates(pages: Sequence[Page]) -> str:
    """How many of ``pages`` each of our templates reads, e.g. ``14 rm_txt, 7 text_title``."""
    counts: dict[str, int] = {}
    for page in pages:
        name = parse_document(page.body, page.url, page.content_type).extractor
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{count} `{name}`" for name, count in sorted(counts.items(),
                                                                     key=lambda item: -item[1]))


def section(results: dict[str, dict[str, Result]], tools: list[Extractor], rounds: int,
            sets: dict[str, list[Page]]) -> str:
    reference, fullsize = sets[REFERENCE_SET], sets[FULLSIZE_SET]
    real = sets.get(REAL_SET, [])
    real_note = (
        f" and {len(real)} real pages (people.com.cn pages saved by other public projects, "
        f"read in place from `../shared/reference/real`; templates: {templates(real)}; "
        "compared by that folder's README: optional paragraphs, other spellings of the "
        "source, spaces inside names)" if real else
        " (the real pages were left out: `../shared/reference/real` is absent)")
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Parsing: pdarchive vs GNE and trafilatura (`bench/parse.py`)",
        "",
        f"Run {when} on {machine()}; 1-minute load average {os.getloadavg()[0]:.2f} at "
        "the end of the run.",
        "",
        f"Pages: {len(reference)} reference pages (every status-200 article page of the "
        f"mirror with an expected parse; templates: {templates(reference)}) and "
        f"{len(fullsize)} full-size page (the seed article inside "
        f"{len(fullsize[0].body) // 1024} KB of real-size page chrome){real_note}. "
        "Our parser gets the "
        "bytes and decodes them in the timed call; GNE "
        "and trafilatura get the text decoded by `crawler.parse.decoding.decode_page`, "
        f"untimed. {rounds} rounds, extractors interleaved; a round times "
        f"{PASSES[REFERENCE_SET]} passes over the reference pages and "
        f"{PASSES[FULLSIZE_SET]} over the full-size page and {PASSES[REAL_SET]} over the "
        "real pages; overall = every page once. "
        "Ratios are of the best rounds (the least disturbed by other load on the machine); "
        "medians are shown for spread.",
        "",
        *table(results, tools),
        "",
        "Targets (best rounds):",
        "",
        *verdicts(results),
        "",
        "Misses (the first page each field is wrong on, and how):",
        "",
        *(f"- {tool.name}, `{field}`: {miss}" for tool in tools
          for field, miss in results[OVERALL][tool.name].misses.items()
          if field not in tool.missing),
        "",
        "Field mapping. GNE (`GeneralNewsExtractor().extract`): `title`, `publish_time`, "
        "`author`, `content` split on newlines; it has no source or editor output. "
        "trafilatura (`bare_extraction(text, url=…, with_metadata=True)`, default "
        "settings): `title`, `date`, `author`, `sitename`, `text` split on newlines; no "
        "editor output. \"(none)\": the tool has no such output, counted as empty. Names "
        "are compared as lists after dropping role words (记者, 通讯员, 文：…); "
        "`published_at` must carry the time of day (a date alone is wrong); body lines "
        "are whitespace-normalised and must equal the expected paragraphs in order.",
    ]
    return "\n".join(lines)


def write_section(text: str, path: Path = BENCHMARKS) -> None:
    """Replace this benchmark's section of ``path``, leaving every other section alone."""
    block = f"{START}\n{text}\n{END}"
    if not path.exists():
        path.write_text(
            "# Benchmarks\n\nMeasured numbers of the benches in `bench/`. Each bench "
            "rewrites only its own section (between its `bench:NAME:start`/`end` "
            "markers) when run with `--write`.\n\n" + block + "\n", encoding="utf-8")
        return
    current = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _: block, current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(updated, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--write", action="store_true",
                        help=f"update this benchmark's section of {BENCHMARKS.name}")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    sets = load_sets()
    tools = extractors()
    results = measure(sets, tools, args.rounds)
    text = section(results, tools, args.rounds, sets)
    print(text)
    if args.write:
        write_section(text)
        print(f"\nwrote {BENCHMARKS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
