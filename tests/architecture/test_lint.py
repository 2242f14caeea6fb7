"""Lint and format run in CI: `.ci/run` runs `make test`, which runs these.

`ruff check` (the rules in pyproject.toml) must pass on the whole tree. `ruff format --check`
must pass on FORMATTED: the files already written in the formatter's style. The tree as a whole
is formatted in one commit of its own (so no branch carries unrelated churn); after it,
FORMATTED becomes ["."].
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FORMATTED = [
    "flowmetrics/exits.py",
    "models/crashpoints.py",
    "sandbox/warehouse_gen.py",
    "tests/architecture/test_contract_in_repo.py",
    "tests/architecture/test_import_graph.py",
    "tests/architecture/test_lint.py",
    "tests/architecture/test_test_imports.py",
    "tests/pipelines/test_config_read_once.py",
    "tests/pipelines/test_exports_asset.py",
    "tests/reliability/crashhook.py",
    "tests/reliability/test_crash_seam.py",
    "tools/import_graph.py",
    "warehouse/catalog.py",
]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_ruff_check_passes_on_the_whole_tree():
    done = _ruff("check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_check_passes_on_the_formatted_files():
    done = _ruff("format", "--check", *FORMATTED)
    assert done.returncode == 0, done.stdout + done.stderr
