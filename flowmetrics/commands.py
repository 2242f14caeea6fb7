"""What each `flowmetrics` subcommand does; the parser lives in `flowmetrics.cli`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from importlib import resources
from pathlib import Path

import yaml

from flowmetrics.cli import EXIT_OK, RunFailed
from models.config import FlowConfig
from pipelines.resources import read_config
from warehouse.db import WarehouseError, connect


def _use_config(args: argparse.Namespace) -> FlowConfig:
    """Validate the config up front (exit 2 on error) and make it the one Dagster loads."""
    if args.config:
        os.environ["FLOW_CONFIG"] = str(Path(args.config).resolve())
    return read_config(None)


def check_config(args: argparse.Namespace) -> int:
    cfg = _use_config(args)
    print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True), end="")
    return EXIT_OK


def _run(full: bool, source: str | None) -> None:
    from flowmetrics.runner import run_nightly

    outcome = run_nightly(full=full, source=source)
    for check in outcome.checks_failed:
        print(f"check not passed: {check}", file=sys.stderr)
    if not outcome.success:
        detail = "; ".join(outcome.failures) or "see the Dagster UI for the run's events"
        raise RunFailed(f"run {outcome.run_id}: {detail}")
    print(f"run {outcome.run_id} succeeded: {len(outcome.materialized)} assets materialized")


def sync(args: argparse.Namespace) -> int:
    cfg = _use_config(args)
    started = time.monotonic()
    _run(args.full, args.source)
    print(f"warehouse: {Path(cfg.warehouse).resolve()}  ({time.monotonic() - started:.1f}s)")
    return EXIT_OK


def export(args: argparse.Namespace) -> int:
    from flowmetrics.export import export_all

    cfg = _use_config(args)
    out = Path(args.out)
    try:
        con = connect(cfg.warehouse, read_only=True)
    except WarehouseError as exc:
        raise RunFailed(str(exc)) from None
    try:
        paths = export_all(con, out)
    finally:
        con.close()
    for name, path in sorted(paths.items()):
        print(f"{name}: {path}")
    return EXIT_OK


def sql(args: argparse.Namespace) -> int:
    """One SELECT over the warehouse in a sandbox (flowmetrics.sqlguard says what and why)."""
    import duckdb

    from flowmetrics.sqlguard import QueryRefused, check_query, sandboxed

    cfg = _use_config(args)
    if not Path(cfg.warehouse).exists():
        raise RunFailed(f"no warehouse at {cfg.warehouse}: run `flowmetrics sync` first")
    try:
        query = check_query(args.query)
    except QueryRefused as exc:
        print(f"SQL refused: {exc}", file=sys.stderr)
        return 2
    except duckdb.Error as exc:
        print(f"SQL error: {exc}", file=sys.stderr)
        return 2
    try:
        with sandboxed(cfg.warehouse) as con:
            frame = con.execute(query).df()
    except WarehouseError as exc:
        raise RunFailed(str(exc)) from None
    except duckdb.PermissionException as exc:
        print(
            f"SQL refused: flowmetrics sql reads the warehouse only (no files, extensions or "
            f"settings): {exc}",
            file=sys.stderr,
        )
        return 2
    except duckdb.Error as exc:
        print(f"SQL error: {exc}", file=sys.stderr)
        return 2
    if args.csv:
        frame.to_csv(sys.stdout, index=False)
    else:
        print(frame.to_string(index=False, max_rows=200) if not frame.empty else "(no rows)")
    return EXIT_OK


def sandbox(args: argparse.Namespace) -> int:
    from sandbox.serve import serve

    serve(port=args.port, seed=args.seed, size=args.size, mode=args.mode)
    return EXIT_OK


def demo(args: argparse.Namespace) -> int:
    from flowmetrics.demo import run_demo

    return run_demo(out=Path(args.out), size=args.size, seed=args.seed)


def demo_config_path() -> Path:
    return Path(str(resources.files("models").joinpath("demo_flow.yaml")))
