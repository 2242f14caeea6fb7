"""Warehouse test setup: the helpers live beside the tests (tests/ is not a package)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from wh_org import org  # noqa: F401  (the module-scoped organisation fixture)
