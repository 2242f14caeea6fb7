"""The fields core.item_links needs reach raw: incident caused_by / problem_id, a change's
correlation_id and the fields `links.change_request_fields` names (real pysnow, fake instance)."""

from __future__ import annotations

from snow_fake import NOW, incident, sys_id

from connectors.servicenow import sync_servicenow
from models.config import parse_config


def _cfg(fields: list[str]):
    return parse_config({
        "sources": {"servicenow": {"tables": ["incident", "change_request"]}},
        "sync": {"page_size": 500, "overlap_minutes": 10, "lag_minutes": 1},
        "links": {"change_request_fields": fields},
    })


def test_change_request_fields_are_asked_for_and_kept_in_the_payload(con, settings, fake,
                                                                       policy):
    fake.tables["change_request"] = [{
        **incident(500, "2024-03-02 11:00:00", state="3"), "number": "CHG0000500",
        "correlation_id": "PAY-12", "u_jira_key": "WEB-3", "short_description": "Deploy PAY-7",
    }]
    fake.tables["incident"] = [incident(1, "2024-03-03 10:00:00", caused_by=sys_id(500),
                                        problem_id="")]
    sync_servicenow(con, settings, _cfg(["correlation_id", "u_jira_key"]), run_started_at=NOW,
                    policy=policy)
    chg_fields = fake.table_requests("change_request")[0].params["sysparm_fields"].split(",")
    # ours first, then the configured one not already asked for (correlation_id once)
    assert chg_fields.count("correlation_id") == 1
    assert chg_fields[-1] == "u_jira_key"
    inc_fields = fake.table_requests("incident")[0].params["sysparm_fields"].split(",")
    assert {"caused_by", "problem_id", "short_description"} <= set(inc_fields)
    assert "u_jira_key" not in inc_fields  # the configured fields are change_request's only
    got = con.execute(
        "select number, payload->>'correlation_id', payload->>'u_jira_key',"
        " payload->>'caused_by' from raw.servicenow_records order by number").fetchall()
    assert got == [("CHG0000500", "PAY-12", "WEB-3", None),
                   ("INC0000001", None, None, sys_id(500))]
