"""``flowmetrics sandbox``: serve the simulator in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Sequence

from sandbox.sandbox import MODES, Sandbox


def serve(port: int = 8080, seed: int = 7, size: int = 300, mode: str = "cloud") -> None:
    """Serve JIRA on ``port`` and ServiceNow on ``port + 1``; block until KeyboardInterrupt.

    ``port`` 0 lets the system pick two free ports, one for each API (port + 1 of 0 would be
    port 1); the lines printed below name the ports actually bound.
    """
    snow_port = 0 if port == 0 else port + 1
    sb = Sandbox(seed=seed, size=size, mode=mode, jira_port=port, servicenow_port=snow_port)
    sb.start()
    try:
        print(f"JIRA ({mode})  {sb.jira_url}")
        print(f"ServiceNow     {sb.servicenow_url}")
        print("Credentials (sandbox only):")
        for name, value in sb.env.items():
            print(f"  export {name}={value}")
        print(f"Time travel:    curl -X POST -d '{{\"days\": 1}}' {sb.jira_url}/__admin/advance")
        print("Ctrl-C to stop.", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowmetrics sandbox", description="Serve the local JIRA + ServiceNow simulator."
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="JIRA port; ServiceNow is +1 (0: two free ports)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--size", type=int, default=300)
    parser.add_argument("--mode", choices=MODES, default="cloud")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    serve(args.port, args.seed, args.size, args.mode)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
