"""The report's stability card and delivery line (reports/report_stability.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import duckdb

from reports.report import render_report

VOID = {
    "meta",
    "br",
    "hr",
    "img",
    "input",
    "link",
    "col",
    "area",
    "base",
    "source",
    "wbr",
    "circle",
    "rect",
    "line",
    "polygon",
    "polyline",
    "path",
}


def check(page: str) -> None:
    """Every tag closed in order (the SVG shapes here are written self-closed)."""
    stack: list[str] = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag not in VOID:
                stack.append(tag)

        def handle_endtag(self, tag):
            if tag in VOID:
                return
            assert stack and stack[-1] == tag, (tag, stack[-3:])
            stack.pop()

    P().feed(page)
    assert stack == ["html"] or stack == [], stack


def sections(page: str) -> dict[str, str]:
    return {
        re.search(r"<h2>(.*?)</h2>", part).group(1): part
        for part in page.split('<section class="stream"')[1:]
    }


def test_stability_card_per_period_with_failed_changes_escaped(con):
    page = render_report(con)
    check(page)
    pay = sections(page)["Value stream: Payments"]
    card = pay.split('<div class="card stability">')[1]
    # the period with activity: 2 done, 1 failed, 50.0%, 3 opened, 2 restored, 1.2 d / 2.0 d
    row = card.split("<tr>")[2]
    for cell in ("2026-01-05", ">2<", ">1<", "50.0%", ">3<", "1.2 d", "2.0 d"):
        assert cell in row, (cell, row)
    assert "CHG&lt;b&gt;7&lt;/b&gt;" in row and "<b>7</b>" not in page
    # the second period has no done change: its rate is unknown, not 0 %
    assert "–" in card.split("<tr>")[3]
    assert "caused_by" in card  # the note says where failures come from


def test_delivery_line_continues_past_done_to_production(con):
    pay = sections(render_report(con))["Value stream: Payments"]
    vsm = pay.split('<div class="card vsm-card">')[1].split('<div class="card waits">')[0]
    assert '<svg class="delivery"' in vsm and "Production" in vsm
    # done-to-production mean 1.3333 d, idea-to-production p50 3.0 / p85 5.65 (-> 5.7 d)
    assert "+1.3 d after done" in vsm
    assert "3.0 d" in vsm and "5.7 d" in vsm
    allv = sections(render_report(con))["All value streams"]
    assert "no JIRA item had its first implementing change request done" in allv


def test_without_the_stability_tables_the_report_says_so(con):
    con.execute("drop table metrics.stability")
    con.execute("drop table metrics.delivery")
    page = render_report(con)
    check(page)
    assert "metrics.stability does not exist" in page
    assert '<svg class="delivery"' not in page


def test_empty_stability_table():
    c = duckdb.connect()
    c.execute("create schema metrics")
    c.execute(
        "create table metrics.value_stream_summary (value_stream varchar,"
        " items_done bigint, wip bigint, throughput_per_week double)"
    )
    c.execute("insert into metrics.value_stream_summary values ('all', 0, 0, 0.0)")
    c.execute(
        "create table metrics.stability (value_stream varchar, period_start timestamptz,"
        " changes_done bigint, incidents_opened bigint, incidents_restored bigint)"
    )
    page = render_report(c)
    check(page)
    assert "No change requests or incidents yet" in page
