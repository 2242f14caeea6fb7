"""One way to import test helpers: as modules of the `tests` package.

pytest runs with `--import-mode=importlib` and the repository root on the path, so a helper
beside the tests is `tests.connectors.jira.jirafake`, `tests.warehouse.wh_timeline`, ... A
second way (a conftest putting its folder on `sys.path`, then `import jirafake`) let one fake
load under two names, with two copies of its state. This test fails on either sign of it.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _helper_names() -> set[str]:
    """Stems of the helper modules that live among the tests."""
    return {
        p.stem
        for p in TESTS.rglob("*.py")
        if not p.name.startswith("test_") and p.name not in ("conftest.py", "__init__.py")
    }


def test_helpers_are_imported_through_the_tests_package_only():
    helpers = _helper_names()
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in helpers:
                    offenders.append(f"{path.relative_to(TESTS)}:{node.lineno}: {name}")
            if isinstance(node, ast.Attribute) and ast.unparse(node).startswith("sys.path."):
                offenders.append(f"{path.relative_to(TESTS)}:{node.lineno}: {ast.unparse(node)}")
    assert not offenders, "import helpers as tests.<folder>.<module>:\n" + "\n".join(offenders)
