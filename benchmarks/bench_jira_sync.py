"""JIRA full sync vs the floor (bare requests + json over the same pages), requests vs the
minimum, peak RSS.
`python benchmarks/bench_jira_sync.py [--size 20000] [--runs 3] [--mode cloud|datacenter]`
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _syncbench import bench_sync, parser


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__ or "", 20000)
    p.add_argument(
        "--mode",
        choices=["cloud", "datacenter"],
        default="cloud",
        help="sandbox deployment (datacenter: /search pages of 50 with embedded "
        "changelogs, full history per issue where they are cut)",
    )
    args = p.parse_args(argv)
    bench_sync(
        "jira",
        args.size,
        args.runs,
        args.seed,
        args.json,
        f"JIRA full sync ({args.mode}), sandbox size {args.size}",
        mode=args.mode,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
