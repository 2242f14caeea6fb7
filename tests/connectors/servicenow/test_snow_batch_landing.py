"""Records and sys_audit history are staged page by page and land inside the run's ONE
transaction as each scan ends (or every `land.FLUSH_ROWS` rows), not after the last request.

Through the real pysnow client against the fake Table API (`responses`): a failure after some
rows were landed rolls all of them back (cursor, records, history as before the run), and
batch landing keeps the end-of-run semantics (later copies win, history upserted by change_id,
so an incremental run keeps a re-read record's older history).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from connectors.result import SourceError
from connectors.servicenow import land, sync_servicenow
from tests.connectors.servicenow.snow_fake import NOW, audit, incident, make_cfg, sys_id

RAW = (
    "raw.servicenow_records",
    "raw.servicenow_state_changes",
    "raw.servicenow_choices",
    "raw.servicenow_groups",
    "raw.quarantine",
    "raw.sync_state",
)
#: records pages of 500, two audit rows per record a night: three sys_audit pages of 500
N = 600


def ts(base: str, seconds: int) -> str:
    return (datetime.fromisoformat(base) + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


def snapshot(con) -> dict[str, list[tuple]]:
    out = {t: sorted(con.execute(f"select * from {t}").fetchall(), key=repr) for t in RAW}
    out["runs"] = sorted(
        con.execute(
            "select run_id, stream, status from raw.sync_runs where status = 'success'"
        ).fetchall()
    )
    return out


def night_one(fake) -> list[dict]:
    rows = [incident(i, ts("2024-03-01 10:00:00", i), state="1") for i in range(N)]
    fake.tables["incident"] = rows
    fake.tables["sys_audit"] = [
        audit(
            2 * i + k,
            sys_id(i),
            ts(f"2024-02-0{1 + k} 09:00:00", i),
            "" if k == 0 else "1",
            "1" if k == 0 else "2",
            k + 1,
        )
        for i in range(N)
        for k in range(2)
    ]
    return rows


def night_two(fake, rows) -> None:
    """Every record changes state twice after the cursor (2 -> 3 -> 6): two audit rows each."""
    for i, row in enumerate(rows):
        at = ts("2024-03-10 12:10:00", i // 3)  # all inside the next night's window
        row.update(state="6", sys_updated_on=at, sys_mod_count="4")
        fake.tables["sys_audit"] += [
            audit(100_000 + i, sys_id(i), ts("2024-03-10 12:05:00", i // 3), "2", "3", 3),
            audit(200_000 + i, sys_id(i), at, "3", "6", 4),
        ]


@pytest.mark.parametrize("failure", ["http_401", "sys_audit_403"])
def test_failure_after_pages_were_landed_leaves_the_warehouse_as_before(
    con, settings, fake, policy, failure, monkeypatch
):
    """Records land at the end of their scan, sys_audit rows every 500 (FLUSH_ROWS made
    small): the third sys_audit page fails after the first two were landed."""
    monkeypatch.setattr(land, "FLUSH_ROWS", 500)
    cfg = make_cfg(page_size=500)
    rows = night_one(fake)
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    before = snapshot(con)
    assert len(before["raw.servicenow_records"]) == N
    assert len(before["raw.servicenow_state_changes"]) == 2 * N

    night_two(fake, rows)
    seen_in_run: list[tuple[int, int]] = []

    def progress(source, stream, message, count):
        # main thread, inside the run's transaction: what the run itself has landed so far
        seen_in_run.append(
            con.execute(
                "select (select count(*) from raw.servicenow_records where state = '6'),"
                " (select count(*) from raw.servicenow_state_changes"
                "  where changed_at >= '2024-03-10')"
            ).fetchall()[0]
        )

    audit_before = len(fake.table_requests("sys_audit"))

    def fail_on_a_later_audit_page(req):
        if req.table == "sys_audit" and len(fake.table_requests("sys_audit")) == audit_before + 2:
            if failure == "http_401":  # not retried: the run stops here
                fake.queued.append(
                    (401, {}, {"error": {"message": "User Not Authenticated"}, "status": "failure"})
                )
            else:  # sys_audit readable for one page, then refused
                fake.forbidden.add("sys_audit")

    fake.after_request = fail_on_a_later_audit_page

    later = NOW + timedelta(hours=1)
    with pytest.raises(SourceError) as err:
        sync_servicenow(con, settings, cfg, run_started_at=later, policy=policy, progress=progress)
    if failure == "sys_audit_403":
        assert "sys_audit became unreadable in the middle" in str(err.value)
        assert not fake.table_requests("metric_instance")  # no mixed-source fallback
    # rows before the failure really were landed (then rolled back): all records, some of
    # the history ...
    assert max(seen_in_run) == (N, 1000)  # sys_audit pages 1 and 2
    # ... and nothing of them is left: records, history, cursor as before the run
    after = snapshot(con)
    assert after == before
    failed = con.execute("select status from raw.sync_runs where status <> 'success'").fetchall()
    assert failed == [("failed",)]

    # the next run (the instance healthy again) lands everything
    fake.after_request = None
    fake.forbidden.discard("sys_audit")
    result = sync_servicenow(con, settings, cfg, run_started_at=later, policy=policy)
    assert result.streams[0].records == N and result.streams[0].histories == 2 * N
    assert con.execute(
        "select count(*) from raw.servicenow_records where state = '6'"
    ).fetchall() == [(N,)]
    assert con.execute("select count(*) from raw.servicenow_state_changes").fetchall() == [(4 * N,)]


@pytest.mark.parametrize("page", [1, 2])
def test_sys_audit_forbidden_before_any_of_it_landed_still_falls_back(
    con, settings, fake, policy, page
):
    """403 on the first sys_audit page, or on a later one while its rows are only staged:
    the staged rows are dropped and the metric_instance fallback is taken, as before."""
    cfg = make_cfg(page_size=500)
    night_one(fake)
    fake.tables["metric_instance"] = [  # periods in state 1, then 2: one transition each
        {
            "sys_id": f"m{k}{i}",
            "definition": "d",
            "id": sys_id(i),
            "table": "incident",
            "field": "state",
            "value": v,
            "field_value": v,
            "start": start,
            "end": end,
            "calculation_complete": "true",
        }
        for i in range(N)
        for k, (v, start, end) in enumerate(
            [("1", "2024-02-01 09:00:00", "2024-02-02 09:00:00"), ("2", "2024-02-02 09:00:00", "")]
        )
    ]

    def refuse(req):
        if req.table == "sys_audit" and len(fake.table_requests("sys_audit")) == page - 1:
            fake.forbidden.add("sys_audit")

    if page == 1:
        fake.forbidden = {"sys_audit"}
    else:
        fake.after_request = refuse
    result = sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert any("sys_audit is not readable" in w for w in result.warnings)
    assert con.execute("select count(*) from raw.servicenow_records").fetchall() == [(N,)]
    # only metric_instance history: nothing of the sys_audit page read before the 403
    assert con.execute(
        "select history_source, count(*) from raw.servicenow_state_changes group by 1"
    ).fetchall() == [("metric_instance", N)]
    assert result.streams[0].histories == N


def test_incremental_keeps_older_history_of_re_read_records(con, settings, fake, policy):
    """History is upserted by change_id, never replaced per record: an incremental run reads
    only the window's sys_audit rows, so a re-read record's earlier changes must stay."""
    cfg = make_cfg(page_size=500)
    rows = night_one(fake)
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    night_two(fake, rows)
    result = sync_servicenow(
        con, settings, cfg, run_started_at=NOW + timedelta(hours=1), policy=policy
    )
    assert result.streams[0].mode == "incremental"
    assert result.streams[0].records == N and result.streams[0].histories == 2 * N
    per_record = con.execute(
        "select list(to_value order by changed_at) from raw.servicenow_state_changes"
        " where record_sys_id = ?",
        [sys_id(7)],
    ).fetchall()
    assert per_record == [(["1", "2", "3", "6"],)]
    assert con.execute(
        "select count(*), count(distinct change_id) from raw.servicenow_state_changes"
    ).fetchall() == [(4 * N, 4 * N)]


@pytest.mark.parametrize("flush_rows", [1, 500_000])
def test_a_copy_in_a_later_page_replaces_one_landed_from_an_earlier_page(
    con, settings, fake, policy, monkeypatch, flush_rows
):
    """Updated mid-scan: the record's newer copy (page 2) replaces its first copy (page 1):
    one row, the newer state -- whether page 1 was already written (flush_rows=1) or both
    copies are staged together and landing must pick the later one."""
    monkeypatch.setattr(land, "FLUSH_ROWS", flush_rows)
    cfg = make_cfg(page_size=500)
    rows = [incident(i, ts("2024-03-01 10:00:00", i)) for i in range(N)]
    fake.tables["incident"] = rows

    def touch(req):
        if req.table == "incident" and len(fake.table_requests("incident")) == 1:
            rows[3].update(sys_updated_on="2024-03-05 09:00:00", state="6")

    fake.after_request = touch
    sync_servicenow(con, settings, cfg, run_started_at=NOW, policy=policy)
    assert con.execute(
        "select state, updated_at::varchar from raw.servicenow_records where sys_id = ?",
        [sys_id(3)],
    ).fetchall() == [("6", "2024-03-05 09:00:00+00")]
    assert con.execute("select count(*) from raw.servicenow_records").fetchall() == [(N,)]


def test_staged_history_lands_once_its_arrow_bytes_pass_the_limit(con, monkeypatch):
    """Bounded memory: staged rows land when their Arrow bytes reach `FLUSH_BYTES`, not only
    every `FLUSH_ROWS` rows (500,000 rows of history would be ~200 MB of Arrow)."""
    from connectors.servicenow.history import audit_changes

    rows = [audit(i, sys_id(i), ts("2024-02-01 09:00:00", i), "1", "2", 1) for i in range(1000)]
    changes, bad = audit_changes("incident", rows)
    assert len(changes) == 1000 and not bad

    def landed_while_staging(flush_bytes: int) -> list[int]:
        monkeypatch.setattr(land, "FLUSH_BYTES", flush_bytes)
        con.execute("begin")
        lander = land.BatchLander(con, NOW)
        seen = []
        for start in range(0, 1000, 100):  # ten pages of 100 rows, ~60 kB of Arrow each
            lander.changes(changes[start : start + 100])
            seen.append(
                con.execute("select count(*) from raw.servicenow_state_changes").fetchall()[0][0]
            )
        lander.flush()
        assert con.execute("select count(*) from raw.servicenow_state_changes").fetchall() == [
            (1000,)
        ]
        con.execute("rollback")
        return seen

    # the default (24 MiB): nothing lands before the scan's flush
    assert landed_while_staging(land.FLUSH_BYTES) == [0] * 10
    # a limit of ~2 pages: rows land while the scan goes on, whole pages at a time
    small = landed_while_staging(120_000)
    assert small[-1] > 0 and small == sorted(small)
    assert all(n % 100 == 0 for n in small)
