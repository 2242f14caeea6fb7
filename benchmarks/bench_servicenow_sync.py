"""ServiceNow full sync (incidents, change requests, problems + sys_audit history) vs the floor
(bare requests + json over the same keyset and sys_audit pages), requests vs the
minimum, peak RSS.  `python benchmarks/bench_servicenow_sync.py [--size 20000] [--runs 3]`
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _syncbench import bench_sync, parser


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__ or "", 20000).parse_args(argv)
    bench_sync(
        "servicenow",
        args.size,
        args.runs,
        args.seed,
        args.json,
        f"ServiceNow full sync, sandbox size {args.size}",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
