"""Serve a seeded sandbox for a benchmark: prints one JSON line (urls, env, now), then serves
until its stdin closes. Control it over HTTP with /__admin/{counters,reset_counters,advance}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import Sandbox


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mode", default="cloud")
    parser.add_argument("--now", required=True)
    args = parser.parse_args()
    t = time.perf_counter()
    sb = Sandbox(
        seed=args.seed, size=args.size, mode=args.mode, now=datetime.fromisoformat(args.now)
    )
    sb.start()
    print(
        json.dumps(
            {
                "jira_url": sb.jira_url,
                "servicenow_url": sb.servicenow_url,
                "env": sb.env,
                "now": sb.now.isoformat(),
                "generate_s": time.perf_counter() - t,
            }
        ),
        flush=True,
    )
    try:
        sys.stdin.read()  # returns when the parent closes our stdin (or dies)
    finally:
        sb.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
