"""docs/contract.md §6 ServiceNow history (hold_reason, assignment_group) through the sandbox over real
HTTP: read in the same sys_audit scans as state (`fieldnameIN...`) and the labels in the same
sys_choice scan, so a sync makes exactly the requests of a state-only sync, full and
incremental; what lands equals the sandbox's audit rows; core derives on-hold stretches and
owner stretches named from sys_user_group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.http import RetryPolicy
from connectors.servicenow import ServiceNowSettings, sync_servicenow
from connectors.servicenow import fetch as snow_fetch
from models.config import parse_config
from sandbox import Sandbox
from tests.connectors.servicenow.snow_fake import make_cfg
from warehouse.build import build_core, check_sql
from warehouse.db import bootstrap, connect

TABLES = ["incident", "change_request", "problem"]
START = datetime(2025, 6, 2, 6, 0, 0, tzinfo=UTC)
pytestmark = pytest.mark.slow


def run(monkeypatch: pytest.MonkeyPatch, *, spec6: bool, page_size: int):
    if not spec6:  # the baseline: state only, as before docs/contract.md §6
        monkeypatch.setattr(snow_fetch, "HISTORY_FIELDS", ("state",))
        monkeypatch.setattr(snow_fetch, "CHOICE_ELEMENTS", ("state",))
    con = connect(":memory:")
    bootstrap(con)
    cfg = make_cfg(TABLES, page_size=page_size)
    policy = RetryPolicy(sleep=lambda s: None)
    counts = []
    with Sandbox(seed=5, size=300, mode="cloud", now=START) as sb:
        settings = ServiceNowSettings.from_env(sb.env)
        for days in (0, 1):
            if days:
                sb.advance(days=days, change_fraction=0.05)
            sb.reset_counters()
            result = sync_servicenow(
                con,
                settings,
                cfg,
                policy=policy,
                run_started_at=sb.now + timedelta(minutes=1, seconds=1),
            )
            assert result.requests == sb.counters["total"]
            counts.append(sb.counters)
        audit = {
            a.sys_id: a
            for a in sb.snow.audit
            if a.fieldname in ("hold_reason", "assignment_group")
            and not sb.snow.records[a.documentkey].deleted
        }
    monkeypatch.undo()
    return con, counts, audit


@pytest.mark.parametrize("page_size", [5000, 400])
def test_same_requests_as_a_state_only_sync_full_and_incremental(monkeypatch, page_size):
    _, base, _ = run(monkeypatch, spec6=False, page_size=page_size)
    con, got, audit = run(monkeypatch, spec6=True, page_size=page_size)
    if page_size == 5000:
        # every scan fits one page either way: identical requests, endpoint by endpoint
        assert got == base
    else:
        # small pages: the extra rows may fill at most a page more of the one scan, never a
        # request per record (300 records, ~150 of them reassigned or held)
        for night, (g, b) in enumerate(zip(got, base, strict=True)):
            extra = {k: g[k] - b.get(k, 0) for k in g if g[k] != b.get(k, 0)}
            assert set(extra) <= {"snow.table.sys_audit", "total"}, (night, extra)
            assert extra.get("snow.table.sys_audit", 0) <= 2, (night, extra)
    landed = {
        r[0]: r[1:]
        for r in con.execute(
            "select change_id, record_sys_id, field_name, from_value, to_value"
            " from raw.servicenow_field_changes"
        ).fetchall()
    }
    assert landed == {
        a.sys_id: (a.documentkey, a.fieldname, a.oldvalue, a.newvalue) for a in audit.values()
    }
    assert {f for _, f, _, _ in landed.values()} == {"hold_reason", "assignment_group"}
    labels = dict(
        con.execute(
            "select value, label from raw.servicenow_choices where element = 'hold_reason'"
        ).fetchall()
    )
    assert labels["1"] == "Awaiting Caller"


def test_core_on_hold_and_assignments_from_a_sandbox_sync(monkeypatch):
    con, _, _ = run(monkeypatch, spec6=True, page_size=5000)
    cfg = parse_config({})
    build_core(con, cfg, START + timedelta(days=1))
    held = con.execute(
        "select count(*), count(distinct source_detail) from core.blocked_intervals"
        " where reason = 'on_hold'"
    ).fetchone()
    assert held[0] > 20 and held[1] >= 2  # several reasons (labels from sys_choice)
    assert con.execute(
        "select count(*) from core.blocked_intervals where reason = 'on_hold'"
        " and source_detail not in ('Awaiting Caller', 'Awaiting Vendor', 'Awaiting Problem',"
        " 'Awaiting Change')"
    ).fetchone() == (0,)
    owners = {r[0] for r in con.execute("select distinct owner from core.assignments").fetchall()}
    assert {"Service Desk", "Payments Ops"} <= owners  # names, not sys_ids
    looped = con.execute(
        "select count(distinct item_id) from (select item_id, owner, count(*) n"
        " from core.assignments where owner is not null group by all) where n > 1"
    ).fetchone()
    assert looped[0] > 0  # A -> B -> A chains exist
    for check in ("blocked_within_life", "assignments_tile"):
        assert con.execute(check_sql(check)).fetchall() == [], check


def test_audited_inserts_give_the_same_assignments(monkeypatch):
    """With insert rows (audit_inserts), the first owner comes from the insert row; without,
    from the oldest change's old value: the stretches are the same."""
    out = []
    for inserts in (False, True):
        con = connect(":memory:")
        bootstrap(con)
        with Sandbox(seed=5, size=150, mode="cloud", now=START) as sb:
            sb.set_knobs(audit_inserts=inserts)
            sync_servicenow(
                con,
                ServiceNowSettings.from_env(sb.env),
                make_cfg(TABLES),
                policy=RetryPolicy(sleep=lambda s: None),
                run_started_at=sb.now + timedelta(minutes=1, seconds=1),
            )
        build_core(con, parse_config({}), START)
        out.append(
            con.execute(
                "select item_id, seq, owner, started_at, ended_at from core.assignments"
                " order by all"
            ).fetchall()
            + con.execute(
                "select * exclude (duration_days) from core.blocked_intervals order by all"
            ).fetchall()
        )
    assert out[0] == out[1] and len(out[0]) > 100
