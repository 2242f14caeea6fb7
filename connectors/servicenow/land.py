"""Landing a run's reads into the raw layer, inside the caller's ONE transaction (together
with the cursor move), so readers see either the previous sync or this one, never half.

Records and sys_audit history land batch by batch while they are read (`BatchLander`: each
page as Arrow columns, one set-based upsert, run while the prefetch thread reads the next
page); the small rest (labels, groups, tombstones, quarantine, fallback history) lands at the
end from DataFrames, one statement per table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.landing import registered, upsert_frame
from connectors.servicenow.client import Row
from connectors.servicenow.history import ChangeRow, FieldChangeRow
from connectors.servicenow.records import (
    RecordRow,
    dumps_payload,
    ref_value,
    text_value,
)
from connectors.staging import StagedRows, upsert_latest

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


def _change_frame(rows: Sequence[tuple], names: Sequence[str]) -> pd.DataFrame:
    """State and field changes share their typing: changed_at a timestamp, record_checkpoint
    a nullable integer, the rest as read."""
    cols = _columns(rows, names)
    return pd.DataFrame(
        {
            n: _ts(cols[n])
            if n == "changed_at"
            else pd.Series(cols[n], dtype="Int64")
            if n == "record_checkpoint"
            else pd.Series(cols[n], dtype=object)
            for n in names
        }
    )


def changes_frame(changes: Sequence[ChangeRow]) -> pd.DataFrame:
    return _change_frame(changes, CHANGE_COLUMNS)


FIELD_CHANGE_COLUMNS = FieldChangeRow._fields


def field_changes_frame(rows: Sequence[FieldChangeRow]) -> pd.DataFrame:
    return _change_frame(rows, FIELD_CHANGE_COLUMNS)


def land_field_changes(con: duckdb.DuckDBPyConnection, rows: Sequence[FieldChangeRow]) -> int:
    """hold_reason / assignment_group audit rows (docs/contract.md §6), upserted by change_id."""
    if not rows:
        return 0
    unique = list({r.change_id: r for r in rows}.values())
    return upsert_frame(
        con, "raw.servicenow_field_changes", field_changes_frame(unique), ["change_id"]
    )


def choices_frame(table: str, rows: Sequence[Row], synced_at: datetime) -> pd.DataFrame:
    out = []
    # English labels win over translations of the same value (sorted last, kept last).
    for row in sorted(rows, key=lambda r: text_value(r.get("language")) == "en"):
        value = text_value(row.get("value"))
        if value is None:
            continue
        seq = text_value(row.get("sequence"))
        out.append(
            {
                "table_name": table,
                "element": text_value(row.get("element")) or "state",
                "value": value,
                "label": text_value(row.get("label")),
                "sequence": int(seq) if seq and seq.lstrip("-").isdigit() else None,
                "inactive": (text_value(row.get("inactive")) or "false").lower() == "true",
                "synced_at": synced_at,
            }
        )
    frame = pd.DataFrame(out)
    if not frame.empty:
        frame["sequence"] = frame["sequence"].astype("Int64")
        frame["synced_at"] = _ts(list(frame["synced_at"]))
    return frame


def groups_frame(rows: Sequence[Row], synced_at: datetime) -> pd.DataFrame:
    out = [
        {
            "sys_id": sid,
            "name": text_value(r.get("name")),
            "payload": dumps_payload(r),
            "synced_at": synced_at,
        }
        for r in rows
        if (sid := ref_value(r.get("sys_id")))
    ]
    frame = pd.DataFrame(out)
    if not frame.empty:
        frame["synced_at"] = _ts(list(frame["synced_at"]))
    return frame


def land_changes(con: duckdb.DuckDBPyConnection, changes: Sequence[ChangeRow]) -> int:
    if not changes:
        return 0
    return upsert_frame(con, "raw.servicenow_state_changes", changes_frame(changes), ["change_id"])


def land_choices(
    con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Row], synced_at: datetime
) -> int:
    frame = choices_frame(table, rows, synced_at)
    return upsert_frame(con, "raw.servicenow_choices", frame, ["table_name", "element", "value"])


def land_groups(con: duckdb.DuckDBPyConnection, rows: Sequence[Row], synced_at: datetime) -> int:
    return upsert_frame(con, "raw.servicenow_groups", groups_frame(rows, synced_at), ["sys_id"])


def apply_tombstones(
    con: duckdb.DuckDBPyConnection, table: str, deletions: Sequence[tuple[str, datetime]]
) -> int:
    """Mark landed records deleted; records never landed have nothing to tombstone."""
    if not deletions:
        return 0
    frame = pd.DataFrame(
        {"sys_id": [d[0] for d in deletions], "deleted_at": _ts([d[1] for d in deletions])}
    )
    frame = frame.sort_values("deleted_at").drop_duplicates("sys_id", keep="last")
    with registered(con, "_snow_tombstones", frame):
        row = con.execute(
            "update raw.servicenow_records r set is_deleted = true, deleted_at = f.deleted_at"
            " from _snow_tombstones f where r.sys_id = f.sys_id and r.table_name = ?",
            [table],
        ).fetchall()  # to the end: the run's transaction goes on on this connection
    return int(row[0][0]) if row else 0


def mark_history_approximate(con: duckdb.DuckDBPyConnection, table: str, since: datetime) -> None:
    """Keep the earliest instant from which this table's history is only observed."""
    con.execute(
        "update raw.sync_state set history_approximate_since ="
        " least(coalesce(history_approximate_since, ?::timestamptz), ?::timestamptz)"
        " where source = 'servicenow' and stream = ?",
        [since, since, table],
    )


