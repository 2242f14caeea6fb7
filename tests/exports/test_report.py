"""The HTML report: well-formed, self-contained, escaped, every block with the tables' numbers."""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

import duckdb
import pytest

from reports import report_format as fmt
from reports.report import render_report

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
SVG_SELF_CLOSING = {"rect", "line", "polyline", "polygon", "circle", "path"}


class Checker(HTMLParser):
    """Records tag balance, scripts, and every URL-like attribute."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def check(page: str) -> Checker:
    parser = Checker()
    parser.feed(page)
    parser.close()
    assert parser.errors == []
    assert parser.stack == []
    return parser


def sections(page: str) -> dict[str, str]:
    """The HTML of each value-stream section, by its (escaped) heading."""
    parts = page.split('<section class="stream"')[1:]
    out = {}
    for part in parts:
        heading = re.search(r"<h2>(.*?)</h2>", part).group(1)
        out[heading] = part
    return out


@pytest.fixture
def page(con) -> str:
    return render_report(con, title="Flow metrics")


def test_well_formed_and_self_contained(page):
    parser = check(page)
    assert page.startswith("<!DOCTYPE html>")
    assert "script" not in parser.tags
    assert "link" not in parser.tags and "img" not in parser.tags
    assert "http://" not in page and "https://" not in page
    assert "//" not in "".join(v for k, v in parser.attrs if k in ("src", "href"))
    assert "@import" not in page and "url(" not in page


def test_print_rules_for_a4_landscape(page):
    assert "@page { size: A4 landscape" in page
    assert "break-before: page" in page
    assert "break-inside: avoid" in page


def test_header_shows_as_of_and_window(page):
    assert "2026-01-31 12:00 UTC" in page
    assert "90 days" in page
    assert "2025-11-02 12:00 UTC" in page  # window start


def test_one_section_per_value_stream_all_first(page, fixture_data):
    SCRIPT_STREAM = fixture_data.script_stream
    heads = list(sections(page))
    assert heads == [
        "All value streams",
        f"Value stream: {escape(SCRIPT_STREAM)}",
        "Value stream: Payments",
    ]


def test_value_stream_map_blocks_in_stage_order_with_numbers(page, fixture_data):
    SCRIPT_STREAM, VSM = fixture_data.script_stream, fixture_data.vsm
    by_stream = sections(page)
    heads = {
        "all": "All value streams",
        "Payments": "Value stream: Payments",
        SCRIPT_STREAM: f"Value stream: {escape(SCRIPT_STREAM)}",
    }
    for stream, head in heads.items():
        section = by_stream[head]
        stages = [row for row in VSM if row[0] == stream]
        names = re.findall(r'<g class="stage"><title>(.*?)</title>', section)
        assert names == [escape(s[1]) for s in stages]
        for _, _, _, _, lead, process, pca in stages:
            assert fmt.days(lead) in section
            assert fmt.days(process) in section
            assert fmt.pct(pca) in section
        assert section.count('class="wait"') == len(stages)  # a triangle before each block


def test_value_stream_totals(page):
    section = sections(page)["All value streams"]
    for label, value in [
        ("Total lead time", "14.5 d"),
        ("Total process time", "5.0 d"),
        ("Activity ratio", "34.5%"),
        ("Rolled %C/A", "60.0%"),
    ]:
        assert re.search(
            rf"{re.escape(label)}</span><span class=\"value\">{re.escape(value)}<", section
        ), label


def test_wait_states_escaped_and_ranked(page):
    section = sections(page)["All value streams"]
    block = section[section.index('class="card waits"') : section.index('class="card rework"')]
    statuses = ["Open", '=HYPERLINK("x")', "+1", "-2", "@SUM(A1)", "\tTabbed"]
    positions = [block.index(f"<td>{escape(s)}</td>") for s in statuses]
    assert positions == sorted(positions)
    assert "12.8 d" in block and "79.7%" in block  # total wait, share of lead time


def test_rework_by_stage(page):
    section = sections(page)["All value streams"]
    block = section[section.index('class="card rework"') : section.index('class="card lead"')]
    rows = re.findall(r"<tr>(.*?)</tr>", block)[1:]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows]
    assert cells == [
        ["Backlog", "6", "0", "0", "100.0%", "0"],
        ["Analysé", "5", "1", "0", "80.0%", "1"],
        ["Development", "4", "1", "1", "75.0%", "0"],
        ["Review", "0", "0", "1", fmt.MISSING, "0"],
    ]


def test_lead_time_distribution_with_percentiles_of_the_window(page):
    by_stream = sections(page)
    section = by_stream["Value stream: Payments"]
    block = section[section.index('class="card lead"') : section.index('class="card flowdist"')]
    for name, value in (("p50", 6.75), ("p85", 9.025), ("p95", 9.675)):
        assert f"{name} {fmt.days(value)}" in block
    assert block.count('class="pct-line"') == 3
    counts = [int(c) for c in re.findall(r'class="bin".*?: (\d+)</title>', block)]
    assert sum(counts) == 2  # PAY-0 was done before the window; PAY-3 is open
    all_block = by_stream["All value streams"]
    all_counts = re.findall(r'class="bin".*?: (\d+)</title>', all_block)
    assert sum(int(c) for c in all_counts) == 3


def test_flow_distribution_with_debt_line(page, fixture_data):
    SCRIPT_STREAM = fixture_data.script_stream
    by_stream = sections(page)
    section = by_stream["All value streams"]
    block = section[
        section.index('class="card flowdist"') : section.index('class="card scorecard"')
    ]
    assert 'class="debt-target"' in block
    assert "debt target 20.0%" in block
    assert 'class="debt-line"' in block
    assert "05 Jan" in block and "26 Jan" in block
    # Payments' target comes from its scorecard row.
    assert "debt target 25.0%" in by_stream["Value stream: Payments"]
    # No flow rows for the third stream: said so, not drawn.
    assert "No periods yet." in by_stream[f"Value stream: {escape(SCRIPT_STREAM)}"]


def test_scorecard_marks_and_gaps(page):
    section = sections(page)["All value streams"]
    block = section[section.index('class="card scorecard"') :]
    rows = re.findall(r"<tr>(.*?)</tr>", block)[1:]
    text = [re.sub(r"<[^>]+>", "", r) for r in rows]
    assert "7.0 d" in text[0] and "9.7 d" in text[0] and "-2.6 d" in text[0]
    assert "✗ missed" in text[0]
    assert "20.0%" in text[1] and "18.2%" in text[1] and "-1.8 pp" in text[1]
    assert "✓ met" in text[2] and "+9.5 pp" in text[2]
    assert "✗ no data" in text[3]


def test_script_titles_and_names_are_escaped(con, fixture_data):
    SCRIPT_STREAM = fixture_data.script_stream
    page = render_report(con, title="<script>alert('t')</script> & co")
    check(page)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt; &amp; co" in page
    assert escape(SCRIPT_STREAM) in page


def test_without_build_settings_as_of_is_the_latest_done_at(con):
    con.execute("drop table core.build_settings")
    page = render_report(con)
    assert "2026-01-27 20:00 UTC" in page
    assert "90 days" in page  # recovered from throughput_per_week


def test_empty_tables_say_so(fixture_data):
    con = duckdb.connect()
    fixture_data.build(con)
    for table in ("item_flow", "wait_states", "rework", "flow_distribution", "scorecard"):
        con.execute(f"delete from metrics.{table}")
    con.execute("drop table core.build_settings")
    page = render_report(con)
    check(page)
    assert "No items done in the window" in page
    assert "No waiting time recorded" in page
    assert "No periods yet." in page
    assert "No targets configured" in page


def test_missing_tables_and_no_metrics_at_all():
    con = duckdb.connect()
    page = render_report(con)
    check(page)
    assert "No metrics yet" in page
    con.execute("create schema metrics")
    con.execute(
        "create table metrics.value_stream_summary (value_stream varchar, items_done bigint,"
        " wip bigint, throughput_per_week double)"
    )
    con.execute("insert into metrics.value_stream_summary values ('all', 0, 2, 0.0)")
    page = render_report(con)
    check(page)
    assert "Not built yet: the table metrics.value_stream_map does not exist." in page


@pytest.mark.parametrize(
    ("func", "value", "expected"),
    [
        (fmt.days, 3.25, "3.2 d"),
        (fmt.days, None, fmt.MISSING),
        (fmt.pct, 0.185, "18.5%"),
        (fmt.pct, float("nan"), fmt.MISSING),
        (fmt.count, 1234, "1,234"),
    ],
)
def test_number_formats(func, value, expected):
    assert func(value) == expected


def test_gap_formats():
    assert fmt.gap("lead_time_p95_days", -2.65) == "-2.6 d"
    assert fmt.gap("tech_debt_ratio_min", 0.05) == "+5.0 pp"
    assert fmt.gap("tech_debt_ratio_min", None) == fmt.MISSING


def test_odd_values_still_render():
    """NULL percentiles, a negative lead time (clock skew), one stage, one period."""
    con = duckdb.connect()
    con.execute("create schema metrics")
    con.execute(
        "create table metrics.item_flow (item_id varchar, value_stream varchar,"
        " done_at timestamptz, lead_time_days double)"
    )
    con.execute(
        "insert into metrics.item_flow values ('a', 'X', '2026-01-30', 0.0),"
        " ('b', 'X', '2026-01-30', -0.5), ('c', 'X', '2026-01-31', 400.0)"
    )
    con.execute(
        "create table metrics.lead_time (value_stream varchar, flow_type varchar, items bigint,"
        " lead_time_p50_days double, lead_time_p85_days double, lead_time_p95_days double)"
    )
    con.execute("insert into metrics.lead_time values ('X', 'all', 3, 0.0, null, 1.0)")
    con.execute(
        "create table metrics.value_stream_map (value_stream varchar, stage varchar,"
        " stage_order integer, items_visited bigint, lead_time_days double,"
        " process_time_days double, pct_complete_accurate double)"
    )
    con.execute(
        "insert into metrics.value_stream_map values"
        " ('X', 'A very long stage name that will not fit anywhere', 1, null, null, null, null)"
    )
    con.execute(
        "create table metrics.flow_distribution (value_stream varchar, period_start date,"
        " items_done bigint, feature_items bigint, debt_ratio_effort double)"
    )
    con.execute("insert into metrics.flow_distribution values ('X', '2026-01-26', 0, 0, null)")
    page = render_report(con)
    check(page)
    assert "p50 0.0 d" in page and "p95 1.0 d" in page and "p85 <strong>–</strong>" in page
    assert "A very long stage name that will not fit anywhere" in page
    assert "26 Jan" in page
