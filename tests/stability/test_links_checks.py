"""The checks on links and stability: when many links point outside the warehouse, a warning
names the kind; the stability check passes on a sound build and catches a broken row."""

from __future__ import annotations

from tests.stability.links_timeline import add_all_choices, add_snow, done_change
from tests.warehouse.wh_timeline import (
    JIRA_STATUSES,
    add_issue,
    add_jira_statuses,
    build,
    config,
    new_warehouse,
)
from warehouse.build import run_check

CFG = "window_days: 30\n"


def _warehouse(outside: int, inside: int):
    """`inside` incidents caused by a landed change, `outside` by a change never synced."""
    con = new_warehouse()
    add_jira_statuses(con, JIRA_STATUSES)
    add_all_choices(con)
    add_issue(con, "PAY-1", 0, [])
    add_snow(con, **done_change("CHG1", 0, 2, correlation_id="PAY-1"))
    for i in range(inside):
        add_snow(con, "incident", f"INC{i:03d}", 3, [], caused_by="sys-CHG1")
    for i in range(outside):
        add_snow(con, "incident", f"INC{500 + i:03d}", 3, [], caused_by=f"sys-gone-{i}")
    build(con, config(CFG), 20)
    return con


def test_many_links_outside_warn_with_the_kind_and_examples():
    # 10 of 10 + 2 = 12 caused_by references point outside: 10 >= 10 and 10 / 12 = 0.833 > 0.2
    con = _warehouse(outside=10, inside=2)
    bad = run_check(con, "links_outside_scope")
    assert [(r[0], r[1], r[2], r[3]) for r in bad] == [("caused_by", 12, 10, 0.833)]
    assert bad[0][4] == ["sys-gone-0", "sys-gone-1", "sys-gone-2", "sys-gone-3", "sys-gone-4"]
    con.close()


def test_a_few_links_outside_do_not_warn():
    # 9 outside (< 10) of 11: no warning, though the share is high
    con = _warehouse(outside=9, inside=2)
    assert run_check(con, "links_outside_scope") == []
    con.close()
    # 10 outside of 60 = 0.167 <= 0.2: no warning
    con = _warehouse(outside=10, inside=50)
    assert run_check(con, "links_outside_scope") == []
    con.close()


def test_stability_sound_passes_and_catches_more_failed_than_done():
    con = _warehouse(outside=0, inside=1)
    assert run_check(con, "stability_sound") == []
    con.execute(
        "update metrics.stability set failed_changes = changes_done + 1"
        " where changes_done > 0 and value_stream = 'all'"
    )
    bad = run_check(con, "stability_sound")
    assert len(bad) == 1 and bad[0][0] == "metrics.stability"
    con.close()


def test_dagster_previews_show_links_outside_and_the_failed_changes():
    from pipelines.assets.warehouse_models import preview_metadata

    con = _warehouse(outside=3, inside=2)
    links = preview_metadata(con, "core", "item_links")["preview"].value
    # caused_by: 2 links inside, 3 references outside; implements: CHG1 -> PAY-1
    assert "| caused_by  | caused_by      |       2 |                   3 |" in links
    assert "| implements | correlation_id |       1 |                   0 |" in links
    stability = preview_metadata(con, "metrics", "stability")["preview"].value
    assert "2024-01-01" in stability and "CHG1" in stability  # CHG1 done day 2, failed
    delivery = preview_metadata(con, "metrics", "delivery")["preview"].value
    assert "| all " in delivery
    con.close()