_TS = pa.timestamp("us", tz="UTC")
#: raw.servicenow_records as staged per batch: RECORD_COLUMNS (in RecordRow order) + synced_at;
#: is_deleted / deleted_at take the table's defaults (false / NULL) like a fresh copy should.
RECORD_SCHEMA = pa.schema(
    [(n, _TS if n in _RECORD_TS else pa.string()) for n in RECORD_COLUMNS] + [("synced_at", _TS)]
)
CHANGE_SCHEMA = pa.schema(
    [
        (n, _TS if n == "changed_at" else pa.int64() if n == "record_checkpoint" else pa.string())
        for n in CHANGE_COLUMNS
    ]
)
_LANDED_RECORD = len(RECORD_COLUMNS)  # RecordRow[:this] are the landed columns (mod_count last)
assert RecordRow._fields[:_LANDED_RECORD] == RECORD_COLUMNS


#: Staged rows (per table) after which `BatchLander` lands them before the scan ends: roughly
#: 350 MB of Arrow at typical payload sizes (a 20k full sync stages ~100k rows). Below it, each
#: scan lands once, at its end: per-page statements cost DuckDB several times the CPU (each
#: delete scans the rows landed so far) and hid less than they cost on a busy 2-core box.
FLUSH_ROWS = 500_000
#: ... and the staged bytes (per table) after which it lands them: the staged Arrow columns are
#: the part of a sync's memory that follows the page count, so they are bounded by size too
#: (a chunk of 50k incidents is ~55 MB of Arrow, 130k sys_audit rows ~50 MB). Landing costs
#: one delete scan of the rows landed so far, so this stays well above a page (~2 MB).
FLUSH_BYTES = 24 * 2**20


