"""The report's "Flow over time" block (docs/contract.md §6): for every value stream a cumulative flow
diagram, an ageing-WIP chart with the SLE and the items over it named, trend lines and the
forecast sentences, built from a real warehouse (hand-written timeline, as_of day 6.5)."""

from __future__ import annotations

import re

import duckdb
import pytest

from reports.report import render_report
from tests.exports.test_report import check, sections
from tests.warehouse.wh_timeline import (
    JIRA_STATUSES,
    add_issue,
    add_jira_statuses,
    build,
    config,
    new_warehouse,
)

CONFIG = """
window_days: 5
stages: [Backlog, Dev, Done]
statuses:
  jira:
    Open: {stage: Backlog, kind: wait}
    In Progress: {stage: Dev, kind: active}
    Done: {stage: Done, kind: done}
value_streams:
  - name: Payments
    jira: {projects: [PAY]}
  - name: R&D <ops>
    jira: {projects: [OPS]}
forecast: {history_days: 4, horizons_days: [7, 14], trials: 500, seed: 3}
"""


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    """Payments: PAY-1..3 done on days 3, 4, 5 (leads 3, 3, 4: p85 SLE 3.7); PAY-4 open since
    day 0 (age 6.5, over the SLE), PAY-5 open since day 5 (age 1.5). R&D <ops>: OPS-1 open since
    day 2, nothing done (no SLE, no throughput)."""
    c = new_warehouse()
    add_jira_statuses(c, JIRA_STATUSES)
    add_issue(c, "PAY-1", 0, [(1, "1", "3"), (3, "3", "10")])
    add_issue(c, "PAY-2", 1, [(2, "1", "3"), (4, "3", "10")])
    add_issue(c, "PAY-3", 1, [(2, "1", "3"), (5, "3", "10")])
    add_issue(c, "PAY-4", 0, [(1, "1", "3")])
    add_issue(c, "PAY-5", 5, [])
    add_issue(c, "OPS-1", 2, [(3, "1", "3")])
    build(c, config(CONFIG), 6.5)
    yield c
    c.close()


@pytest.fixture(scope="module")
def page(con: duckdb.DuckDBPyConnection) -> str:
    return render_report(con)


def test_every_stream_has_the_four_pictures(page: str) -> None:
    check(page)
    got = sections(page)
    assert set(got) == {
        "All value streams",
        "Value stream: Payments",
        "Value stream: R&amp;D &lt;ops&gt;",
    }
    for html in got.values():
        for marker in (
            'class="cfd"',
            'class="aging"',
            'class="trends"',
            "When will it be done? Forecast",
        ):
            assert marker in html
    assert "<ops>" not in page  # a user-typed name is escaped everywhere


def test_cfd_has_one_band_per_stage(page: str) -> None:
    pay = sections(page)["Value stream: Payments"]
    cfd = re.search(r'<svg class="cfd".*?</svg>', pay, re.S).group(0)
    assert re.findall(r"<title>(.*?)</title>", cfd) == ["Done", "Dev", "Backlog"]  # done lowest


def test_aging_chart_dots_sle_and_items_over_it(page: str) -> None:
    pay = sections(page)["Value stream: Payments"]
    aging = re.search(r'<svg class="aging".*?</svg>', pay, re.S).group(0)
    # one dot per open item: PAY-4 (6.5 d, over the 3.7 d SLE) and PAY-5 (1.5 d)
    assert aging.count('class="over"') == 1 and aging.count('class="dot"') == 1
    # SLE = p85 of leads [3, 3, 4] = 3 + 0.7 x 1 = 3.7
    assert 'class="sle"' in aging and "SLE 3.7 d" in aging
    assert 'class="over-label">PAY-4<' in aging
    assert re.search(r'class="over-sle">Over the SLE \(3\.7 d\): 1 of 2 open items.*PAY-4', pay)
    ops = sections(page)["Value stream: R&amp;D &lt;ops&gt;"]
    assert "No SLE" in ops and 'class="sle"' not in ops


def test_forecast_sentences(page: str, con: duckdb.DuckDBPyConnection) -> None:
    pay = sections(page)["Value stream: Payments"]
    p85 = dict(
        con.execute(
            "select horizon_days, items_p85 from metrics.forecast"
            " where value_stream = 'Payments' and horizon_days is not null"
        ).fetchall()
    )
    for h in (7, 14):
        assert (
            f"In <b>{h} days</b>: at least <strong>{p85[h]}</strong> items with 85% "
            "confidence" in pay
        )
    days = con.execute(
        "select wip_done_days_p85 from metrics.forecast"
        " where value_stream = 'Payments' and horizon_days is null"
    ).fetchone()[0]
    assert f"Today's WIP (2 items) done within <strong>{days}</strong> days at 85%" in pay
    ops = sections(page)["Value stream: R&amp;D &lt;ops&gt;"]
    assert "Today's WIP (1 items): <strong>no forecast</strong>" in ops


def test_a_table_not_built_yet_is_said(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("begin transaction")
    try:
        con.execute("drop table metrics.forecast")
        con.execute("drop table metrics.daily_flow")
        page = render_report(con)
    finally:
        con.execute("rollback")
    check(page)
    assert "Not built yet: the table metrics.forecast does not exist." in page
    assert "Not built yet: the table metrics.daily_flow does not exist." in page
    assert 'class="aging"' in page  # the other pictures still draw
