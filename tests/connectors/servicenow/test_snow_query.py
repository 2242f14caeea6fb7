"""Encoded queries as exact strings: the instance drops what it cannot read, so a wrong
character silently widens a sync (docs/api-facts.md §2.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from connectors.servicenow import query as q

B = datetime(2024, 3, 1, 0, 0, 0, tzinfo=UTC)
E = datetime(2024, 3, 2, 12, 30, 15, 999000, tzinfo=UTC)
ID = "0123456789abcdef0123456789abcdef"


def test_utc_literal_from_any_zone_and_never_naive():
    plus2 = datetime(2024, 3, 1, 2, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    assert q.snow_datetime(plus2) == "2024-03-01 00:00:00"
    assert q.snow_datetime(E) == "2024-03-02 12:30:15"
    with pytest.raises(ValueError):
        q.snow_datetime(datetime(2024, 1, 1))


def test_records_first_page_full_and_incremental():
    assert q.records_query(None, E) == (
        "sys_updated_on<2024-03-02 12:30:15^ORDERBYsys_updated_on^ORDERBYsys_id"
    )
    assert q.records_query(B, E) == (
        "sys_updated_on>=2024-03-01 00:00:00^sys_updated_on<2024-03-02 12:30:15"
        "^ORDERBYsys_updated_on^ORDERBYsys_id"
    )


def test_records_keyset_carries_window_and_scope_into_both_or_groups():
    got = q.records_query(B, E, "active=true^priorityIN1,2", ("2024-03-01 10:00:00", ID))
    assert got == (
        "sys_updated_on>=2024-03-01 00:00:00^sys_updated_on<2024-03-02 12:30:15"
        "^active=true^priorityIN1,2^sys_updated_on>2024-03-01 10:00:00"
        "^NQsys_updated_on>=2024-03-01 00:00:00^sys_updated_on<2024-03-02 12:30:15"
        "^active=true^priorityIN1,2^sys_updated_on=2024-03-01 10:00:00^sys_id>"
        + ID
        + "^ORDERBYsys_updated_on^ORDERBYsys_id"
    )
    assert "gs.dateGenerate" not in got


def test_audit_query_one_fieldname_window_and_documentkeys():
    got = q.audit_query("incident", "state", [ID, "b" * 32], B, E, ("2024-03-01 10:00:00", ID))
    assert got == (
        "sys_created_on>=2024-03-01 00:00:00^sys_created_on<2024-03-02 12:30:15"
        "^tablename=incident^fieldname=state^documentkeyIN"
        + ID
        + ","
        + "b" * 32
        + "^sys_created_on>2024-03-01 10:00:00"
        "^NQsys_created_on>=2024-03-01 00:00:00^sys_created_on<2024-03-02 12:30:15"
        "^tablename=incident^fieldname=state^documentkeyIN"
        + ID
        + ","
        + "b" * 32
        + "^sys_created_on=2024-03-01 10:00:00^sys_id>"
        + ID
        + "^ORDERBYsys_created_on^ORDERBYsys_id"
    )
    assert "incident_state" not in got


def test_delete_choice_metric_and_group_queries():
    assert q.audit_delete_query("problem", B, E) == (
        "sys_created_on>=2024-03-01 00:00:00^sys_created_on<2024-03-02 12:30:15"
        "^tablename=problem^ORDERBYsys_created_on^ORDERBYsys_id"
    )
    assert q.choices_query("incident") == "name=incident^element=state^ORDERBYsys_id"
    assert q.choices_query("incident", after=ID) == (
        f"name=incident^element=state^sys_id>{ID}^ORDERBYsys_id"
    )
    assert q.metric_query("incident", [ID]) == (
        f"table=incident^field=state^idIN{ID}^ORDERBYsys_id"
    )
    assert q.sys_id_query() == "ORDERBYsys_id"


@pytest.mark.parametrize(
    ("scope", "marker"),
    [
        ("active=true^ORactive=false", "^OR"),
        ("ORsys_id!=x", "^OR"),  # would OR itself with the window's last condition
        ("active=true^NQsys_id!=x", "^NQ"),
        ("NQactive=false", "^NQ"),
        ("active=true^EQ", "^EQ"),
        ("active=true^ORDERBYDESCnumber", "^OR"),
    ],
)
def test_scope_that_could_widen_the_window_is_rejected(scope, marker):
    with pytest.raises(q.UnsafeQueryError) as err:
        q.validate_scope(scope)
    text = str(err.value)
    assert "sources.servicenow.query" in text and repr(marker) in text
    assert "AND-only" in text


def test_plain_and_scope_is_kept_verbatim():
    assert q.validate_scope("  ^assignment_group.name=Payments Ops^active=true^ ") == (
        "assignment_group.name=Payments Ops^active=true"
    )
    assert q.validate_scope("") == ""
    assert q.validate_scope(None) == ""


def test_values_with_a_caret_never_reach_a_query():
    with pytest.raises(q.UnsafeQueryError):
        q.records_query(B, E, after=("2024-03-01 10:00:00", "x^ORactive=true"))
    with pytest.raises(q.UnsafeQueryError):
        q.audit_query("incident^ORtablename=problem", "state", [ID], None, E)


def test_documentkey_batches_stay_within_the_budget():
    keys = [f"{i:032x}" for i in range(500)]
    batches = list(q.batch_keys(keys, budget=4000))
    assert [k for b in batches for k in b] == keys
    assert all(len(",".join(b)) <= 4000 for b in batches)
    assert len(batches) == 5  # 121 keys of 33 chars fit in 4000
    assert list(q.batch_keys([])) == []