class BatchLander:
    """Stages records and sys_audit history as they are read; lands them inside the run's
    transaction at the end of each scan (`flush`), or every `flush_rows` rows or `FLUSH_BYTES`
    of staged Arrow, whichever comes first.

    Each page is converted to Arrow columns when it is handed over (`records`, `changes`),
    on the mapping thread while the prefetch thread waits for the next page, so at the end
    only one set-based upsert per scan is left (in the middle of the run: the sys_audit scan
    follows the records scans; the deletions, labels and groups requests follow it).

    * Records: the staged rows replace the stored ones by sys_id; a later copy wins (the
      caller hands over only copies that win over what it already handed over, so the result
      equals landing the run's newest copy per record once).
    * History: upserted by change_id (the sys_audit sys_id), exactly like the end-of-run
      landing it replaces: a re-read record's older history rows stay (an incremental run
      reads only the window's sys_audit rows). A change_id seen earlier in the run is
      skipped (the first copy wins, as `fetch._dedupe` keeps it).
    * Before a record's first copy of the run lands, its stored (state, updated_at) is kept
      (`prior`), so the observed-history fallback compares with the previous sync, not with
      the copy this run has just written.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, synced_at: datetime, *, flush_rows: int | None = None
    ) -> None:
        self.con = con
        self.synced_at = synced_at
        self.flush_rows = FLUSH_ROWS if flush_rows is None else flush_rows
        self.flush_bytes = FLUSH_BYTES
        self._tail = (synced_at,)
        self._seq = 0
        self._prior: dict[str, tuple[str | None, datetime]] = {}
        self._records_seen: set[str] = set()
        self._new_ids: list[str] = []
        self._records = StagedRows(RECORD_SCHEMA)
        self._staged_ids: set[str] = set()  # sys_ids in `_records` (fewer than rows: one is
        # there twice, updated mid-scan)
        self._change_ids: set[str] = set()
        self._changes = StagedRows(CHANGE_SCHEMA)
        #: state changes written to the table so far this run (staged ones not counted)
        self.changes_landed = 0
        #: hold_reason / assignment_group rows (few: one per reassignment or hold), landed
        #: with the state changes
        self._field_changes: list[FieldChangeRow] = []
        self._owners: _Owners | None = None

    def _seqs(self, n: int) -> range:
        start = self._seq + 1
        self._seq += n
        return range(start, self._seq + 1)

    def records(self, rows: Sequence[RecordRow]) -> None:
        """Stage one page of records (later rows win over earlier ones); land when due."""
        if not rows:
            return
        seen, staged = self._records_seen, self._staged_ids
        for r in rows:
            if r.sys_id not in seen:
                seen.add(r.sys_id)
                self._new_ids.append(r.sys_id)
            staged.add(r.sys_id)
        n, tail = _LANDED_RECORD, self._tail
        self._records.add([r[:n] + tail for r in rows], self._seqs(len(rows)))
        if self._due(self._records):
            self._flush_records()

    def changes(self, rows: Sequence[ChangeRow]) -> int:
        """Stage one page of state changes; land when due. Returns the rows taken."""
        seen = self._change_ids
        fresh: list[ChangeRow] = []
        for c in rows:
            if c.change_id not in seen:
                seen.add(c.change_id)
                fresh.append(c)
        if not fresh:
            return 0
        self._changes.add(fresh, self._seqs(len(fresh)))
        if self._due(self._changes):
            self._flush_changes()
        return len(fresh)

    def _due(self, staged: StagedRows) -> bool:
        return staged.rows >= self.flush_rows or staged.nbytes >= self.flush_bytes

    def field_changes(self, rows: Sequence[FieldChangeRow]) -> None:
        """Stage hold_reason / assignment_group rows; they land with the next flush."""
        self._field_changes.extend(rows)

    def flush(self) -> None:
        """Land whatever is staged (the end of a scan)."""
        self._flush_records()
        self._flush_changes()
        staged, self._field_changes = self._field_changes, []
        land_field_changes(self.con, staged)

    def _flush_records(self) -> None:
        if self._records.rows == 0:
            return
        if self._new_ids:
            for sys_id, state, updated_at in self.con.execute(
                "select sys_id, state, updated_at from raw.servicenow_records"
                " where sys_id in (select unnest(?::varchar[]))",
                [self._new_ids],
            ).fetchall():  # to the end: the transaction goes on on this connection
                self._prior[sys_id] = (state, updated_at)
            self._new_ids = []
        staged, self._records = self._records, StagedRows(RECORD_SCHEMA)
        self._owners = None  # records change: `tables_of` reads them again when next asked
        once, self._staged_ids = len(self._staged_ids) == staged.rows, set()
        # each sys_id staged once: rows go in as they are, no latest-copy window
        upsert_latest(self.con, "raw.servicenow_records", staged, ["sys_id"], unique=once)

    def _flush_changes(self) -> None:
        if self._changes.rows == 0:
            return
        staged, self._changes = self._changes, StagedRows(CHANGE_SCHEMA)
        # `changes` stages the first copy of each change_id only: unique by construction
        upsert_latest(self.con, "raw.servicenow_state_changes", staged, ["change_id"], unique=True)
        self.changes_landed += staged.rows

    def discard_changes(self) -> None:
        """Drop the staged, not yet landed state changes (their scan failed; another history
        source takes over). Their change_ids may come again."""
        self._change_ids.difference_update(self._changes.table().column("change_id").to_pylist())
        self._changes = StagedRows(CHANGE_SCHEMA)
        self._field_changes = []

    # -- backfill chunks (connectors/backfill.py) ------------------------------------------------
    def new_chunk(self) -> None:
        """A chunk was flushed and committed: forget the ids seen in it (the table now holds
        them; upserts by id make a later copy replace them), so memory does not grow."""
        assert self._records.rows == 0 and self._changes.rows == 0, "flush before a new chunk"
        self._records_seen = set()
        self._change_ids = set()

    def tables_of(self, sys_ids: Sequence[str]) -> dict[str, str]:
        """sys_id -> table_name of the landed records among `sys_ids` (a backfill's history
        scan keeps the rows of records it landed).

        Asked once per sys_audit page: the landed records are read once into an `_Owners`
        index (rebuilt after records land), because a query per page scanned the whole records
        table each time and made a backfill's CPU per record grow with its size."""
        if not sys_ids:
            return {}
        if self._owners is None:
            self._owners = _Owners.load(self.con)
        return self._owners.lookup(sys_ids)

    def seen_at(self, tables: Sequence[str], at: datetime) -> dict[str, set[tuple[str, Any]]]:
        """The repeat keys (`history.audit_changes`) of the landed sys_audit changes at instant
        `at`, per table: a chunk boundary there must not let a repeat of one update in."""
        seen: dict[str, set[tuple[str, Any]]] = {t: set() for t in tables}
        for table, doc, checkpoint, changed_at, old, new in self.con.execute(
            "select table_name, record_sys_id, record_checkpoint, changed_at, from_value,"
            " to_value from raw.servicenow_state_changes where changed_at = ?"
            " and history_source = 'sys_audit'",
            [at],
        ).fetchall():
            if table in seen:
                seen[table].add(
                    (doc, checkpoint) if checkpoint is not None else (doc, (changed_at, old, new))
                )
        return seen

    def landed_records(self, table: str) -> list[RecordRow]:
        """Every landed record of `table` (the history fallbacks of a backfill need them; the
        only place a backfill holds all records, see docs/benchmarks.md)."""
        cols = ", ".join(RECORD_COLUMNS)
        out = []
        for row in self.con.execute(
            f"select {cols}, try_cast(json_extract_string(payload, '$.sys_mod_count') as bigint)"  # noqa: S608
            " from raw.servicenow_records where table_name = ? and not is_deleted"
            " order by updated_at, sys_id",
            [table],
        ).fetchall():
            out.append(RecordRow(*row))
        return out

    def prior(self, keys: Sequence[str]) -> dict[str, tuple[str | None, datetime]]:
        """The (state, updated_at) stored before this run for these sys_ids (landed ones only)."""
        got = self._prior
        return {k: got[k] for k in keys if k in got}


