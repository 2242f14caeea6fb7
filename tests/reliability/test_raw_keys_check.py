"""`raw_keys_unique`: with no primary-key index on the big raw tables (schema v2), the blocking
check is what proves the landing kept every record once -- green after real syncs (a full one
and an incremental night with changes), red the moment a record is held twice."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from sandbox import Sandbox
from tests.reliability.helpers import NOW, job_env, run_job

pytestmark = pytest.mark.slow


def _flagged(outcome) -> bool:
    return any("raw_keys_unique" in c for c in outcome.checks_failed)


def test_raw_keys_unique_passes_after_syncs_and_blocks_on_a_duplicate(tmp_path) -> None:
    with Sandbox(seed=5, size=120, mode="cloud", now=NOW) as sb:
        env = job_env(tmp_path, sb.env)
        first = run_job(env, sb.now + timedelta(minutes=2))
        assert first.success and not _flagged(first), first
        sb.advance(days=1, change_fraction=0.2)  # re-read issues and audit rows land again
        second = run_job(env, sb.now + timedelta(minutes=2))
        assert second.success and not _flagged(second), second
        con = duckdb.connect(env["FLOW_WAREHOUSE"])
        try:
            # an incident held twice (what a landing bug would leave without the old key)
            con.execute(
                "insert into raw.servicenow_records select * from raw.servicenow_records"
                " where sys_id = (select min(sys_id) from raw.servicenow_records)"
            )
        finally:
            con.close()
        sb.advance(days=0.01, change_fraction=0.0)
        third = run_job(env, sb.now + timedelta(minutes=2))
    assert _flagged(third), third
    assert not third.success
