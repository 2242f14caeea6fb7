"""Landing a run's reads into the raw layer: DataFrames, one statement per table.

Called inside the caller's transaction, together with the cursor move, so readers see either
the previous sync or this one, never half.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pandas as pd

from connectors.landing import upsert_frame
from connectors.servicenow.client import Row
from connectors.servicenow.history import ChangeRow
from connectors.servicenow.records import (
    Quarantined,
    RecordRow,
    dumps_payload,
    ref_value,
    text_value,
)

TS = "datetime64[us, UTC]"


def _ts(values: Sequence[datetime | None]) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True), dtype=TS)


#: Landed columns, in the order of the row tuples (RecordRow.mod_count is not landed).
RECORD_COLUMNS = tuple(f for f in RecordRow._fields if f != "mod_count")
CHANGE_COLUMNS = ChangeRow._fields
_RECORD_TS = ("opened_at", "created_at", "updated_at")


def _columns(rows: Sequence[tuple], names: Sequence[str]) -> dict[str, Sequence[object]]:
    """Column tuples straight from the row tuples: one `zip(*rows)`, no per-row attributes."""
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    return dict(zip(names, cols, strict=True))


def records_frame(records: Sequence[RecordRow], synced_at: datetime) -> pd.DataFrame:
    cols = _columns(records, RecordRow._fields)
    frame = pd.DataFrame({
        n: _ts(cols[n]) if n in _RECORD_TS else pd.Series(cols[n], dtype=object)
        for n in RECORD_COLUMNS
    })
    frame["synced_at"] = pd.Series(pd.Timestamp(synced_at), index=frame.index, dtype=TS)
    frame["is_deleted"] = False
    frame["deleted_at"] = pd.Series(pd.NaT, index=frame.index, dtype=TS)
    return frame


def changes_frame(changes: Sequence[ChangeRow]) -> pd.DataFrame:
    cols = _columns(changes, CHANGE_COLUMNS)
    return pd.DataFrame({
        n: _ts(cols[n]) if n == "changed_at" else
        pd.Series(cols[n], dtype="Int64") if n == "record_checkpoint" else
        pd.Series(cols[n], dtype=object)
        for n in CHANGE_COLUMNS
    })


def choices_frame(table: str, rows: Sequence[Row], synced_at: datetime) -> pd.DataFrame:
    out = []
    # English labels win over translations of the same value (sorted last, kept last).
    for row in sorted(rows, key=lambda r: text_value(r.get("language")) == "en"):
        value = text_value(row.get("value"))
        if value is None:
            continue
        seq = text_value(row.get("sequence"))
        out.append({
            "table_name": table,
            "element": text_value(row.get("element")) or "state",
            "value": value,
            "label": text_value(row.get("label")),
            "sequence": int(seq) if seq and seq.lstrip("-").isdigit() else None,
            "inactive": (text_value(row.get("inactive")) or "false").lower() == "true",
            "synced_at": synced_at,
        })
    frame = pd.DataFrame(out)
    if not frame.empty:
        frame["sequence"] = frame["sequence"].astype("Int64")
        frame["synced_at"] = _ts(list(frame["synced_at"]))
    return frame


def groups_frame(rows: Sequence[Row], synced_at: datetime) -> pd.DataFrame:
    out = [
        {"sys_id": sid, "name": text_value(r.get("name")),
         "payload": dumps_payload(r), "synced_at": synced_at}
        for r in rows
        if (sid := ref_value(r.get("sys_id")))
    ]
    frame = pd.DataFrame(out)
    if not frame.empty:
        frame["synced_at"] = _ts(list(frame["synced_at"]))
    return frame


def quarantine_frame(
    items: Sequence[Quarantined], run_id: str, seen_at: datetime
) -> pd.DataFrame:
    frame = pd.DataFrame([
        {"source": "servicenow", "stream": q.stream, "record_key": q.record_key,
         "reason": q.reason, "payload": q.payload, "run_id": run_id, "seen_at": seen_at}
        for q in items
    ])
    if not frame.empty:
        frame["seen_at"] = _ts(list(frame["seen_at"]))
    return frame


def land_records(con: duckdb.DuckDBPyConnection, records: Sequence[RecordRow],
                 synced_at: datetime) -> int:
    if not records:
        return 0
    return upsert_frame(con, "raw.servicenow_records", records_frame(records, synced_at),
                        ["sys_id"])


def land_changes(con: duckdb.DuckDBPyConnection, changes: Sequence[ChangeRow]) -> int:
    if not changes:
        return 0
    return upsert_frame(con, "raw.servicenow_state_changes", changes_frame(changes),
                        ["change_id"])


def land_choices(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Row],
                 synced_at: datetime) -> int:
    frame = choices_frame(table, rows, synced_at)
    return upsert_frame(con, "raw.servicenow_choices", frame, ["table_name", "element", "value"])


def land_groups(con: duckdb.DuckDBPyConnection, rows: Sequence[Row], synced_at: datetime) -> int:
    return upsert_frame(con, "raw.servicenow_groups", groups_frame(rows, synced_at), ["sys_id"])


def land_quarantine(con: duckdb.DuckDBPyConnection, items: Sequence[Quarantined], run_id: str,
                    seen_at: datetime) -> int:
    if not items:
        return 0
    frame = quarantine_frame(items, run_id, seen_at)
    con.register("_snow_quarantine", frame)
    try:
        con.execute(
            "insert into raw.quarantine (source, stream, record_key, reason, payload, run_id,"
            " seen_at) select source, stream, record_key, reason, payload, run_id, seen_at"
            " from _snow_quarantine"
        )
    finally:
        con.unregister("_snow_quarantine")
    return len(frame)


def apply_tombstones(con: duckdb.DuckDBPyConnection, table: str,
                     deletions: Sequence[tuple[str, datetime]]) -> int:
    """Mark landed records deleted; records never landed have nothing to tombstone."""
    if not deletions:
        return 0
    frame = pd.DataFrame({"sys_id": [d[0] for d in deletions],
                          "deleted_at": _ts([d[1] for d in deletions])})
    frame = frame.sort_values("deleted_at").drop_duplicates("sys_id", keep="last")
    con.register("_snow_tombstones", frame)
    try:
        row = con.execute(
            "update raw.servicenow_records r set is_deleted = true, deleted_at = f.deleted_at"
            " from _snow_tombstones f where r.sys_id = f.sys_id and r.table_name = ?",
            [table],
        ).fetchone()
    finally:
        con.unregister("_snow_tombstones")
    return int(row[0]) if row else 0


def mark_history_approximate(con: duckdb.DuckDBPyConnection, table: str,
                             since: datetime) -> None:
    """Keep the earliest instant from which this table's history is only observed."""
    con.execute(
        "update raw.sync_state set history_approximate_since ="
        " least(coalesce(history_approximate_since, ?::timestamptz), ?::timestamptz)"
        " where source = 'servicenow' and stream = ?",
        [since, since, table],
    )
