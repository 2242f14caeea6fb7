"""Warehouse test setup: the shared organisation fixture (helpers are `tests.warehouse.*`)."""

from __future__ import annotations

from tests.warehouse.wh_org import org  # noqa: F401  (the module-scoped organisation fixture)
