"""`BatchLander.tables_of`: which landed record (and table) a sys_audit row belongs to, asked
once per sys_audit page of a backfill's history scan.

Asking DuckDB per page scanned the whole records table for ~1000 ids each time (no index is
used for an `in (select unnest(...))` list), so a backfill's client CPU per record grew with
the warehouse (docs/benchmarks.md "Backfill tiers"). The lander now reads the landed
(sys_id, table) pairs once per scan into a compact sorted index; these tests pin the answers
(the same as the query's, for any id shape) and that pages after the first read nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from connectors.servicenow.land import BatchLander
from connectors.servicenow.records import RecordRow
from warehouse.db import bootstrap

AT = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


class CountingConnection:
    """A DuckDB connection that counts the statements reading raw.servicenow_records."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.record_reads = 0

    def execute(self, sql: str, *args: Any) -> Any:
        self._count(sql)
        return self.con.execute(sql, *args)

    def sql(self, sql: str, **kwargs: Any) -> Any:
        self._count(sql)
        return self.con.sql(sql, **kwargs)

    def _count(self, sql: str) -> None:
        if "from raw.servicenow_records" in sql:
            self.record_reads += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


def record(sys_id: str, table: str) -> RecordRow:
    return RecordRow(
        sys_id, table, f"N-{sys_id[:6]}", None, "1", None, None, None, None, None, AT, AT, AT,
        f"https://example.service-now.com/{table}.do?sys_id={sys_id}", "{}", 1,
    )  # fmt: skip


def hex_id(n: int) -> str:
    return f"{n * 0x9E3779B97F4A7C15 % (1 << 128):032x}"


IDS = {
    **{hex_id(n): "incident" for n in range(1, 300)},
    **{hex_id(n): "change_request" for n in range(300, 340)},
    **{hex_id(n): "problem" for n in range(340, 350)},
    # not the 32 lowercase hex digits ServiceNow writes: still exact, by the slow path
    "INC-LEGACY-1": "incident",
    hex_id(7).upper(): "problem",  # a different id from hex_id(7) (ids compare as text)
    hex_id(1)[:31]: "change_request",
    "00000000000000000000000000000000": "incident",
    # ids whose bytes end in NULs, next to ids that differ only there (numpy's bytes strings
    # drop trailing NULs: the index must still tell them apart)
    "12" * 15 + "00": "incident",
    "12" * 15 + "01": "problem",
    "12" * 14 + "0000": "change_request",
    "ffffffffffffffffffffffffffffffff": "problem",
}


def landed(con: Any) -> BatchLander:
    lander = BatchLander(con, AT)
    lander.records([record(sid, table) for sid, table in IDS.items()])
    lander.flush()
    return lander


def test_tables_of_answers_like_the_records_table() -> None:
    raw = duckdb.connect()
    bootstrap(raw)
    lander = landed(raw)
    missing = [hex_id(n) for n in range(1000, 1010)] + ["", "x", hex_id(5)[:-1] + "g"]
    missing += ["12" * 15 + "02", "12" * 14 + "0001", "12" * 13 + "000000"]
    asked = [*IDS, *missing]
    for start in range(0, len(asked), 37):  # page by page, as the history scan asks
        page = asked[start : start + 37]
        truth = dict(
            raw.execute(
                "select sys_id, table_name from raw.servicenow_records"
                " where sys_id in (select unnest(?::varchar[]))",
                [page],
            ).fetchall()
        )
        assert lander.tables_of(page) == truth
    assert lander.tables_of([]) == {}
    assert lander.tables_of([hex_id(7), hex_id(7).upper()]) == {
        hex_id(7): "incident",
        hex_id(7).upper(): "problem",
    }


def test_the_records_table_is_read_once_per_scan_not_per_page() -> None:
    raw = duckdb.connect()
    bootstrap(raw)
    con = CountingConnection(raw)
    lander = landed(con)
    ids = list(IDS)
    lander.tables_of(ids[:10])  # the first page reads the landed records (a few statements)
    first = con.record_reads
    for start in range(10, len(ids), 10):  # 35 more pages: no more reads
        lander.tables_of(ids[start : start + 10])
    assert con.record_reads == first
    # records landed later (another scan) are seen: the index is rebuilt after a flush
    lander.records([record(hex_id(5000), "problem")])
    lander.flush()
    assert lander.tables_of([hex_id(5000), hex_id(1)]) == {
        hex_id(5000): "problem",
        hex_id(1): "incident",
    }
