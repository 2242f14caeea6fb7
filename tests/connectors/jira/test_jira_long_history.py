"""Histories of any length: an issue with 10,500 status changes (an epic moved back and forth
for years) lands completely, paged through bulkfetch, next to ordinary issues."""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors.jira import sync_jira
from tests.connectors.jira.jirafake import NOW, chain, make_history, make_issue

CHANGES = 10_500


def test_an_issue_with_ten_thousand_status_changes_lands_completely(
    con, settings, cfg, cloud, policy
):
    start = datetime(2023, 1, 1, 9, 0)
    # 1 -> 3 -> 1 -> 3 ... : change n goes from "1" to "3" when n is even; 10,500 changes
    # (an even number) end back in "1", the issue's current status
    histories = [
        make_history(
            f"9{n:06d}",
            (start + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "1" if n % 2 == 0 else "3",
            "3" if n % 2 == 0 else "1",
        )
        for n in range(CHANGES)
    ]
    cloud.add(
        make_issue("1", "PAY-1", status="1", updated="2024-02-01T10:00:00.000+0000"), histories
    )
    cloud.add(make_issue("2", "PAY-2", status="5"), chain(2, ["1", "3", "5"]))
    cloud.bulk_cap = 1000  # bulkfetch pages of 1000 histories: 11 pages for this batch
    result = sync_jira(con, settings, cfg, run_started_at=NOW, policy=policy)

    assert result.streams[0].histories == CHANGES + 2
    rows = con.execute(
        "select count(*), count(distinct history_id), min(changed_at), max(changed_at)"
        " from raw.jira_status_changes where issue_id = '1'"
    ).fetchone()
    # first change at 2023-01-01 09:00, the last 10,499 minutes later (7 d 6 h 59 min)
    assert rows[0] == rows[1] == CHANGES
    assert rows[3] - rows[2] == timedelta(minutes=CHANGES - 1)
    assert cloud.count("bulkfetch") == 11  # ceil(10,502 / 1000): one batch, paged
