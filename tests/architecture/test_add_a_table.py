"""Adding a metrics table is adding one SQL file: proved on a temporary copy of the packages.

The copy gets `warehouse/sql/metrics/stage_count.sql` and nothing else. A fresh interpreter
on that copy must then build the table in order, describe it as a Dagster asset with the
grain from its header, wire its dependencies from its SQL, and export it sorted by its
`-- sort:` line — with no Python edited.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("models", "warehouse", "connectors", "reports", "flowmetrics", "pipelines", "sandbox")

NEW_TABLE = """\
-- metrics.stage_count: one row per value stream x stage: how many items sit in it now.
-- sort: value_stream, stage
select w.value_stream, w.stage, count(*) as items
from core.work_items w
join metrics.item_flow f using (item_id)
group by all
"""

PROBE = """\
import json, sys, tempfile
from datetime import UTC, datetime
from pathlib import Path
import duckdb
from models.config import parse_config
from warehouse import registry
from warehouse.build import METRICS_TABLES, build_core, build_metrics
from warehouse.db import bootstrap
from reports.export import NATURAL_KEYS, write_csvs
from pipelines.definitions import defs

graph = defs.resolve_asset_graph()
import dagster as dg
node = graph.get(dg.AssetKey(["metrics", "stage_count"]))
con = duckdb.connect()
bootstrap(con)
as_of = datetime(2026, 1, 1, tzinfo=UTC)
cfg = parse_config({})
build_core(con, cfg, as_of)
rows = build_metrics(con, cfg, as_of)
out = Path(tempfile.mkdtemp())
paths = write_csvs(con, out)
print(json.dumps({
    "tables": list(METRICS_TABLES),
    "built": sorted(rows),
    "description": node.description,
    "parents": sorted(k.to_user_string() for k in node.parent_keys),
    "sort": list(NATURAL_KEYS["stage_count"]),
    "csv": (out / "stage_count.csv").read_text().splitlines()[0],
}))
"""


def test_a_new_sql_file_is_a_built_described_exported_asset(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package)
    (tmp_path / "warehouse/sql/metrics/stage_count.sql").write_text(NEW_TABLE)

    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # Built after item_flow, which it reads.
    assert seen["tables"].index("stage_count") > seen["tables"].index("item_flow")
    assert "stage_count" in seen["built"]
    assert seen["description"].startswith("One row per value stream x stage")
    assert {"metrics/item_flow", "core/work_items"} <= set(seen["parents"])
    assert seen["sort"] == ["value_stream", "stage"]
    assert seen["csv"] == "value_stream,stage,items"


def test_the_copy_without_the_file_does_not_know_the_table() -> None:
    """The control: the registry reads files, so the real tree has no such table."""
    from warehouse import registry

    assert "stage_count" not in registry.tables("metrics")
