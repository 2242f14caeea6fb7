"""Progress a person can follow (connectors/progress.py): records done, rate, ETA, throttling,
(the ServiceNow side: servicenow/test_snow_progress.py)."""

from __future__ import annotations

from connectors.progress import (
    ProgressMeter,
    StreamProgress,
    format_bar,
    format_line,
    report_total,
)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_rate_and_eta_from_a_timeline():
    clock, shown = Clock(), []
    meter = ProgressMeter(shown.append, every_s=5.0, clock=clock)
    meter.total("servicenow", "incident", 4000)
    meter("servicenow", "incident", "page 1", 0)  # t=100: the stream starts
    clock.t = 103.0
    meter("servicenow", "incident", "page 2", 300)  # 3 s later: within every_s, not shown
    clock.t = 110.0
    meter("servicenow", "incident", "page 11", 1000)  # 10 s after the start
    assert [s.done for s in shown] == [0, 1000]
    last = shown[-1]
    # rate = 1000 records / 10 s = 100/s; left = 4000 - 1000 = 3000 -> ETA 3000 / 100 = 30 s
    assert last.rate == 100.0
    assert last.eta_s == 30.0
    assert format_line(last) == (
        "servicenow/incident: 1,000 of 4,000 records (25%), 100/s, ETA 0:30 -- page 11"
    )
    # 25 % of a 24-wide bar = 6 filled
    assert format_bar(last) == (
        "servicenow/incident [######..................] 1,000/4,000 100/s ETA 0:30"
    )
    # the skipped report is still the latest state of another call's snapshot list
    assert meter.snapshots()[0].done == 1000


def test_without_a_total_the_line_shows_rate_and_elapsed_time():
    p = StreamProgress("jira", "issues", 20_000, None, 3725.0, "page 200")
    # 20000 / 3725 s = 5.37/s -> '5/s'; 3725 s = 1 h 2 min 5 s
    assert format_line(p) == "jira/issues: 20,000 records, 5/s, 1:02:05 so far -- page 200"
    assert p.eta_s is None and format_bar(p) == format_line(p)


def test_report_total_reaches_only_callbacks_that_take_it():
    seen = []
    report_total(lambda *a: seen.append(a), "jira", "issues", 5)  # a plain callback: ignored
    meter = ProgressMeter(lambda s: None)
    report_total(meter, "jira", "issues", 5)
    report_total(meter, "jira", "issues2", None)  # nothing known: nothing set
    meter("jira", "issues", "", 1)
    assert seen == [] and meter.snapshots()[0].total == 5