class _Owners:
    """sys_id -> table_name of every landed record, read once and held compactly.

    ServiceNow sys_ids are 32 lowercase hex digits: those are held as one sorted numpy array
    of 17-byte entries, the 16 bytes of the sys_id then a one-byte table code (~21 MB at 1.25M
    records, no Python object per record), looked up with `searchsorted`; any other id
    (imported or hand-made data) goes to a plain dict. Exact either way: the same answers as
    asking the records table per page, which the tests compare row by row.
    """

    _HEX = "[0-9a-f]{32}"

    def __init__(self, entries: np.ndarray, names: list[str], other: dict[str, str]):
        #: (n, 17) uint8 rows sorted bytewise; as "S17" strings for searchsorted. A code is >= 1,
        #: so no entry ends in a NUL byte (numpy's bytes strings drop trailing NULs).
        self.entries = entries
        self.keys = entries.view("S17").ravel()
        self.names, self.other = names, other

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection) -> _Owners:
        """Read in batches into one array sized once, then sort it in place: a whole Arrow
        copy plus numpy's sort copies cost ~100 MB at 1.25M records, an ORDER BY in DuckDB
        ~30 MB more than this and a second longer (both measured), against the index's 21 MB."""
        names = [r[0] for r in con.execute(
            "select distinct table_name from raw.servicenow_records order by 1"
        ).fetchall()]  # fmt: skip
        where = " from raw.servicenow_records where regexp_full_match(sys_id, ?)"
        (n,) = con.execute("select count(*)" + where, [cls._HEX]).fetchall()[0]
        entries = np.empty((n, 17), dtype=np.uint8)
        batches = con.sql(
            "select unhex(sys_id) as k, list_position(?, table_name)::utinyint as code" + where,
            params=[names, cls._HEX],
        ).to_arrow_reader(100_000)
        at = 0
        for batch in batches:
            m = batch.num_rows
            k = pc.cast(batch.column(0), pa.binary(16))
            entries[at : at + m, :16] = np.frombuffer(
                k.buffers()[1], dtype=np.uint8, count=m * 16, offset=k.offset * 16
            ).reshape(m, 16)
            entries[at : at + m, 16] = batch.column(1).to_numpy(zero_copy_only=False)
            at += m
        entries = entries[:at]
        entries.view("S17").ravel().sort()  # in place: the rows move with their keys
        other = dict(
            con.execute(
                "select sys_id, table_name from raw.servicenow_records"
                " where not regexp_full_match(sys_id, ?)",
                [cls._HEX],
            ).fetchall()
        )
        return cls(entries, names, other)

    def lookup(self, sys_ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        hexed: list[str] = []
        for sid in sys_ids:
            if len(sid) == 32 and _is_lower_hex(sid):
                hexed.append(sid)
            elif sid in self.other:
                out[sid] = self.other[sid]
        if hexed and len(self.keys):
            wanted = np.array([bytes.fromhex(s) for s in hexed], dtype="S16")
            # key + NUL sorts just before the key's entry (key + code >= 1)
            at = np.minimum(np.searchsorted(self.keys, wanted.astype("S17")), len(self.keys) - 1)
            found = self.entries[at]
            hit = (found[:, :16] == wanted.view(np.uint8).reshape(-1, 16)).all(axis=1)
            for sid, ok, code in zip(hexed, hit.tolist(), found[:, 16].tolist(), strict=True):
                if ok:
                    out[sid] = self.names[code - 1]
        return out


_LOWER_HEX = frozenset("0123456789abcdef")


def _is_lower_hex(text: str) -> bool:
    return not set(text) - _LOWER_HEX
