"""ServiceNow instances that audit inserts (docs/contract.md §4, `core.transitions`).

With `glide.sys.audit_inserts` (and for every imported record) `sys_audit` holds a row with an
empty `oldvalue` written when the record is created: its `newvalue` is the initial state, not a
transition. One sandbox serves the same organisation with the knob off and on; after a sync and
a core build, `core` must be the same row for row, and no transition has a NULL `from_status`.
"""

from __future__ import annotations

import duckdb
import pytest

from sandbox import Sandbox
from tests.reliability.helpers import NOW, config, snapshot, sync_and_build

CORE = ("core",)


def _sync(sb: Sandbox, db, started, *, full: bool) -> dict:
    sync_and_build(db, sb.env, config(page_size=200), started, full=full)
    return snapshot(db, CORE)


def test_audited_inserts_change_nothing_in_core(tmp_path) -> None:
    plain, audited = tmp_path / "plain.duckdb", tmp_path / "audited.duckdb"
    with Sandbox(seed=11, size=120, mode="cloud", now=NOW) as sb:
        started = sb.now
        sb.set_knobs(audit_inserts=False)
        want = _sync(sb, plain, started, full=True)
        sb.set_knobs(audit_inserts=True)
        got = _sync(sb, audited, started, full=True)

        con = duckdb.connect(str(audited), read_only=True)
        try:
            # the insert rows did land in raw: raw stays faithful to the source
            inserts = con.execute(
                "select count(*) from raw.servicenow_state_changes"
                " where coalesce(from_value, '') = ''"
            ).fetchone()[0]
            records = con.execute("select count(*) from raw.servicenow_records").fetchone()[0]
            assert inserts == records > 0
            assert (
                con.execute(
                    "select count(*) from core.transitions where from_status is null"
                ).fetchone()[0]
                == 0
            )
            # interval 1 of every ServiceNow item starts at created_at, in the state the insert
            # row names, and is one interval (not split in two at the insert row)
            bad = con.execute("""
                select count(*) from core.work_items w
                join core.status_intervals i on i.item_id = w.item_id and i.seq = 1
                join raw.servicenow_records r on 'servicenow:' || r.number = w.item_id
                join raw.servicenow_state_changes c
                  on c.record_sys_id = r.sys_id and coalesce(c.from_value, '') = ''
                join core.status_map m on m.source = 'servicenow' and m.scope = r.table_name
                  and m.status_key = c.to_value
                where i.entered_at <> w.created_at or i.status <> m.status
                   or (select count(*) from core.status_intervals j
                       where j.item_id = w.item_id and j.seq = 2 and j.status = i.status
                         and j.entered_at = i.entered_at) > 0
            """).fetchone()[0]
            assert bad == 0
        finally:
            con.close()
        assert got == want

        # time travel: the next night's incremental sync reads the new records' insert rows too
        sb.advance(days=1, change_fraction=0.05)
        later = sb.now
        sb.set_knobs(audit_inserts=False)
        want = _sync(sb, plain, later, full=False)
        sb.set_knobs(audit_inserts=True)
        got = _sync(sb, audited, later, full=False)
        assert got == want
        con = duckdb.connect(str(audited), read_only=True)
        try:
            assert (
                con.execute(
                    "select count(*) from core.transitions where from_status is null"
                ).fetchone()[0]
                == 0
            )
        finally:
            con.close()


@pytest.mark.parametrize(
    "mode, knobs",
    [
        ("cloud", {"audit_inserts": True}),
        ("datacenter", {"audit_inserts": True}),
        ("cloud", {"audit_inserts": True, "forbidden_tables": {"sys_audit"}}),  # metric_instance
        ("cloud", {"forbidden_tables": {"sys_audit", "metric_instance"}}),  # observed
    ],
)
def test_no_transition_from_null_on_any_sandbox_shape(tmp_path, mode, knobs) -> None:
    db = tmp_path / "flow.duckdb"
    with Sandbox(seed=11, size=120, mode=mode, now=NOW) as sb:
        sb.set_knobs(**knobs)
        sync_and_build(db, sb.env, config(page_size=200), sb.now, full=True)
        sb.advance(days=1, change_fraction=0.05)
        sync_and_build(db, sb.env, config(page_size=200), sb.now)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select count(*) from core.transitions").fetchone()[0] > 100
        assert (
            con.execute(
                "select count(*) from core.transitions where from_status is null"
            ).fetchone()[0]
            == 0
        )
    finally:
        con.close()
