"""What each `flowmetrics` subcommand does; the parser lives in `flowmetrics.cli`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

from flowmetrics.exits import EXIT_OK, RunFailed
from models.config import FlowConfig, resolve_config
from warehouse.db import WarehouseError, connect


def _config_path(args: argparse.Namespace) -> str | None:
    """`--config` as an absolute path (the run may resolve it from another directory)."""
    return str(Path(args.config).resolve()) if args.config else None


def _use_config(args: argparse.Namespace) -> FlowConfig:
    """Resolve and validate the config up front: a bad one exits 2 before anything runs."""
    return resolve_config(_config_path(args))


def check_config(args: argparse.Namespace) -> int:
    cfg = _use_config(args)
    print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True), end="")
    return EXIT_OK


def sync(args: argparse.Namespace) -> int:
    cfg = _use_config(args)
    # Dagster is imported only by the commands that run the job (check-config stays quick).
    from flowmetrics.runner import run_reported
    from pipelines.resources import RunSetup

    started = time.monotonic()
    run_reported(
        full=args.full, source=args.source, setup=RunSetup(config_path=_config_path(args)), cfg=cfg
    )
    print(f"warehouse: {Path(cfg.warehouse).resolve()}  ({time.monotonic() - started:.1f}s)")
    return EXIT_OK


def export(args: argparse.Namespace) -> int:
    from reports.export import export_all

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
