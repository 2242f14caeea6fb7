"""The list of warehouse models and checks, read from the packaged SQL files themselves.

Adding a `core` or `metrics` table is adding one file, `warehouse/sql/<schema>/<table>.sql`;
adding a SQL assertion is adding `warehouse/checks/<name>.sql`. Everything else that used to be
a hand-kept list is derived here, so it cannot drift from the SQL:

- the build order: a topological order of the tables each file reads (`core.x`, `metrics.x`
  outside comments), ties broken by name so the order is stable;
- the description (Dagster's asset description, the docs): the file's leading comment, up to
  its first blank comment line, without the `schema.table:` prefix;
- the export sort key: a `-- sort: col, col` line in the leading comment (CSV files are
  written in that order, the remaining columns breaking ties);
- CSV export: every `metrics` table; a `core` table too when its header says
  `-- export: true` (written as `<table>.csv` beside the metrics files);
- a Python step: `-- transform: warehouse.<module>` makes the file's SELECT the step's input
  (its reads are still the table's dependencies) and `<module>.rows(inputs)` the table's rows,
  with the columns in `<module>.COLUMNS` (`metrics.forecast`, a Monte Carlo, is one);
- built in parts: `-- parts: true` says the SELECT computes each item from that item's rows
  alone and keeps only the items of part `$part` of `$parts` (DuckDB parameters); the runner
  then builds a big warehouse's table in several statements of one transaction, each small
  enough to stay in memory (`warehouse.runner.build_parts`);
- for checks: `-- name: x` (the Dagster check name; default the file stem),
  `-- blocking: true|false` (default true: an offending row stops the numbers being
  published) and `-- attach: schema.table` when the check must hang on another asset than
  the last table it reads.

A file whose references form a cycle, or that names a table no file defines as a build input,
is refused when the registry is read, with the file named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from warehouse.catalog import IDENTIFIER as _NAME

#: Schemas whose tables are packaged SELECTs rebuilt by the runner (`raw` is DDL, not models).
MODEL_SCHEMAS: tuple[str, ...] = ("core", "metrics")

_REF = re.compile(r"\b(raw|core|metrics)\.([a-z_][a-z0-9_]*)\b")
_DIRECTIVE = re.compile(
    r"^--\s*(sort|blocking|attach|name|export|transform|parts):\s*(.*?)\s*$", re.IGNORECASE
)
_TRANSFORM = re.compile(r"^warehouse\.[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Model:
    """One packaged SQL model: `schema.table` built from `sql/<schema>/<table>.sql`."""

    schema: str
    table: str
    description: str
    reads: frozenset[tuple[str, str]]
    sort_keys: tuple[str, ...]
    exported: bool = False
    transform: str | None = None
    parts: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.schema, self.table)


@dataclass(frozen=True)
class Check:
    """One SQL assertion (`checks/<name>.sql`): it returns the offending rows."""

    name: str
    check_name: str
    description: str
    reads: frozenset[tuple[str, str]]
    blocking: bool
    attach: tuple[str, str] | None


def strip_comments(sql: str) -> str:
    """The SQL without `--` comments, so a table named in prose is not read as a dependency."""
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def references(sql: str) -> frozenset[tuple[str, str]]:
    """(schema, table) pairs a SQL text reads, comments excluded."""
    return frozenset((m.group(1), m.group(2)) for m in _REF.finditer(strip_comments(sql)))


def header(sql: str) -> list[str]:
    """The leading `--` comment lines of a file, without the `--`."""
    lines = []
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped.startswith("--"):
            break
        lines.append(stripped)
    return lines


def _directives(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        match = _DIRECTIVE.match(line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def description(lines: list[str], prefix: str | None = None) -> str:
    """The first paragraph of a header comment, joined; `prefix:` removed when present."""
    words: list[str] = []
    for line in lines:
        text = line[2:].strip()
        if not text or _DIRECTIVE.match(line):
            break
        words.append(text)
    joined = " ".join(words)
    if prefix and joined.lower().startswith(prefix.lower() + ":"):
        joined = joined[len(prefix) + 1 :].strip()
    return joined[:1].upper() + joined[1:] if joined else ""


def _sql_root() -> Traversable:
    return resources.files("warehouse")


def _read_models(root: Traversable) -> dict[tuple[str, str], Model]:
    models: dict[tuple[str, str], Model] = {}
    for schema in MODEL_SCHEMAS:
        folder = root.joinpath("sql", schema)
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if not entry.name.endswith(".sql"):
                continue
            table = entry.name[: -len(".sql")]
            if not _NAME.match(table):
                raise ValueError(f"warehouse/sql/{schema}/{entry.name}: not a table name")
            text = entry.read_text(encoding="utf-8")
            lines = header(text)
            found = _directives(lines)
            sort = found.get("sort", "")
            exported = schema == "metrics" or found.get("export", "").lower() == "true"
            transform = found.get("transform") or None
            if transform is not None and not _TRANSFORM.match(transform):
                raise ValueError(
                    f"warehouse/sql/{schema}/{entry.name}: transform must name a module "
                    f"warehouse.<name>, not {transform!r}"
                )
            models[(schema, table)] = Model(
                schema=schema,
                table=table,
                description=description(lines, f"{schema}.{table}") or f"{schema}.{table}",
                reads=references(text) - {(schema, table)},
                sort_keys=tuple(c.strip() for c in sort.split(",") if c.strip()),
                exported=exported,
                transform=transform,
                parts=found.get("parts", "").lower() == "true",
            )
    return models


def build_order(models: dict[tuple[str, str], Model]) -> list[Model]:
    """Models in an order where each comes after every model it reads (ties by schema, name).

    `core` models come before `metrics` ones because metrics read core; a metrics table read
    by a core one would be a cycle through the schemas and is refused like any other cycle.
    """
    pending = dict(models)
    done: set[tuple[str, str]] = set()
    ordered: list[Model] = []
    rank = {schema: i for i, schema in enumerate(MODEL_SCHEMAS)}
    while pending:
        ready = sorted(
            (m for m in pending.values() if all(r in done or r not in models for r in m.reads)),
            key=lambda m: (rank[m.schema], m.table),
        )
        if not ready:
            stuck = ", ".join(f"{s}.{t}" for s, t in sorted(pending))
            raise ValueError(f"warehouse SQL models read each other in a cycle: {stuck}")
        # Take one at a time, so a core table that became ready late still precedes metrics.
        model = ready[0]
        ordered.append(model)
        done.add(model.key)
        del pending[model.key]
    return ordered


def _read_checks(root: Traversable) -> list[Check]:
    checks = []
    folder = root.joinpath("checks")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        name = entry.name[: -len(".sql")]
        text = entry.read_text(encoding="utf-8")
        lines = header(text)
        found = _directives(lines)
        attach = None
        if "attach" in found:
            schema, _, table = found["attach"].partition(".")
            attach = (schema, table)
        checks.append(
            Check(
                name=name,
                check_name=found.get("name", name),
                description=description(lines).removeprefix("Offending rows: ") or name,
                reads=frozenset(r for r in references(text) if r[0] in MODEL_SCHEMAS),
                blocking=found.get("blocking", "true").lower() != "false",
                attach=attach,
            )
        )
    return checks


@cache
def models() -> tuple[Model, ...]:
    """Every packaged model, in build order."""
    return tuple(build_order(_read_models(_sql_root())))


@cache
def checks() -> tuple[Check, ...]:
    """Every packaged SQL check, by name."""
    return tuple(_read_checks(_sql_root()))


def tables(schema: str) -> tuple[str, ...]:
    """The tables of one model schema, in build order."""
    return tuple(m.table for m in models() if m.schema == schema)


def model(schema: str, table: str) -> Model:
    """One model by name; a clear error for a name no SQL file defines."""
    for candidate in models():
        if candidate.key == (schema, table):
            return candidate
    raise ValueError(f"unknown warehouse table {schema}.{table}")
