"""The fields core.item_links needs reach raw: incident caused_by / problem_id, a change's
correlation_id and the fields `links.change_request_fields` names (real pysnow, fake instance)."""

from __future__ import annotations

from datetime import timedelta

from connectors.servicenow import sync_servicenow
from models.config import parse_config
from tests.connectors.servicenow.snow_fake import NOW, incident, sys_id
from warehouse.build import build_core, build_metrics


def _cfg(fields: list[str]):
    return parse_config(
        {
            "sources": {"servicenow": {"tables": ["incident", "change_request"]}},
            "sync": {"page_size": 500, "overlap_minutes": 10, "lag_minutes": 1},
            "links": {"change_request_fields": fields},
        }
    )


def test_change_request_fields_are_asked_for_and_kept_in_the_payload(con, settings, fake, policy):
    fake.tables["change_request"] = [
        {
            **incident(500, "2024-03-02 11:00:00", state="3"),
            "number": "CHG0000500",
            "correlation_id": "PAY-12",
            "u_jira_key": "WEB-3",
            "short_description": "Deploy PAY-7",
        }
    ]
    fake.tables["incident"] = [
        incident(1, "2024-03-03 10:00:00", caused_by=sys_id(500), problem_id="")
    ]
    sync_servicenow(
        con, settings, _cfg(["correlation_id", "u_jira_key"]), run_started_at=NOW, policy=policy
    )
    chg_fields = fake.table_requests("change_request")[0].params["sysparm_fields"].split(",")
    # ours first, then the configured one not already asked for (correlation_id once)
    assert chg_fields.count("correlation_id") == 1
    assert chg_fields[-1] == "u_jira_key"
    inc_fields = fake.table_requests("incident")[0].params["sysparm_fields"].split(",")
    assert {"caused_by", "problem_id", "short_description"} <= set(inc_fields)
    assert "u_jira_key" not in inc_fields  # the configured fields are change_request's only
    got = con.execute(
        "select number, payload->>'correlation_id', payload->>'u_jira_key',"
        " payload->>'caused_by' from raw.servicenow_records order by number"
    ).fetchall()
    assert got == [("CHG0000500", "PAY-12", "WEB-3", None), ("INC0000001", None, None, sys_id(500))]


def test_a_link_added_tonight_updates_last_months_stability_row(con, settings, fake, policy):
    """Monthly periods. CHG0000500 was done in February; INC0000001 was opened in February
    without a cause. Tonight (March 11) someone fills in its caused_by: the incremental sync
    re-reads the incident (its sys_updated_on moved) and February's row changes."""
    cfg = parse_config(
        {
            "sources": {"servicenow": {"tables": ["incident", "change_request"]}},
            "sync": {"page_size": 500, "overlap_minutes": 10, "lag_minutes": 1},
            "period": "month",
            "value_streams": [
                {"name": "Payments", "servicenow": {"assignment_groups": ["Payments Ops"]}}
            ],
        }
    )
    group = {"assignment_group": "g1", "assignment_group.name": "Payments Ops"}
    change = {
        **incident(500, "2024-02-07 09:00:00", state="3"),
        "number": "CHG0000500",
        "opened_at": "2024-02-05 09:00:00",
        "sys_created_on": "2024-02-05 09:00:00",
        **group,
    }
    inc = {
        **incident(1, "2024-02-10 08:00:00", state="2"),
        "opened_at": "2024-02-10 08:00:00",
        "sys_created_on": "2024-02-10 08:00:00",
        "caused_by": "",
        **group,
    }
    fake.tables["change_request"] = [change]
    fake.tables["incident"] = [inc]
    fake.tables["sys_audit"] = [
        {
            "sys_id": "a1",
            "tablename": "change_request",
            "documentkey": sys_id(500),
            "fieldname": "state",
            "oldvalue": "-5",
            "newvalue": "-1",
            "record_checkpoint": "1",
            "user": "u",
            "reason": "",
            "sys_created_on": "2024-02-06 09:00:00",
        },
        {
            "sys_id": "a2",
            "tablename": "change_request",
            "documentkey": sys_id(500),
            "fieldname": "state",
            "oldvalue": "-1",
            "newvalue": "3",
            "record_checkpoint": "2",
            "user": "u",
            "reason": "",
            "sys_created_on": "2024-02-07 09:00:00",
        },
        {
            "sys_id": "a3",
            "tablename": "incident",
            "documentkey": sys_id(1),
            "fieldname": "state",
            "oldvalue": "1",
            "newvalue": "2",
            "record_checkpoint": "1",
            "user": "u",
            "reason": "",
            "sys_created_on": "2024-02-10 08:00:00",
        },
    ]
    fake.tables["sys_user_group"] = [{"sys_id": "g1", "name": "Payments Ops"}]

    def feb_row():
        return con.execute(
            "select changes_done, failed_changes, change_failure_rate, incidents_opened"
            " from metrics.stability where value_stream = 'Payments'"
            " and period_start = '2024-02-01 00:00:00+00'"
        ).fetchone()

    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    build_core(con, cfg, NOW)
    build_metrics(con, cfg, NOW)
    # February: one change done (Feb 7), no incident names it: 0 / 1 = 0.0; INC opened Feb 10
    assert feb_row() == (1, 0, 0.0, 1)

    tonight = NOW + timedelta(days=1)
    inc.update(
        {"caused_by": sys_id(500), "sys_updated_on": "2024-03-11 10:00:00", "sys_mod_count": "2"}
    )
    fake.requests.clear()
    sync_servicenow(con, settings, cfg, run_started_at=tonight, policy=policy)
    inc_queries = [r.query for r in fake.table_requests("incident")]
    assert inc_queries and all("sys_updated_on>=2024-03-10" in q for q in inc_queries)
    build_core(con, cfg, tonight)
    build_metrics(con, cfg, tonight)
    # the same February change, now named by a February incident: 1 / 1 = 1.0
    assert feb_row() == (1, 1, 1.0, 1)
    march = con.execute(
        "select changes_done, failed_changes, change_failure_rate from metrics.stability"
        " where value_stream = 'Payments' and period_start = '2024-03-01 00:00:00+00'"
    ).fetchone()
    assert march == (0, 0, None)  # nothing done in March: no rate (never 0 / 0)
