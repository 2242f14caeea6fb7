"""The layering holds: tools/import_graph.py finds no cycle and no import against the direction
models → warehouse → connectors and reports → pipelines → command line (docs/architecture.md).

The script is run as CI would run it; the checker itself is shown to catch a cycle, an upward
import and Dagster in a lower layer on a small tree written here.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from tools import import_graph

ROOT = Path(__file__).resolve().parents[2]


def test_the_repository_import_graph_is_clean():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "import_graph.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "import graph: clean" in done.stdout
    # exports and the report live in reports/: nothing is tolerated any more
    assert "tolerated" not in done.stdout
    assert "pipelines   -> connectors, models, reports, warehouse" in done.stdout


def _tree(root: Path, files: dict[str, str]) -> None:
    for package in import_graph.PACKAGES:
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("")
    for name, text in files.items():
        (root / name).write_text(text)


def test_the_checker_reports_cycles_wrong_directions_and_dagster_below_pipelines(tmp_path):
    _tree(
        tmp_path,
        {
            "models/rules.py": "from warehouse.db import connect\n",  # upward
            "warehouse/db.py": "def connect(): ...\n",
            "connectors/sync.py": "def f():\n    import dagster\n",  # lazy, still seen
            "flowmetrics/cli.py": "from flowmetrics import commands\n",
            "flowmetrics/commands.py": "from flowmetrics.cli import main\n",  # cycle
            "pipelines/assets.py": "from reports.export import export_all\n",
            "reports/export.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from pipelines import assets\n",
        },
    )
    out = io.StringIO()
    assert import_graph.check(tmp_path, out=out) == 1
    report = out.getvalue()
    assert "wrong direction: models.rules (models) imports warehouse.db (warehouse)" in report
    assert "connectors.sync imports dagster" in report
    assert "module cycle: flowmetrics.cli <-> flowmetrics.commands" in report
    assert "pipelines.assets (pipelines) imports reports" not in report  # legal direction
    assert "export (reports) imports pipelines" not in report  # TYPE_CHECKING only
    assert report.count("FAIL") == 3


def test_a_clean_tree_passes(tmp_path):
    _tree(
        tmp_path,
        {
            "models/rules.py": "import re\n",
            "warehouse/db.py": "from models.rules import re\n",
            "pipelines/assets.py": "from warehouse.db import re\nimport dagster\n",
            "flowmetrics/cli.py": "from pipelines.assets import re\n",
        },
    )
    out = io.StringIO()
    assert import_graph.check(tmp_path, out=out) == 0, out.getvalue()
