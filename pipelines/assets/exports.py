"""The exports asset: one CSV per metrics table and the one-page report for leadership."""

import os
from pathlib import Path

import dagster as dg

from pipelines.instance import WAREHOUSE_POOL
from pipelines.resources import FlowConfigResource, WarehouseResource
from reports.export import export_all
from warehouse.build import METRICS_TABLES


def export_dir(warehouse_path: str) -> Path:
    """`FLOW_EXPORT_DIR`, else an `exports/` folder beside the warehouse file."""
    override = os.environ.get("FLOW_EXPORT_DIR")
    return Path(override) if override else Path(warehouse_path).resolve().parent / "exports"


@dg.asset(
    key=["exports", "leadership_pack"],
    group_name="exports",
    kinds={"csv", "html"},
    pool=WAREHOUSE_POOL,
    deps=[dg.AssetKey(["metrics", t]) for t in METRICS_TABLES],
    description=(
        "One CSV per metrics table (one row per row of the table) and report.html, a one-page "
        "value stream report for leadership. Folder: FLOW_EXPORT_DIR, else exports/ beside the "
        "warehouse."
    ),
)
def leadership_pack(
    context: dg.AssetExecutionContext,
    flow_config: FlowConfigResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    cfg = flow_config.load()
    own = warehouse.export_dir
    target = Path(own) if own else export_dir(warehouse.resolve(cfg))
    with warehouse.connect(cfg, read_only=True) as con:
        paths = export_all(con, target)
    context.log.info(f"exports written to {target}")
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(target)),
            "files": dg.MetadataValue.int(len(paths)),
            "report": dg.MetadataValue.path(str(paths["report"])),
        }
    )


EXPORT_ASSETS = [leadership_pack]
