"""docs/ARCHITECTURE.md keeps up with the code: every module is described, and the
README's links into it lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = (ROOT / "docs" / "ARCHITECTURE.md").read_text("utf-8")


def test_every_module_has_its_line_in_the_architecture() -> None:
    described = set(re.findall(r"`([a-z_/]+\.(?:py|toml))`", ARCHITECTURE))
    missing = [str(path.relative_to(ROOT / package)) for package in ("crawler", "archive")
               for path in sorted((ROOT / package).glob("**/*.py"))
               if path.name != "__init__.py" and "parse" not in path.parts
               and str(path.relative_to(ROOT / package)) not in described]
    assert missing == []


def test_the_readme_links_to_sections_that_exist() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    anchors = {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
               for heading in re.findall(r"(?m)^#+ (.+)$", ARCHITECTURE)}
    links = re.findall(r"\(docs/ARCHITECTURE\.md(?:#([a-z0-9-]+))?\)", readme)
    assert links and all(not anchor or anchor in anchors for anchor in links), links
