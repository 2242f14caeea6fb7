"""The registry reads order, grain, dependencies and sort keys from SQL files alone."""

from __future__ import annotations

import pytest

from warehouse import registry
from warehouse.registry import Model, build_order, description, header, references


def _model(schema: str, table: str, *reads: str) -> Model:
    pairs = frozenset(tuple(r.split(".")) for r in reads)
    return Model(schema, table, "d", pairs, ())


def test_order_follows_reads_not_names() -> None:
    # a reads b, b reads c: the names sort the other way round.
    models = {
        m.key: m
        for m in (
            _model("metrics", "a", "metrics.b", "core.x"),
            _model("metrics", "b", "metrics.c"),
            _model("metrics", "c", "core.x"),
            _model("core", "x", "raw.jira_issues"),
        )
    }
    assert [m.table for m in build_order(models)] == ["x", "c", "b", "a"]


def test_a_cycle_is_refused_naming_the_tables() -> None:
    models = {
        m.key: m for m in (_model("metrics", "a", "metrics.b"), _model("metrics", "b", "metrics.a"))
    }
    with pytest.raises(ValueError, match=r"cycle: metrics\.a, metrics\.b"):
        build_order(models)


def test_a_table_named_in_a_comment_is_not_a_dependency() -> None:
    sql = "-- reads nothing like metrics.lead_time\nselect 1 from core.work_items -- core.stages\n"
    assert references(sql) == {("core", "work_items")}


def test_description_is_the_first_paragraph_without_the_prefix() -> None:
    lines = header(
        "-- metrics.x: one row per item:\n-- its age.\n-- sort: item_id\n--\n-- detail\nselect 1"
    )
    assert description(lines, "metrics.x") == "One row per item: its age."


def test_the_packaged_tables_come_in_dependency_order() -> None:
    order = [m.key for m in registry.models()]
    for model in registry.models():
        for read in model.reads:
            if read in order:
                assert order.index(read) < order.index(model.key), (model.key, read)
