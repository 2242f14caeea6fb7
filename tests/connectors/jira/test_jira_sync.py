"""sync_jira through the real `jira` client against a `responses` JIRA: paging, changelogs,
time zones, identity, landing, cursor, census."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.jira import sync_jira
from connectors.jira.client import JiraClient
from connectors.jira.errors import JiraHttpError
from connectors.result import SourceError
from tests.connectors.jira.jirafake import NOW, chain, make_history, make_issue


def issues(con):
    return con.execute(
        "select issue_id, issue_key, status_id, created_at, url, is_deleted from raw.jira_issues"
        " order by issue_id"
    ).fetchall()


def changes(con, issue_id):
    return con.execute(
        "select history_id, from_status_id, to_status_id, source_order, changed_at"
        " from raw.jira_status_changes where issue_id = ? order by source_order",
        [issue_id],
    ).fetchall()


def seed(fake, n, steps=("1", "3", "5")):
    for k in range(1, n + 1):
        fake.add(
            make_issue(str(10000 + k), f"PAY-{k}", status=steps[-1]), chain(10000 + k, list(steps))
        )


# -- Cloud search paging -----------------------------------------------------------------


def test_full_cloud_sync_lands_issues_and_history_with_few_requests(
    con, settings, cfg, cloud, policy
):
    seed(cloud, 5)
    result = sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert result.records == 5 and result.streams[0].histories == 10
    assert cloud.paths() == [
        "/rest/api/2/serverInfo",
        "/rest/api/2/status",
        "/rest/api/2/field",
        "/rest/api/2/search/jql",
        "/rest/api/3/changelog/bulkfetch",
    ]
    assert result.requests == 5
    assert [r[1:3] for r in changes(con, "10001")] == [("1", "3"), ("3", "5")]
    run = con.execute("select status, records, requests from raw.sync_runs").fetchone()
    assert run == ("success", 5, 5)
    search = next(q for m, p, q in cloud.calls if p.endswith("search/jql"))
    assert search["maxResults"] == "1000" and "expand" not in search
    assert set(search["fields"]) >= {"status", "created", "updated", "project"}


def test_last_page_without_token_ends_paging(con, settings, cfg, cloud, policy):
    seed(cloud, 3)
    a, b, c = cloud.issues
    cloud.search_script = [{"issues": [a], "nextPageToken": "p2"}, {"issues": [b, c]}]
    assert sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy).records == 3
    assert cloud.count("search/jql") == 2


def test_repeated_token_fails_the_run_and_lands_nothing(con, settings, cfg, cloud, policy):
    """A repeated token is a scan cut short (docs/contract.md §4): an error, not the end of the census.
    (It used to end paging with a warning, and the run landed two of three issues.)"""
    seed(cloud, 3)
    a, b, c = cloud.issues
    cloud.search_script = [
        {"issues": [a], "nextPageToken": "T"},
        {"issues": [b], "nextPageToken": "T"},
        {"issues": [c], "nextPageToken": "T"},
    ]
    with pytest.raises(SourceError, match="repeated page token"):
        sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert cloud.count("search/jql") == 2
    assert issues(con) == []
    assert con.execute("select count(*) from raw.sync_state").fetchone()[0] == 0


def test_empty_page_with_token_is_followed(con, settings, cfg, cloud, policy):
    """An empty page that still carries a (new) token is not the end: the next page is read
    (reported in the wild; stopping there would cut the scan short)."""
    seed(cloud, 2)
    a, b = cloud.issues
    cloud.search_script = [
        {"issues": [a], "nextPageToken": "p2"},
        {"issues": [], "nextPageToken": "p3"},
        {"issues": [b]},
    ]
    assert sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy).records == 2
    assert cloud.count("search/jql") == 3


def test_page_cap_fails_loudly(con, settings, cfg, cloud, policy, monkeypatch):
    import connectors.jira.search as search

    seed(cloud, 4)
    cloud.search_cap = 1
    monkeypatch.setattr(search, "MAX_PAGES", 2)
    with pytest.raises(SourceError, match="did not end after 2 pages"):
        sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert issues(con) == []


def test_library_none_is_an_error_not_an_empty_result(settings, cloud, policy, monkeypatch):
    client = JiraClient(settings, policy=policy)
    monkeypatch.setattr(client.lib, "enhanced_search_issues", lambda *a, **k: None)
    with pytest.raises(JiraHttpError):
        client.search_jql_page("x", token=None, max_results=10, fields=["id"])


# -- changelogs --------------------------------------------------------------------------


def test_truncated_embedded_changelog_does_not_truncate_history(con, settings, cfg, cloud, policy):
    steps = ["1", "3", "10001", "3", "10001", "5"]
    cloud.add(make_issue("10001", "PAY-1", status="5"), chain(10001, steps))
    cloud.embedded_cap = 2
    # the search result carries a truncated (newest-first) embedded changelog anyway
    cloud.search_script = [
        {"issues": [cloud._with_changelog(cloud.issues[0], True)], "isLast": True}
    ]
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    got = changes(con, "10001")
    assert [(r[1], r[2]) for r in got] == list(zip(steps, steps[1:], strict=False))
    assert [r[3] for r in got] == [1, 2, 3, 4, 5]


def test_bulkfetch_spanning_pages_merges_by_issue(con, settings, cfg, cloud, policy):
    cloud.add(make_issue("1", "PAY-1", status="5"), chain(1, ["1", "3", "10001", "5"], start_day=2))
    cloud.add(make_issue("2", "PAY-2", status="5"), chain(2, ["1", "3", "5"], start_day=3))
    cloud.bulk_cap = 2  # 5 histories -> 3 pages; PAY-1's history is split across them
    result = sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert cloud.count("bulkfetch") == 3
    bodies = [b for m, p, b in cloud.calls if p.endswith("bulkfetch")]
    # status and the docs/contract.md §6 fields in the same requests (this site has no Flagged field)
    assert bodies[0] == {
        "issueIdsOrKeys": ["1", "2"],
        "fieldIds": ["status", "issuelinks"],
        "maxResults": 10000,
    }
    assert bodies[1]["nextPageToken"] == "2" and bodies[1]["issueIdsOrKeys"] == ["1", "2"]
    assert [(r[1], r[2]) for r in changes(con, "1")] == [("1", "3"), ("3", "10001"), ("10001", "5")]
    assert [(r[1], r[2]) for r in changes(con, "2")] == [("1", "3"), ("3", "5")]
    assert result.streams[0].histories == 5


def test_bulkfetch_batches_of_1000_issues(con, settings, cfg, cloud, policy):
    seed(cloud, 2500, steps=("1", "5"))
    result = sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert result.records == 2500
    assert cloud.count("search/jql") == 3 and cloud.count("bulkfetch") == 3
    # serverInfo + status + fields + pages + one bulkfetch per 1000
    assert result.requests == 3 + 3 + 3
    sizes = [len(b["issueIdsOrKeys"]) for m, p, b in cloud.calls if p.endswith("bulkfetch")]
    assert sizes == [1000, 1000, 500]


def test_bulkfetch_404_falls_back_to_paged_issue_changelog(con, settings, cfg, cloud, policy):
    steps = ["1", "3", "10001", "3", "5"]
    cloud.add(make_issue("7", "PAY-7", status="5"), chain(7, steps))
    cloud.add(make_issue("8", "PAY-8", status="1"), [])
    cloud.bulk_404 = True
    cloud.changelog_cap = 3
    result = sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert [(r[1], r[2]) for r in changes(con, "7")] == list(zip(steps, steps[1:], strict=False))
    assert cloud.count("/issue/7/changelog") == 2 and cloud.count("/issue/8/changelog") == 1
    starts = [q["startAt"] for m, p, q in cloud.calls if p.endswith("/issue/7/changelog")]
    assert starts == ["0", "3"]
    assert any("bulkfetch" in w for w in result.warnings)
    assert con.execute(
        "select changelog_total from raw.jira_issues where issue_id = '7'"
    ).fetchone() == (4,)


def test_changelog_shortfall_fails_naming_the_issue(con, settings, cfg, cloud, policy):
    cloud.add(make_issue("7", "PAY-7", status="5"), chain(7, ["1", "3", "5"]))
    cloud.bulk_404 = True
    original = cloud._issue_changelog

    def short(q, b, issue_id):
        page = original(q, b, issue_id)
        return {**page, "values": page["values"][:1], "isLast": True}

    cloud._issue_changelog = short
    cloud.rsps.reset()
    cloud._register()
    with pytest.raises(SourceError, match=r"PAY-7 \(id 7\).*1 of 2 histories"):
        sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert issues(con) == []


def test_bulkfetch_short_of_the_latest_status_change_is_reread_per_issue(
    con, settings, cfg, cloud, policy
):
    """bulkfetch gives no total: a history not ending in the current status is re-read by the
    per-issue route, which does, and the complete history lands."""
    steps = ["1", "3", "5"]
    cloud.add(make_issue("7", "PAY-7", status="5"), chain(7, steps))
    original = cloud._bulkfetch

    def drop_last(q, body):
        page = original(q, body)
        for entry in page["issueChangeLogs"]:
            entry["changeHistories"] = entry["changeHistories"][:-1]
        return page

    cloud._bulkfetch = drop_last
    cloud.rsps.reset()
    cloud._register()
    result = sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert [(r[1], r[2]) for r in changes(con, "7")] == [("1", "3"), ("3", "5")]
    assert cloud.count("bulkfetch") == 1 and cloud.count("/issue/7/changelog") == 1
    assert result.warnings == []


def test_history_complete_by_count_but_not_ending_in_current_status_lands_with_a_warning(
    con, settings, cfg, cloud, policy
):
    """An imported issue whose recorded history never reached its status: JIRA's own count
    says nothing is missing, so it lands, flagged (the history_complete check shows it)."""
    cloud.add(make_issue("7", "PAY-7", status="5"), chain(7, ["1", "3", "5"])[:1])
    result = sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert [(r[1], r[2]) for r in changes(con, "7")] == [("1", "3")]
    assert any("PAY-7" in w and "issue is in status 5" in w for w in result.warnings)


# -- Data Center --------------------------------------------------------------------------


def _dc_searches(dc):
    return [q for m, p, q in dc.calls if p == "/rest/api/2/search"]


def test_datacenter_pages_by_value_at_the_returned_count(con, dc_settings, cfg, dc, policy):
    seed(dc, 5)
    dc.search_cap = 2  # asked for 1000, the server returns 2 per page
    result = sync_jira(con, dc_settings, cfg, run_started_at=NOW, policy=policy)
    assert result.records == 5
    searches = _dc_searches(dc)
    assert len(searches) == 3  # the minimum: ceil(5 / 2)
    assert {q["startAt"] for q in searches} == {"0"}  # never by position
    # pages 2 and 3 ask for the issues after the last one read: (updated, id) keyset
    ms = 1704189600000  # 2024-01-02T10:00:00Z, every seeded issue's `updated`
    assert f"(updated > {ms} OR (updated = {ms} AND id > 10002))" in searches[1]["jql"]
    assert f"(updated > {ms} OR (updated = {ms} AND id > 10004))" in searches[2]["jql"]
    assert searches[2]["jql"].endswith("ORDER BY updated ASC, id ASC")
    assert searches[0]["maxResults"] == "1000" and searches[0]["expand"] == "changelog"
    assert dc.count("search/jql") == 0 and dc.count("bulkfetch") == 0
    assert dc.count("/rest/api/2/issue/") == 0  # embedded changelogs were provably complete
    assert [(r[1], r[2]) for r in changes(con, "10003")] == [("1", "3"), ("3", "5")]


def test_datacenter_short_page_mid_scan_loses_and_repeats_nothing(
    con, dc_settings, cfg, dc, policy
):
    seed(dc, 7)
    dc.search_cap = 2
    dc.dc_short = {2: 1}  # the second page brings 1 issue, not 2
    result = sync_jira(con, dc_settings, cfg, run_started_at=NOW, policy=policy)
    assert result.records == 7
    assert con.execute(
        "select count(*), count(distinct issue_id) from raw.jira_issues"
    ).fetchone() == (7, 7)
    # 2 + 1 + 2 + 2: pages go on from the last issue read, no wasted request
    assert len(_dc_searches(dc)) == 4


def test_datacenter_edit_between_pages_loses_nothing(con, dc_settings, cfg, dc, policy):
    """An issue edited while the scan runs leaves its place (it is now updated last): by
    position, every later issue moves up one and the one at the next page boundary was never
    returned; by value, the scan reads every issue, the edited one at the end."""
    seed(dc, 6)
    dc.search_cap = 2

    def edit(method, path, query):
        if path == "/rest/api/2/search" and len(_dc_searches(dc)) == 2:
            first = next(i for i in dc.issues if i["id"] == "10001")
            first["fields"]["updated"] = "2024-01-03T10:00:00.000+0000"

    dc.before.append(edit)
    result = sync_jira(con, dc_settings, cfg, run_started_at=NOW, policy=policy)
    assert sorted(r[0] for r in con.execute("select issue_id from raw.jira_issues").fetchall()) == [
        str(10000 + k) for k in range(1, 7)
    ]
    assert result.records == 6


def test_datacenter_empty_page_before_the_total_fails_the_run(con, dc_settings, cfg, dc, policy):
    seed(dc, 5)
    dc.search_cap = 2
    dc.dc_short = {2: 0}  # the second page comes back empty, total still counts 3
    with pytest.raises(SourceError, match="came back empty although the server counts 3"):
        sync_jira(con, dc_settings, cfg, run_started_at=NOW, policy=policy)
    assert issues(con) == []
    assert con.execute("select count(*) from raw.sync_state").fetchone()[0] == 0


def test_datacenter_truncated_embedded_changelog_refetches_the_issue(
    con, dc_settings, cfg, dc, policy
):
    steps = ["1", "3", "10001", "3", "5"]
    dc.add(make_issue("7", "PAY-7", status="5"), chain(7, steps))
    dc.add(make_issue("8", "PAY-8", status="3"), chain(8, ["1", "3"]))
    dc.embedded_cap = 1
    sync_jira(con, dc_settings, cfg, run_started_at=NOW, policy=policy)
    assert dc.count("/rest/api/2/issue/7") == 1 and dc.count("/rest/api/2/issue/8") == 0
    assert [(r[1], r[2]) for r in changes(con, "7")] == list(zip(steps, steps[1:], strict=False))


def test_datacenter_items_without_field_id(con, dc_settings, cfg, dc, policy):
    hist = chain(7, ["1", "3"])
    for h in hist:
        for item in h["items"]:
            item.pop("fieldId")
    dc.add(make_issue("7", "PAY-7", status="3"), hist)
    sync_jira(con, dc_settings, cfg, run_started_at=NOW, policy=policy)
    assert [(r[1], r[2]) for r in changes(con, "7")] == [("1", "3")]


# -- time zones, statuses, identity, quarantine --------------------------------------------


def test_offsets_and_epoch_seconds_land_as_utc(con, settings, cfg, cloud, policy):
    cloud.add(
        make_issue(
            "1",
            "PAY-1",
            status="3",
            created="2024-06-28T06:29:06.215-0700",
            updated="2024-06-28T23:10:00.000+0530",
        ),
        [make_history("h1", 1719588546, "1", "3")],  # bulkfetch style: epoch seconds
    )
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    created, updated = con.execute("select created_at, updated_at from raw.jira_issues").fetchone()
    assert created == datetime(2024, 6, 28, 13, 29, 6, 215000, tzinfo=UTC)
    assert updated == datetime(2024, 6, 28, 17, 40, tzinfo=UTC)
    assert changes(con, "1")[0][4] == datetime(2024, 6, 28, 15, 29, 6, tzinfo=UTC)


def test_renamed_status_maps_by_id(con, settings, cfg, cloud, policy):
    hist = [
        make_history(
            "h1", "2024-01-03T09:00:00.000+0000", "1", "10001", names=("Open", "In Review")
        )
    ]  # the name at the time
    cloud.add(make_issue("1", "PAY-1", status="10001"), hist)
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    row = con.execute(
        "select c.to_status, s.name, s.category_key from raw.jira_status_changes c"
        " join raw.jira_statuses s on s.status_id = c.to_status_id"
    ).fetchone()
    assert row == ("In Review", "Code Review", "indeterminate")


def test_moved_issue_keeps_one_row_by_id(con, settings, cfg, cloud, policy):
    cloud.add(make_issue("42", "PAY-9", status="3"), chain(42, ["1", "3"]))
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    cloud.add(
        make_issue("42", "WEB-3", status="5", updated="2024-03-01T12:00:00.000+0000"),
        chain(42, ["1", "3", "5"]),
    )
    sync_jira(con, settings, cfg, run_started_at=NOW + timedelta(hours=1), policy=policy)
    rows = issues(con)
    assert len(rows) == 1 and rows[0][1] == "WEB-3"
    assert rows[0][4] == "https://acme.atlassian.net/browse/WEB-3"
    assert [(r[1], r[2]) for r in changes(con, "42")] == [("1", "3"), ("3", "5")]


def test_bad_records_are_quarantined_and_the_sync_goes_on(con, settings, cfg, cloud, policy):
    cloud.add(make_issue("1", "PAY-1", status="1"), [])
    cloud.add(make_issue("2", "PAY-2", status="1", created=None), [])
    cloud.add(make_issue("3", "PAY-3", status="1", created="yesterday"), [])
    cloud.add(make_issue("4", "PAY-4", status="3"), [make_history("h9", "not a date", "1", "3")])
    result = sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert result.records == 2 and result.streams[0].quarantined == 3
    reasons = dict(con.execute("select record_key, reason from raw.quarantine").fetchall())
    assert "created" in reasons["2"] and "created" in reasons["3"]
    assert "history created" in reasons["4/h9"]


# -- cursor, window, census ------------------------------------------------------------------


def _jql_sent(fake):
    return [q["jql"] for m, p, q in fake.calls if p.endswith("search/jql")]


def test_incremental_window_uses_epoch_ms_and_overlap(con, settings, cfg, cloud, policy):
    seed(cloud, 2)
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    first_end = NOW - timedelta(minutes=1)
    assert con.execute("select cursor_end from raw.sync_state").fetchone() == (first_end,)
    later = NOW + timedelta(days=1)
    result = sync_jira(con, settings, cfg, run_started_at=later, policy=policy)
    lo = int((first_end - timedelta(minutes=10)).timestamp() * 1000)
    hi = int((later - timedelta(minutes=1)).timestamp() * 1000)
    assert _jql_sent(cloud)[-1] == (
        f"updated >= {lo} AND updated < {hi} ORDER BY updated ASC, id ASC"
    )
    assert result.streams[0].mode == "incremental"


def test_scope_from_config_wraps_the_user_jql(con, settings, cloud, policy):
    from models.config import parse_config

    cfg = parse_config({"sources": {"jira": {"jql": "project = PAY order by key"}}})
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    end = int((NOW - timedelta(minutes=1)).timestamp() * 1000)
    assert _jql_sent(cloud) == [f"(project = PAY) AND updated < {end} ORDER BY updated ASC, id ASC"]


def test_unsafe_scope_fails_before_any_request(con, settings, cloud, policy):
    from models.config import parse_config

    cfg = parse_config({"sources": {"jira": {"jql": "X) OR (1=1"}}})
    with pytest.raises(SourceError, match="sources.jira.jql"):
        sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert cloud.calls == []


def test_cursor_not_advanced_when_the_sync_fails(con, settings, cfg, cloud, policy):
    seed(cloud, 2)
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    before = con.execute("select * from raw.sync_state").fetchall()
    landed = issues(con)
    cloud.add(
        make_issue("10001", "PAY-1", status="3", updated="2024-03-01T12:00:00.000+0000"),
        chain(10001, ["1", "3"]),
    )
    cloud.fault("bulkfetch", 400, body={"errorMessages": ["bad body"]})
    with pytest.raises(SourceError, match=r"HTTP 400.*bad body"):
        sync_jira(con, settings, cfg, run_started_at=NOW + timedelta(hours=2), policy=policy)
    assert con.execute("select * from raw.sync_state").fetchall() == before
    assert issues(con) == landed
    assert con.execute("select status from raw.sync_runs order by started_at").fetchall() == [
        ("success",),
        ("failed",),
    ]


def test_census_marks_deleted_and_revives_reappearing(con, settings, cfg, cloud, policy):
    seed(cloud, 3)
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert cloud.count("search/jql") == 1  # first full sync: no census needed
    gone = cloud.issues.pop(1)
    later = NOW + timedelta(days=8)  # census_days = 7
    result = sync_jira(con, settings, cfg, run_started_at=later, policy=policy)
    assert result.streams[0].deleted == 1
    census = _jql_sent(cloud)[-1]
    # bounded by the window's end (run start - lag): what the warehouse can hold after the run
    end = later - timedelta(minutes=1)
    assert census == f"created < {int(end.timestamp() * 1000)} ORDER BY id ASC"
    census_q = [q for m, p, q in cloud.calls if p.endswith("search/jql")][-1]
    assert census_q["maxResults"] == "5000" and census_q["fields"] == "id"
    row = con.execute(
        "select is_deleted, deleted_at from raw.jira_issues where issue_id = ?", [gone["id"]]
    ).fetchone()
    assert row[0] is True and row[1] is not None
    # a day later: no census due, nothing searched but the window
    n = cloud.count("search/jql")
    sync_jira(con, settings, cfg, run_started_at=later + timedelta(days=1), policy=policy)
    assert cloud.count("search/jql") == n + 1
    # it comes back (e.g. permission restored): a full sync revives it
    cloud.issues.insert(1, gone)
    sync_jira(
        con, settings, cfg, full=True, run_started_at=later + timedelta(days=2), policy=policy
    )
    assert [r[5] for r in issues(con)] == [False, False, False]


def test_progress_reports_each_page(con, settings, cfg, cloud, policy):
    seed(cloud, 3)
    cloud.search_cap = 1
    seen = []
    sync_jira(
        con, settings, cfg, run_started_at=NOW, policy=policy, progress=lambda *a: seen.append(a)
    )
    assert [s[3] for s in seen[:3]] == [1, 2, 3]
    assert all(s[:2] == ("jira", "issues") for s in seen)


def test_no_bulkfetch_and_no_paged_changelog_reads_issue_expand(con, settings, cfg, cloud, policy):
    """A Cloud-like server with neither experimental route still yields complete histories."""
    steps = ["1", "3", "10001", "5"]
    cloud.add(make_issue("7", "PAY-7", status="5"), chain(7, steps))
    cloud.add(make_issue("8", "PAY-8", status="3"), chain(8, ["1", "3"]))
    cloud.bulk_404 = True
    cloud.issue_changelog_404 = True
    result = sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert [(r[1], r[2]) for r in changes(con, "7")] == list(zip(steps, steps[1:], strict=False))
    assert [(r[1], r[2]) for r in changes(con, "8")] == [("1", "3")]
    assert cloud.count("/issue/7/changelog") == 1  # tried once, then the route is known missing
    assert cloud.count("/issue/8/changelog") == 0
    assert any("expand=changelog" in w for w in result.warnings)


def test_payloads_orjson_refuses_still_land_as_the_same_json(con, settings, cfg, cloud, policy):
    # A 70-bit integer in a custom field, non-ASCII text, and a history author whose name holds
    # a lone surrogate escape (legal JSON text, refused by orjson both ways, and by DuckDB's
    # JSON type): all must land, the payloads equal in meaning to what JIRA sent except that
    # the lone surrogate becomes U+FFFD (in the payload and in the extracted column).
    import json

    issue = make_issue("10001", "PAY-1", status="3")
    issue["fields"]["summary"] = "Café naïve ✓"
    issue["fields"]["customfield_10100"] = 2**70
    history = make_history("5001", "2024-01-03T10:00:00.000+0000", "1", "3")
    history["author"] = {"displayName": "Zoë \ud800"}
    cloud.add(issue, [history])
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    summary, payload = con.execute(
        "select summary, payload from raw.jira_issues where issue_id = '10001'"
    ).fetchone()
    assert summary == "Café naïve ✓"
    assert json.loads(payload)["fields"]["customfield_10100"] == 2**70
    assert json.loads(payload) == issue
    author, hist = con.execute(
        "select author, payload from raw.jira_status_changes where issue_id = '10001'"
    ).fetchone()
    assert author == "Zoë \ufffd"
    assert json.loads(hist)["author"]["displayName"] == "Zoë \ufffd"
    assert json.loads(hist)["created"] == history["created"]
