"""Write one benchmark's results into its own section of BENCHMARKS.md."""

from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
INTRO = """# Benchmarks

Measured by the scripts in `bench/` on the project's shared 2-core machine. Each
script measures its baseline in the same run and reports ratios, because absolute
numbers on a shared machine are noisy. Re-run a script from the repository root
with `--write` (`python -m bench.NAME --write`) to refresh its section.
"""


def write_section(name: str, body: str, title: str | None = None) -> None:
    """Replace the text between ``<!-- bench:NAME:start -->`` and ``:end -->``,
    appending the section (under ``title``) when it is not there yet."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    text = BENCHMARKS.read_text("utf-8") if BENCHMARKS.exists() else INTRO
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text,
                      flags=re.S)
    else:
        text = f"{text.rstrip()}\n\n## {title or name.capitalize()}\n\n{block}\n"
    BENCHMARKS.write_text(text, "utf-8")
