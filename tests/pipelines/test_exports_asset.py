"""The exports asset writes where it is told and its metadata names the files export_all wrote.

Its "report" metadata used to be looked up under a key export_all never returns
("report.html"), the right path coming only from a fallback; now it is export_all's own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from models.config import parse_config
from pipelines.assets.exports import leadership_pack
from pipelines.resources import FlowConfigResource, WarehouseResource
from warehouse.build import METRICS_TABLES, build_core, build_metrics
from warehouse.db import bootstrap, connect


def test_exports_asset_reports_the_files_it_wrote(tmp_path: Path) -> None:
    db = tmp_path / "flow.duckdb"
    con = connect(db)
    bootstrap(con)
    as_of = datetime(2026, 1, 5, tzinfo=UTC)
    cfg = parse_config({}, "<test>")
    build_core(con, cfg, as_of)
    build_metrics(con, cfg, as_of)  # every metrics table, empty
    con.close()
    config_file = tmp_path / "flow.yaml"
    config_file.write_text(f"warehouse: {db}\n")
    out = tmp_path / "pack"

    result = dg.materialize(
        [leadership_pack],
        resources={
            "flow_config": FlowConfigResource(path=str(config_file)),
            "warehouse": WarehouseResource(export_dir=str(out)),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )

    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["report"].value == str(out / "report.html")
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    written = sorted(p.name for p in out.iterdir())
    assert metadata["files"].value == len(written)
    assert {f"{t}.csv" for t in METRICS_TABLES} <= set(written)
