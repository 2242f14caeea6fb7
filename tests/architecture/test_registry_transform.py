"""The `-- transform: warehouse.<module>` directive: a table whose rows a Python step computes
from its SQL file's SELECT (metrics.forecast) is still listed, ordered and described from the
file, and a directive naming anything but a warehouse module is refused naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from warehouse import registry


def test_forecast_is_a_transform_model_with_its_reads() -> None:
    model = registry.model("metrics", "forecast")
    assert model.transform == "warehouse.forecast"
    assert {
        ("metrics", "item_flow"),
        ("metrics", "value_stream_summary"),
        ("core", "forecast_settings"),
    } <= model.reads
    assert model.description.startswith("One row per value stream x horizon")
    order = [m.key for m in registry.models()]
    assert order.index(("metrics", "forecast")) > order.index(("metrics", "value_stream_summary"))
    assert registry.model("metrics", "daily_flow").transform is None


@pytest.mark.parametrize("target", ["os", "warehouse.forecast:rows", "reports.report"])
def test_a_transform_outside_warehouse_is_refused(tmp_path: Path, target: str) -> None:
    for schema in registry.MODEL_SCHEMAS:
        (tmp_path / "sql" / schema).mkdir(parents=True)
    (tmp_path / "sql/metrics/odd.sql").write_text(
        f"-- metrics.odd: one row per thing.\n-- transform: {target}\nselect 1 as x\n"
    )
    with pytest.raises(ValueError, match=r"warehouse/sql/metrics/odd\.sql: transform must name"):
        registry._read_models(tmp_path)
