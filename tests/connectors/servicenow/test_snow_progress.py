"""A ServiceNow scan's size (X-Total-Count of its first page) reaches the progress meter, so
the terminal and the Dagster log can show an ETA (connectors/progress.py)."""

from __future__ import annotations

from snow_fake import NOW, incident

from connectors.progress import ProgressMeter, StreamProgress
from connectors.servicenow import sync_servicenow


def test_servicenow_reports_the_scans_total_for_an_eta(con, cfg, settings, fake, policy):
    fake.tables["incident"] = [incident(i, "2024-03-01 10:00:00") for i in range(1200)]
    shown: list[StreamProgress] = []
    meter = ProgressMeter(shown.append, every_s=0.0)
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy, progress=meter)
    pages = [s for s in shown if s.stream == "incident" and s.message.startswith("page")]
    assert [(s.done, s.total) for s in pages] == [(500, 1200), (1000, 1200), (1200, 1200)]
