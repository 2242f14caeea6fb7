"""Lint and format run in CI: `.ci/run` runs `make test`, which runs these.

`ruff check` (the rules in pyproject.toml) and `ruff format --check` must pass on the whole
tree (`make format` formats it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FORMATTED = ["."]


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


def test_ruff_format_check_passes_on_the_whole_tree():
    done = _ruff("format", "--check", *FORMATTED)
    assert done.returncode == 0, done.stdout + done.stderr
