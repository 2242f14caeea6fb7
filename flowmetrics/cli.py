"""The `flowmetrics` command: the same code path as the Dagster schedule, from a terminal.

Exit codes (docs/contract.md §5): 0 success, 1 the run failed (the message says which source
or asset and why), 2 bad usage or config.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from flowmetrics import commands
from flowmetrics.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE, RunFailed
from models.config import ConfigError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "RunFailed", "main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowmetrics",
        description="Sync JIRA and ServiceNow into a DuckDB flow-metrics warehouse.",
    )
    p.add_argument("--config", help="config file (default: $FLOW_CONFIG, else ./flow.yaml)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    demo = sub.add_parser("demo", help="run everything on the built-in sandbox (no credentials)")
    demo.add_argument("--out", default="out/demo", help="folder for the warehouse and exports")
    demo.add_argument("--size", type=int, default=400, help="items per source in the sandbox")
    demo.add_argument("--seed", type=int, default=7)

    sync = sub.add_parser("sync", help="the nightly job: extract, land, rebuild core and metrics")
    sync.add_argument("--full", action="store_true", help="re-read everything, not just changes")
    sync.add_argument("--source", choices=["jira", "servicenow"], help="sync only this source")

    export = sub.add_parser("export", help="CSV per metrics table and report.html")
    export.add_argument("--out", default="exports", help="output folder (default: ./exports)")

    sandbox = sub.add_parser("sandbox", help="serve the JIRA + ServiceNow simulator on loopback")
    sandbox.add_argument(
        "--port",
        type=int,
        default=8080,
        help="JIRA port; ServiceNow is port+1 (0: two free ports, both printed)",
    )
    sandbox.add_argument("--seed", type=int, default=7)
    sandbox.add_argument("--size", type=int, default=400)
    sandbox.add_argument("--mode", choices=["cloud", "datacenter"], default="cloud")

    sub.add_parser("check-config", help="validate the config and print it resolved")

    sql = sub.add_parser("sql", help="run read-only SQL against the warehouse")
    sql.add_argument("query", help='e.g. "select * from metrics.value_stream_summary"')
    sql.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    return p


def _handlers() -> dict[str, Callable[[argparse.Namespace], int]]:
    return {
        "demo": commands.demo,
        "sync": commands.sync,
        "export": commands.export,
        "sandbox": commands.sandbox,
        "check-config": commands.check_config,
        "sql": commands.sql,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Dagster's instance storage migrations are noise to a person running a sync.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return _handlers()[args.command](args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RunFailed as exc:
        print(f"run failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
