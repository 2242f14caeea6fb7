"""Shapes seen in real JIRA captures (Server/DC and Cloud REST responses with changelogs),
reproduced inline and small: an issue copy without `fields`, Server items without `fieldId`,
`-0700` / `+0000` offsets, a Resolved -> Open reopen, "Ready for X" statuses in the
in-progress category. Each goes through the real `jira` client, the sync and the core build."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.jira import sync_jira
from tests.connectors.jira.jirafake import NOW
from warehouse.build import build_core

#: A Server catalogue as GET /rest/api/2/status returns it (trimmed), Puppet-style workflow.
SERVER_STATUSES = [
    {"id": "1", "name": "Open", "statusCategory": {"id": 2, "key": "new", "name": "To Do"}},
    {"id": "3", "name": "In Progress", "statusCategory": {"id": 4, "key": "indeterminate"}},
    {"id": "10002", "name": "Ready for Merge", "statusCategory": {"id": 4, "key": "indeterminate"}},
    {"id": "5", "name": "Resolved", "statusCategory": {"id": 3, "key": "done"}},
]


def _server_item(frm: str, frm_name: str, to: str, to_name: str) -> dict:
    # Server/DC changelog items carry no `fieldId`
    return {
        "field": "status",
        "fieldtype": "jira",
        "from": frm,
        "fromString": frm_name,
        "to": to,
        "toString": to_name,
    }


def _server_issue(issue_id: str, key: str, status: dict, created: str, updated: str) -> dict:
    return {
        "expand": "operations,editmeta,changelog,renderedFields",
        "id": issue_id,
        "key": key,
        "self": f"https://tickets.example.com/rest/api/2/issue/{issue_id}",
        "fields": {
            "summary": "Puppet should not reopen",
            "created": created,
            "updated": updated,
            "status": status,
            "issuetype": {"id": "1", "name": "Bug"},
            "project": {"id": "10102", "key": "PUP"},
            "priority": {"id": "3", "name": "Normal"},
            "labels": [],
            "components": [{"id": "1", "name": "Types and Providers"}],
        },
    }


def test_issue_without_fields_is_quarantined_with_a_clear_reason(con, dc_settings, cfg, dc, policy):
    # Cloud-style copy with a changelog (newest first, items with fieldId) but no `fields`
    # object at all, next to a normal issue: the broken one is quarantined saying so.
    broken = {
        "expand": "operations,changelog",
        "id": "10009",
        "key": "CONTRIB-4",
        "self": "https://finos.example.net/rest/api/2/issue/10009",
    }
    histories = [
        {
            "id": "10029",
            "created": "2018-05-14T23:59:02.635+0200",
            "author": {"displayName": "Maurizio"},
            "items": [
                {
                    "field": "status",
                    "fieldtype": "jira",
                    "fieldId": "status",
                    "from": "10013",
                    "fromString": "License Check",
                    "to": "10015",
                    "toString": "Licenses Validated",
                }
            ],
        },
        {
            "id": "10028",
            "created": "2018-05-14T23:58:58.615+0200",
            "author": {"displayName": "Maurizio"},
            "items": [
                {
                    "field": "status",
                    "fieldtype": "jira",
                    "fieldId": "status",
                    "from": "10014",
                    "fromString": "Fix Licenses",
                    "to": "10013",
                    "toString": "License Check",
                }
            ],
        },
    ]
    dc.add(broken, histories)
    dc.add(
        _server_issue(
            "55473",
            "PUP-3483",
            SERVER_STATUSES[0],
            "2014-10-17T09:32:32.000-0700",
            "2015-10-08T12:35:53.348-0700",
        ),
        [],
    )
    result = sync_jira(con, dc_settings, cfg, run_started_at=NOW, policy=policy)
    assert result.records == 1 and result.streams[0].quarantined == 1
    key, reason = con.execute("select record_key, reason from raw.quarantine").fetchone()
    assert key == "10009" and "without fields" in reason
    assert con.execute("select count(*) from raw.jira_status_changes").fetchone()[0] == 0


def test_server_reopen_without_field_ids_reaches_core_as_rework(con, dc_settings, cfg, dc, policy):
    dc.statuses = [dict(s) for s in SERVER_STATUSES]
    dc.add(
        _server_issue(
            "55473",
            "PUP-3483",
            SERVER_STATUSES[0],
            "2014-10-17T09:32:32.000-0700",
            "2015-10-08T12:35:53.348-0700",
        ),
        [
            {
                "id": "1",
                "created": "2015-07-07T08:04:31.629-0700",
                "author": {"displayName": "Kylo"},
                "items": [
                    {
                        "field": "resolution",
                        "fieldtype": "jira",
                        "from": None,
                        "fromString": None,
                        "to": "1",
                        "toString": "Fixed",
                    },
                    _server_item("1", "Open", "5", "Resolved"),
                ],
            },
            {
                "id": "2",
                "created": "2015-10-08T12:35:53.348-0700",
                "author": {"displayName": "Kylo"},
                "items": [_server_item("5", "Resolved", "1", "Open")],
            },
        ],
    )
    dc.add(
        _server_issue(
            "143633",
            "PUP-6551",
            SERVER_STATUSES[2],
            "2016-07-26T14:25:28.000-0700",
            "2016-07-26T21:49:03.563-0700",
        ),
        [
            {
                "id": "3",
                "created": "2016-07-26T21:49:03.563+0000",
                "items": [_server_item("1", "Open", "10002", "Ready for Merge")],
            }
        ],
    )
    sync_jira(con, dc_settings, cfg, run_started_at=NOW, policy=policy)
    build_core(con, cfg, NOW)
    rows = con.execute(
        'select item_id, "at", from_status, to_status, to_kind, direction from core.transitions'
        " order by item_id, seq"
    ).fetchall()
    assert rows == [
        (
            "jira:PUP-3483",
            datetime(2015, 7, 7, 15, 4, 31, 629000, tzinfo=UTC),
            "Open",
            "Resolved",
            "done",
            "forward",
        ),
        (
            "jira:PUP-3483",
            datetime(2015, 10, 8, 19, 35, 53, 348000, tzinfo=UTC),
            "Resolved",
            "Open",
            "wait",
            "backward",
        ),
        (
            "jira:PUP-6551",
            datetime(2016, 7, 26, 21, 49, 3, 563000, tzinfo=UTC),
            "Open",
            "Ready for Merge",
            "wait",
            "forward",
        ),
    ]
    item = con.execute(
        "select status, status_kind, done_at, reopen_count from core.work_items"
        " where item_id = 'jira:PUP-3483'"
    ).fetchone()
    assert item == ("Open", "wait", None, 1)


def test_fieldless_copy_sharing_an_id_does_not_fail_the_run(con, dc_settings, cfg, dc, policy):
    # A real capture holds two copies with one id, each with its own embedded changelog: a
    # good one and one without `fields`. The good one lands with its own history; the other
    # is quarantined. (Before: the run failed, "incomplete changelog" for the good copy.)
    def copy(key: str, hid: str, frm: str, to: str, fields: bool) -> dict:
        issue = _server_issue(
            "10010",
            key,
            {"id": to, "name": to, "statusCategory": {"key": "done"}},
            "2018-05-14T23:54:10.593+0200",
            "2018-05-14T23:59:02.635+0200",
        )
        if not fields:
            del issue["fields"]
        history = {
            "id": hid,
            "created": "2018-05-14T23:56:02.246+0200",
            "items": [_server_item(frm, frm, to, to)],
        }
        return {
            **issue,
            "changelog": {"startAt": 0, "maxResults": 1, "total": 1, "histories": [history]},
        }

    dc.issues = [
        copy("CONTRIB-5", "10025", "10016", "10021", True),
        copy("CONTRIB-4", "10029", "10013", "10015", False),
    ]
    dc._with_changelog = lambda issue, newest_first: issue  # each copy keeps its own
    result = sync_jira(con, dc_settings, cfg, run_started_at=NOW, policy=policy)
    assert result.records == 1 and result.streams[0].quarantined == 1
    assert con.execute(
        "select issue_key, history_id, to_status_id from raw.jira_issues join"
        " raw.jira_status_changes using (issue_id)"
    ).fetchall() == [("CONTRIB-5", "10025", "10021")]
    assert "without fields" in con.execute("select reason from raw.quarantine").fetchone()[0]
