"""What the sync asks for and when, through the real `jira` client against a `responses` JIRA:
the exact search fields, the status-catalogue re-read rule (request counts), and the prefetch
thread (errors on a later page land nothing; a failing consumer stops the worker)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

import connectors.jira.extract as jira_sync  # BULK_IDS, FLUSH_ROWS, _collect: the extract part
from connectors.jira import sync_jira
from connectors.jira.records import ISSUE_FIELDS
from connectors.prefetch import prefetched
from connectors.result import SourceError
from tests.connectors.jira.jirafake import NOW, chain, make_issue

CORE_FIELDS = {
    "summary",
    "status",
    "issuetype",
    "project",
    "priority",
    "labels",
    "components",
    "parent",
    "created",
    "updated",
}
STATUS = "/rest/api/2/status"


def seed(fake, n, first=1):
    for k in range(first, first + n):
        fake.add(
            make_issue(str(10000 + k), f"PAY-{k}", status="5"), chain(10000 + k, ["1", "3", "5"])
        )


def status_reads(fake):
    return sum(1 for _, p, _ in fake.calls if p == STATUS)


def prefetch_threads():
    return [t for t in threading.enumerate() if t.name in ("jira-prefetch", "jira-search")]


# -- fields ---------------------------------------------------------------------------------


def test_search_asks_exactly_the_fields_core_derives_from(con, settings, cfg, cloud, policy):
    seed(cloud, 3)
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    search = [q for m, p, q in cloud.calls if p.endswith("search/jql")]
    assert len(search) == 1
    assert sorted(search[0]["fields"]) == sorted(CORE_FIELDS)  # repeated `fields` params
    assert len(ISSUE_FIELDS) <= 10  # more and Cloud shrinks the pages (docs/api-facts.md §1.2)
    assert search[0]["maxResults"] == "1000"
    # system ids need no name lookup: the one GET /field is ours (docs/contract.md §6: Flagged's id), once
    assert cloud.paths().count("/rest/api/2/field") == 1
    # the payload landed is the issue as search returned it
    payload = json.loads(
        con.execute("select payload from raw.jira_issues where issue_id = '10001'").fetchone()[0]
    )
    assert payload == cloud.issues[0]


# -- status catalogue -----------------------------------------------------------------------


def test_catalogue_is_read_on_full_syncs_and_when_stale_not_every_night(
    con, settings, cfg, cloud, policy
):
    seed(cloud, 2)
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert status_reads(cloud) == 1
    # next night, an issue changed (known status): no catalogue request at all
    cloud.add(
        make_issue("10001", "PAY-1", status="3", updated="2024-03-01T12:30:00.000+0000"),
        chain(10001, ["1", "3"]),
    )
    before = len(cloud.calls)
    night = sync_jira(con, settings, cfg, run_started_at=NOW + timedelta(days=1), policy=policy)
    assert status_reads(cloud) == 1
    assert [p for _, p, _ in cloud.calls[before:]] == [
        "/rest/api/2/serverInfo",
        "/rest/api/2/search/jql",
        "/rest/api/3/changelog/bulkfetch",
    ]  # nor a field-catalogue request: it is read on the status catalogue's schedule
    assert night.requests == 3
    # older than sync.census_days (7): read again (and the census runs, as before)
    sync_jira(con, settings, cfg, run_started_at=NOW + timedelta(days=8), policy=policy)
    assert status_reads(cloud) == 2
    synced = con.execute("select distinct synced_at from raw.jira_statuses").fetchall()
    assert synced == [(NOW + timedelta(days=8),)]
    # a forced full sync reads it whatever its age
    sync_jira(con, settings, cfg, full=True, run_started_at=NOW + timedelta(days=9), policy=policy)
    assert status_reads(cloud) == 3


def test_unknown_status_id_costs_one_catalogue_request(con, settings, cfg, cloud, policy):
    seed(cloud, 2)
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    cloud.statuses.append(
        {"id": "77", "name": "Blocked", "statusCategory": {"id": 4, "key": "indeterminate"}}
    )
    cloud.add(
        make_issue("10002", "PAY-2", status="77", updated="2024-03-01T12:30:00.000+0000"),
        chain(10002, ["1", "77"]),
    )
    before = len(cloud.calls)
    night = sync_jira(con, settings, cfg, run_started_at=NOW + timedelta(days=1), policy=policy)
    assert [p for _, p, _ in cloud.calls[before:]] == [
        "/rest/api/2/serverInfo",
        "/rest/api/2/search/jql",
        "/rest/api/3/changelog/bulkfetch",
        STATUS,
    ]
    assert night.requests == 4
    assert con.execute(
        "select name, category_key from raw.jira_statuses where status_id = '77'"
    ).fetchone() == ("Blocked", "indeterminate")
    # the night after, the id is known: no catalogue request again
    cloud.add(
        make_issue("10001", "PAY-1", status="77", updated="2024-03-02T12:30:00.000+0000"),
        chain(10001, ["1", "77"]),
    )
    sync_jira(con, settings, cfg, run_started_at=NOW + timedelta(days=2), policy=policy)
    assert status_reads(cloud) == 2


def test_empty_catalogue_is_read_on_an_incremental_run(con, settings, cfg, cloud, policy):
    seed(cloud, 1)
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    con.execute("delete from raw.jira_statuses")
    sync_jira(con, settings, cfg, run_started_at=NOW + timedelta(days=1), policy=policy)
    assert status_reads(cloud) == 2
    assert con.execute("select count(*) from raw.jira_statuses").fetchone()[0] == 4


# -- prefetch -------------------------------------------------------------------------------


def test_error_on_page_two_while_page_one_is_mapped_lands_nothing(
    con, settings, cfg, cloud, policy, monkeypatch
):
    seed(cloud, 3)
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    state = con.execute("select * from raw.sync_state").fetchall()
    landed = con.execute(
        "select issue_id, status_id, synced_at from raw.jira_issues order by issue_id"
    ).fetchall()
    history = con.execute("select count(*) from raw.jira_status_changes").fetchone()
    # page 1 (a changed issue) is fetched, bulkfetched and mapped; page 2 fails
    monkeypatch.setattr(jira_sync, "BULK_IDS", 1)
    changed = make_issue("10001", "PAY-1", status="3", updated="2024-03-01T12:30:00.000+0000")
    cloud.add(changed, chain(10001, ["1", "3"]))
    cloud.search_script = [
        {"issues": [changed], "nextPageToken": "p2"},
        (400, {}, json.dumps({"errorMessages": ["boom on page 2"]})),
    ]
    mapped = []
    real_collect = jira_sync._collect

    def spy(found, issues, *args, **kwargs):
        mapped.append([i["id"] for i in issues])
        return real_collect(found, issues, *args, **kwargs)

    monkeypatch.setattr(jira_sync, "_collect", spy)
    with pytest.raises(SourceError, match=r"HTTP 400.*boom on page 2"):
        sync_jira(con, settings, cfg, run_started_at=NOW + timedelta(days=1), policy=policy)
    assert mapped == [["10001"]]  # page 1 was mapped before the error surfaced
    assert cloud.count("search/jql") == 3 and cloud.count("bulkfetch") == 2
    assert con.execute("select * from raw.sync_state").fetchall() == state
    assert (
        con.execute(
            "select issue_id, status_id, synced_at from raw.jira_issues order by issue_id"
        ).fetchall()
        == landed
    )
    assert con.execute("select count(*) from raw.jira_status_changes").fetchone() == history
    assert con.execute("select status from raw.sync_runs order by started_at").fetchall() == [
        ("success",),
        ("failed",),
    ]
    assert prefetch_threads() == []


def test_failure_while_mapping_stops_the_prefetch_thread(
    con, settings, cfg, cloud, policy, monkeypatch
):
    seed(cloud, 6)
    cloud.search_cap = 1
    monkeypatch.setattr(jira_sync, "BULK_IDS", 1)

    def boom(*args, **kwargs):
        raise RuntimeError("mapping failed")

    monkeypatch.setattr(jira_sync, "_collect", boom)
    with pytest.raises(SourceError, match="mapping failed"):
        sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert prefetch_threads() == []
    # the worker stopped within its bounded lead: never all 6 pages
    assert cloud.count("search/jql") < 6
    assert con.execute("select count(*) from raw.jira_issues").fetchone() == (0,)


def test_next_search_page_is_in_flight_while_a_batch_is_bulkfetched(
    con, settings, cfg, cloud, policy, monkeypatch
):
    seed(cloud, 3)
    cloud.search_cap = 1
    monkeypatch.setattr(jira_sync, "BULK_IDS", 1)
    asked_page_two = threading.Event()
    overlapped: list[bool] = []

    def watch(method, path, query):
        if path.endswith("search/jql") and query.get("nextPageToken"):
            asked_page_two.set()
        if path.endswith("bulkfetch") and not overlapped:
            # one request at a time would ask for page 2 only after this answer: time out
            overlapped.append(asked_page_two.wait(timeout=5))

    cloud.before.append(watch)
    result = sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert overlapped == [True]
    assert result.requests == 3 + 3 + 3  # serverInfo, statuses, fields, 3 pages, 3 bulkfetches
    assert con.execute("select count(*) from raw.jira_status_changes").fetchone() == (6,)
    assert prefetch_threads() == []


def test_a_failed_bulkfetch_stops_the_search_thread_and_lands_nothing(
    con, settings, cfg, cloud, policy, monkeypatch
):
    seed(cloud, 6)
    cloud.search_cap = 1
    monkeypatch.setattr(jira_sync, "BULK_IDS", 1)
    cloud.fault("bulkfetch", 400, body={"errorMessages": ["bulk refused"]})
    with pytest.raises(SourceError, match="bulk refused"):
        sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert prefetch_threads() == []
    asked = cloud.count("search/jql")
    assert asked < 6  # the search thread stopped within its one-page lead
    threading.Event().wait(0.2)
    assert cloud.count("search/jql") == asked  # and nothing runs on after the failure
    assert con.execute("select count(*) from raw.jira_issues").fetchone() == (0,)
    assert con.execute("select count(*) from raw.sync_state").fetchone() == (0,)


def test_prefetched_runs_the_producer_on_one_other_thread_and_reraises():
    seen: list[str] = []

    def produce():
        for n in range(3):
            seen.append(threading.current_thread().name)
            yield n
        raise ValueError("producer failed")

    out = []
    with pytest.raises(ValueError, match="producer failed"):
        for item in prefetched(produce(), depth=1, name="t-prefetch"):
            out.append(item)
    assert out == [0, 1, 2]
    assert set(seen) == {"t-prefetch"}
    assert not [t for t in threading.enumerate() if t.name == "t-prefetch"]


# -- staged landing -------------------------------------------------------------------------


def _raw_tables(con):
    return (
        con.execute(
            "select issue_id, status_id, changelog_total, status_histories, payload"
            " from raw.jira_issues order by issue_id"
        ).fetchall(),
        con.execute(
            "select issue_id, history_id, item_index, to_status_id, source_order"
            " from raw.jira_status_changes order by all"
        ).fetchall(),
    )


@pytest.mark.parametrize("flush_rows", [1, 500_000])
def test_a_later_copy_on_a_later_page_wins_whether_flushed_per_batch_or_once(
    con, settings, cfg, cloud, policy, monkeypatch, flush_rows
):
    # PAY-1 is on page 1 in status 3 (history 1->3), then moves on while we page: page 3
    # brings it again in status 5 with a longer history. Only the later copy may be landed.
    monkeypatch.setattr(jira_sync, "BULK_IDS", 1)
    monkeypatch.setattr(jira_sync, "FLUSH_ROWS", flush_rows)
    early = make_issue("10001", "PAY-1", status="3", updated="2024-03-01T10:00:00.000+0000")
    other = make_issue("10002", "PAY-2", status="5")
    late = make_issue("10001", "PAY-1", status="5", updated="2024-03-01T11:00:00.000+0000")
    cloud.add(other, chain(10002, ["1", "3", "5"]))
    cloud.add(late, chain(10001, ["1", "3", "5"]))  # bulkfetch serves the latest history
    cloud.search_script = [
        {"issues": [early], "nextPageToken": "p2"},
        {"issues": [other], "nextPageToken": "p3"},
        {"issues": [late], "isLast": True},
    ]
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy, full=True)
    issues, changes = _raw_tables(con)
    assert [(i[0], i[1]) for i in issues] == [("10001", "5"), ("10002", "5")]
    # chain(.., ["1", "3", "5"]) = two status histories per issue, each with one status item
    assert [(c[0], c[3]) for c in changes] == [
        ("10001", "3"),
        ("10001", "5"),
        ("10002", "3"),
        ("10002", "5"),
    ]
    assert cloud.count("bulkfetch") == 3  # one per batch of BULK_IDS = 1


def test_a_failure_after_rows_were_flushed_lands_nothing(
    con, settings, cfg, cloud, policy, monkeypatch
):
    seed(cloud, 2)
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    before = _raw_tables(con)
    state = con.execute("select * from raw.sync_state").fetchall()
    monkeypatch.setattr(jira_sync, "BULK_IDS", 1)
    monkeypatch.setattr(jira_sync, "FLUSH_ROWS", 1)  # page 1 is written before page 2 fails
    changed = make_issue("10001", "PAY-1", status="3", updated="2024-03-01T12:30:00.000+0000")
    cloud.add(changed, chain(10001, ["1", "3"]))
    cloud.search_script = [
        {"issues": [changed], "nextPageToken": "p2"},
        {"issues": [changed], "nextPageToken": "p3"},
        (400, {}, json.dumps({"errorMessages": ["boom on page 3"]})),
    ]
    with pytest.raises(SourceError, match=r"HTTP 400.*boom on page 3"):
        sync_jira(con, settings, cfg, run_started_at=NOW + timedelta(days=1), policy=policy)
    assert _raw_tables(con) == before
    assert con.execute("select * from raw.sync_state").fetchall() == state
    assert [t for t in threading.enumerate() if t.name == "jira-writer"] == []


def test_a_history_served_twice_lands_once_as_its_last_copy(con, settings, cfg, cloud, policy):
    # Overlapping changelog pages can repeat a history. Each issue is staged once here, so the
    # rows go in without the latest-copy window: the repeat must be gone before that, and the
    # last copy served is the one kept (as the window would have kept it).
    first, second = chain(10001, ["1", "3", "5"])
    stale = {**first, "author": {"displayName": "Old copy"}}
    cloud.add(make_issue("10001", "PAY-1", status="5"), [stale, second, first])
    cloud.add(make_issue("10002", "PAY-2", status="5"), chain(10002, ["1", "3", "5"]))
    sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)
    rows = con.execute(
        "select issue_id, history_id, to_status_id, author, source_order"
        " from raw.jira_status_changes order by issue_id, source_order"
    ).fetchall()
    # served (bulkfetch, in time order): stale copy, first, second -> the stale copy is gone
    assert rows == [
        ("10001", "10001000", "3", "Mia", 1),
        ("10001", "10001001", "5", "Mia", 2),
        ("10002", "10002000", "3", "Mia", 1),
        ("10002", "10002001", "5", "Mia", 2),
    ]
    assert con.execute(
        "select status_histories from raw.jira_issues order by issue_id"
    ).fetchall() == [(2,), (2,)]
