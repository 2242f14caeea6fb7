"""The contract lives in this repository: no file points at documents that are not in it.

The product contract is docs/contract.md and the API facts the connectors rely on are
docs/api-facts.md. The team's original notes outside the repository were called by two names;
a pointer to either from code, tests or docs would send a maintainer to a file they do not
have, so any such pointer fails this test with the file and line to fix.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Built from pieces so this file does not match itself.
_OUTSIDE_NAMES = re.compile("SP" + "EC|API-" + "NOTES")
# The two documents that replace them may say where they came from.
_ALLOWED = {ROOT / "docs" / "contract.md", ROOT / "docs" / "api-facts.md"}
_SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    "node_modules",
    ".dagster_home",
    "out",
    "data",
}
_TEXT = {".py", ".sql", ".md", ".yaml", ".yml", ".toml", ".html", ".css", ".json", ".txt", ".cfg"}
_TEXT_NAMES = {"Makefile", "run"}


def _text_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if any(part in _SKIP_DIRS or part.startswith(".pytest") for part in rel.parts[:-1]):
            continue
        if path.is_file() and (path.suffix in _TEXT or path.name in _TEXT_NAMES):
            files.append(path)
    return files


def test_no_pointer_to_documents_outside_the_repository():
    hits = []
    for path in _text_files():
        if path in _ALLOWED:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if _OUTSIDE_NAMES.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not hits, (
        "point at docs/contract.md or docs/api-facts.md (by section) instead:\n" + "\n".join(hits)
    )


def test_the_contract_documents_exist_with_their_sections():
    contract = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    facts = (ROOT / "docs" / "api-facts.md").read_text(encoding="utf-8")
    for heading in ("## 2. ", "### 2.1 ", "## 3. ", "### 3.1 ", "### 3.2 ", "## 4. ", "## 5. "):
        assert heading in contract, heading
    for heading in (
        "### 1.2 ",
        "### 1.4 ",
        "### 1.7 ",
        "### 2.1 ",
        "### 2.2 ",
        "### 2.4 ",
        "## 3. ",
    ):
        assert heading in facts, heading
