"""Histories of any length in a backfill: a ServiceNow record with 3,000 state changes lands
completely when its sys_audit rows span several committed chunks (a chunk per 500-row page),
and a repeat of one update that straddles a chunk boundary still lands once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from connectors.servicenow import sync_servicenow
from tests.connectors.servicenow.snow_fake import NOW, audit, incident, make_cfg, sys_id

CHANGES = 3_000


def test_a_record_with_thousands_of_audit_rows_lands_across_chunks(
    con, settings, fake, policy, caplog
):
    doc = sys_id(1)
    start = datetime(2024, 1, 2, 0, 0, 0)
    at = [(start + timedelta(seconds=n)).strftime("%Y-%m-%d %H:%M:%S") for n in range(CHANGES)]
    # 2 -> 3 -> 2 -> 3 ... ; checkpoints 1..3000; sys_ids f..0..f..2999 follow n
    rows = [
        audit(n, doc, at[n], "2" if n % 2 == 0 else "3", "3" if n % 2 == 0 else "2", n + 1)
        for n in range(CHANGES)
    ]
    # a repeat of update #500 (same record, same checkpoint, same instant, another sys_id that
    # sorts right after it): it is the first row of the second page, so a chunk commits
    # between the two copies
    repeat = audit(10_000, doc, at[499], "3", "2", 500)
    repeat["sys_id"] = rows[499]["sys_id"] + "z"
    # 600 records: the first 500-record page fills a chunk, so the backfill commits and its
    # history scan runs chunk by chunk (a commit per 500-row page of sys_audit)
    fake.tables["incident"] = [
        incident(n, f"2024-03-01 10:{n // 60:02d}:{n % 60:02d}", state="2") for n in range(1, 601)
    ]
    fake.tables["sys_audit"] = rows + [repeat]
    cfg = make_cfg(page_size=500)
    cfg = cfg.model_copy(update={"sync": cfg.sync.model_copy(update={"backfill_chunk_rows": 500})})
    with caplog.at_level(logging.INFO, logger="connectors.backfill"):
        result = sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    commits = [r.getMessage() for r in caplog.records if "committing chunk" in r.getMessage()]
    # chunk 1: the records' first page (500); chunk 2: the other 100 records + sys_audit page 1
    # (600); page 2 holds the repeat, dropped: 499 rows, not full; chunk 3: + page 3 (999);
    # chunks 4-6: pages 4-6 (500 each); page 7 (1 row) lands with the cursors, uncounted here
    assert sum('"phase": "records"' in c for c in commits) == 1
    assert sum('"phase": "history"' in c for c in commits) == 5

    got = con.execute(
        "select count(*), count(distinct record_checkpoint), min(record_checkpoint),"
        " max(record_checkpoint) from raw.servicenow_state_changes where record_sys_id = ?",
        [doc],
    ).fetchone()
    assert got == (CHANGES, CHANGES, 1, CHANGES)  # every update once, the repeat dropped
    assert result.streams[0].histories == CHANGES
    assert con.execute("select count(*) from raw.backfill_state").fetchone()[0] == 0
