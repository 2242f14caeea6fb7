"""Seeded fault injection: rate limits, 5xx, slowness, drops, truncation, ACL gaps.

Each request draws from its own ``Random(seed, request number)``, so a given sequence of
requests meets the same faults on every run - tests can rely on a fault firing.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate

RETRY_AFTER_MODES = ("seconds", "http-date", "mixed")


@dataclass(frozen=True)
class FaultConfig:
    rate_429: float = 0.0
    retry_after: str = "seconds"
    retry_after_seconds: int = 1
    rate_503: float = 0.0
    rate_500: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.5
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    acl_short_rate: float = 0.0
    empty_row_rate: float = 0.0
    seed: int = 0
    endpoints: tuple[str, ...] | None = None  # substrings of the request path

    def __post_init__(self) -> None:
        if self.retry_after not in RETRY_AFTER_MODES:
            raise ValueError(f"retry_after must be one of {RETRY_AFTER_MODES}")


@dataclass
class FaultPlan:
    """What to do to one request. ``status`` is 429/503/500 or None."""

    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    drop: bool = False
    truncate: bool = False
    acl_short: bool = False
    empty_rows: bool = False
    rng: random.Random = field(default_factory=random.Random)


class Faults:
    """Thread-safe holder of the current config and the request sequence number."""

    def __init__(self) -> None:
        self.config = FaultConfig()
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def set(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._seq = itertools.count()

    def plan(self, path: str) -> FaultPlan:
        with self._lock:
            cfg, n = self.config, next(self._seq)
        rng = random.Random(cfg.seed * 1_000_003 + n)
        plan = FaultPlan(rng=rng)
        if cfg.endpoints is not None and not any(e in path for e in cfg.endpoints):
            return plan
        if rng.random() < cfg.slow_rate:
            plan.delay = cfg.slow_seconds
        r = rng.random()
        if r < cfg.rate_429:
            plan.status = 429
        elif r < cfg.rate_429 + cfg.rate_503:
            plan.status = 503
        elif r < cfg.rate_429 + cfg.rate_503 + cfg.rate_500:
            plan.status = 500
        if plan.status in (429, 503):
            mode = cfg.retry_after
            if mode == "mixed":
                mode = rng.choice(("seconds", "http-date"))
            if mode == "seconds":
                plan.retry_after = str(cfg.retry_after_seconds)
            else:
                plan.retry_after = formatdate(_now() + cfg.retry_after_seconds, usegmt=True)
        if plan.status is None:
            plan.drop = rng.random() < cfg.drop_rate
            plan.truncate = not plan.drop and rng.random() < cfg.truncate_rate
            plan.acl_short = rng.random() < cfg.acl_short_rate
            plan.empty_rows = rng.random() < cfg.empty_row_rate
        return plan


def _now() -> float:
    """Wall clock for HTTP-date Retry-After (the real server uses real time, not sim time)."""
    return time.time()
