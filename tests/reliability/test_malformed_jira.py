"""One malformed JIRA record never stops the source (issue #14, point 5).

Every record-level defect is quarantined with a reason naming the field; the rest of the night
lands and the cursor moves. Through the real `jira` client behind `responses` (every shape in
one night), and through the sandbox's `malformed` knob (Cloud and Data Center).
"""

from __future__ import annotations

import duckdb
import pytest
import responses

from connectors.jira import JiraSettings, sync_jira
from models.config import parse_config
from sandbox import Sandbox
from tests.connectors.jira import jirafake as jf
from tests.reliability.helpers import NOW, config
from warehouse.db import bootstrap

CFG = parse_config({"sources": {"servicenow": {"tables": ["incident"]}}})
JIRA = JiraSettings(url=jf.BASE, email="me@acme.test", api_token=jf.TOKEN)


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock:
        yield mock


def _set(path: str, value):
    """A mutator putting `value` at `fields.<path>` (or at the top level for `/id`)."""

    def mutate(issue):
        if path.startswith("/"):
            issue[path[1:]] = value
        else:
            issue["fields"][path] = value

    return mutate


#: (issue key, mutation, quarantine reason). Each raised outside the quarantine path before.
DEFECTS = [
    ("PAY-2", _set("created", 1e30), "fields.created: timestamp out of range: 1e+30"),
    ("PAY-3", _set("created", -1e30), "fields.created: timestamp out of range: -1e+30"),
    ("PAY-4", _set("status", "Done"), "fields.status: expected an object, got str"),
    ("PAY-5", _set("labels", 5), "fields.labels: expected a list of text, got int"),
    ("PAY-6", _set("labels", ["ok", 7]), "fields.labels: expected a list of text, got list"),
    ("PAY-7", _set("summary", 42), "fields.summary: expected text, got int"),
    ("PAY-8", _set("components", "API"), "fields.components: expected a list of objects, got str"),
    ("PAY-9", _set("project", "PAY"), "fields.project: expected an object, got str"),
    ("PAY-10", _set("issuetype", 10), "fields.issuetype: expected an object, got int"),
    ("PAY-11", _set("priority", ["High"]), "fields.priority: expected an object, got list"),
    ("PAY-12", _set("parent", "PAY-1"), "fields.parent: expected an object, got str"),
    (
        "PAY-13",
        _set("status", {"id": ["3"], "name": "X"}),
        "fields.status.id: expected text or a number, got list",
    ),
    ("PAY-14", _set("/key", 14), "key: expected text, got int"),
    (
        "PAY-15",
        _set("/fields", ["x"]),
        "issue without fields: the payload has no `fields` object to map",
    ),
    ("PAY-16", _set("updated", {"at": 1}), "fields.updated: not a timestamp: {'at': 1}"),
    ("PAY-17", _set("summary", {"text": "x"}), "fields.summary: expected text, got dict"),
]


def test_every_record_level_defect_is_quarantined_and_the_night_lands(con, rsps, policy):
    fake = jf.FakeJira(rsps)
    fake.bulk_404 = True  # per-issue changelogs hand the histories over as they are
    fake.add(jf.make_issue("1", "PAY-1", status="1"), jf.chain(1, ["1", "3"]))
    for n, (key, mutate, _reason) in enumerate(DEFECTS, start=2):
        issue = jf.make_issue(str(n), key)
        mutate(issue)
        fake.add(issue, jf.chain(n, ["1", "3"]))
    # a history that is not an object, and one whose items are not a list
    fake.add(
        jf.make_issue("90", "PAY-90", status="3"), [*jf.chain(90, ["1", "3"]), "not a history"]
    )
    bad_items = jf.chain(91, ["1", "3"])
    fake.add(
        jf.make_issue("91", "PAY-91", status="3"),
        [*bad_items, {"id": "h91", "created": "2024-01-05T09:00:00.000+0000", "items": 3}],
    )
    result = sync_jira(con, JIRA, CFG, run_started_at=jf.NOW, policy=policy)

    reasons = dict(con.execute("select record_key, reason from raw.quarantine").fetchall())
    want = {str(n): reason for n, (_k, _m, reason) in enumerate(DEFECTS, start=2)}
    want["14"] = "key: expected text, got int"
    assert {k: v for k, v in reasons.items() if k in want} == want
    # history-level defects cost the history entry only, never the issue or the night
    assert reasons["90"] == "changelog history is not an object"
    assert reasons["91/h91"] == "changelog history items: expected a list, got int"
    landed = {r[0] for r in con.execute("select issue_key from raw.jira_issues").fetchall()}
    assert landed == {"PAY-1", "PAY-90", "PAY-91"}
    assert result.streams[0].quarantined == len(DEFECTS) + 2
    cursor = con.execute("select cursor_end from raw.sync_state where source = 'jira'").fetchone()
    assert cursor is not None and cursor[0] is not None  # the cursor moved


@pytest.mark.parametrize("mode", ["cloud", "datacenter"])
def test_sandbox_serves_malformed_records_and_the_sync_lands_the_rest(tmp_path, mode, policy):
    con = duckdb.connect(str(tmp_path / "flow.duckdb"))
    bootstrap(con)
    with Sandbox(seed=3, size=60, mode=mode, now=NOW) as sb:
        keys = [i["key"] for i in sb.truth.jira_issues()][:3]
        sb.set_knobs(
            malformed={
                keys[0]: {"created": 1e30},
                keys[1]: {"status": "Done"},
                keys[2]: {"labels": 5},
            }
        )
        result = sync_jira(
            con,
            JiraSettings.from_env(sb.env),
            config(page_size=25),
            run_started_at=sb.now,
            policy=policy,
        )
        quarantined = dict(
            con.execute("select payload ->> '$.key', reason from raw.quarantine").fetchall()
        )
        assert quarantined == {
            keys[0]: "fields.created: timestamp out of range: 1e+30",
            keys[1]: "fields.status: expected an object, got str",
            keys[2]: "fields.labels: expected a list of text, got int",
        }
        landed = con.execute("select count(*) from raw.jira_issues").fetchone()[0]
        assert landed == len(sb.truth.jira_issues()) - 3 == result.streams[0].records
    con.close()
