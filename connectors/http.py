"""The HTTP layer both connectors share: timeouts, retries and rate limits owned by us.

Neither client library gets this right (docs/api-facts.md §1.4 and 2.5): `jira` sleeps less than
`Retry-After`, crashes on an HTTP-date `Retry-After` and has no timeout; `pysnow` neither
retries nor pages. So retries live in a `requests` transport adapter mounted on the session that
the libraries use: every request either library sends goes through `RetryAdapter.send`.

Policy: 429 and 503 honour `Retry-After` exactly (seconds or an HTTP date, no jitter, never
shortened); without it, and for 500/502/504, connection resets, read timeouts and truncated
JSON bodies, capped exponential backoff with full jitter. 4xx other than 429 are returned at
once for the caller to explain. The total time spent waiting is capped.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from models.crashpoints import crash_point

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RATE_LIMIT_HEADERS = (
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-NearLimit",
    "X-RateLimit-FillRate",
    "X-RateLimit-Interval-Seconds",
    "X-RateLimit-Rule",
    "RateLimit-Reason",
)
_TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class RetryBudgetExceeded(RuntimeError):
    """Retrying would wait longer than the policy allows; the message names host and cause."""


@dataclass
class RetryPolicy:
    """How long to keep trying. Defaults suit a nightly job: patient, but never hung forever."""

    max_attempts: int = 8
    max_connect_attempts: int = 3  # a host that refuses or does not resolve fails sooner
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    max_total_wait_s: float = 900.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for attempt 1, 2, ... (jitter only here)."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * (2 ** (attempt - 1)))
        return self.rng.uniform(ceiling / 2, ceiling)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date.

    Returns None when the header is absent or unreadable (the caller then backs off).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class RequestStats:
    """What the transport did: requests sent (attempts), retries, seconds waited."""

    requests: int = 0
    retries: int = 0
    waited_s: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, status: int | None) -> None:
        with self._lock:
            self.requests += 1
            if status is not None:
                self.by_status[status] = self.by_status.get(status, 0) + 1


class RetryAdapter(HTTPAdapter):
    """A transport adapter that retries idempotent reads per `RetryPolicy`.

    Bodies are read and, for JSON, parsed here, so a truncated body is retried like a reset
    connection; the parsed value is handed back through `response.json()` to avoid a second
    parse in the client library.
    """

    def __init__(self, policy: RetryPolicy | None = None, stats: RequestStats | None = None):
        super().__init__(pool_connections=4, pool_maxsize=8)
        self.policy = policy or RetryPolicy()
        self.stats = stats or RequestStats()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        policy = self.policy
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = (policy.connect_timeout_s, policy.read_timeout_s)
        host = urlsplit(request.url or "").netloc
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            cause: str
            delay: float | None = None
            try:
                response = super().send(request, **kwargs)
                _ = response.content  # read now: a cut body must fail here, inside the loop
                _attach_json(response)
                crash_point("extract")  # test-only (FLOWMETRICS_CRASH_AT); no-op unset
            except _TRANSIENT_ERRORS + (ValueError,) as exc:
                self.stats.count(None)
                cause = f"{type(exc).__name__} from {host}"
                if isinstance(exc, ValueError) and not _looks_truncated(exc):
                    raise
                if _cannot_connect(exc) and attempt >= policy.max_connect_attempts:
                    raise requests.ConnectionError(
                        f"cannot reach {host}: {_reason(exc)}", request=request
                    ) from None
            else:
                self.stats.count(response.status_code)
                if response.status_code not in RETRY_STATUSES:
                    return response
                cause = f"HTTP {response.status_code} from {host}"
                if response.status_code in (429, 503):
                    delay = parse_retry_after(response.headers.get("Retry-After"))
                    _log_rate_limit(response, host)
                if attempt >= policy.max_attempts:
                    return response  # the caller explains the final status
            if attempt >= policy.max_attempts:
                raise RetryBudgetExceeded(
                    f"gave up after {attempt} attempts: {cause} ({request.method} {_path(request)})"
                )
            if delay is None:
                delay = policy.backoff(attempt)
            if waited + delay > policy.max_total_wait_s:
                raise RetryBudgetExceeded(
                    f"waiting {delay:.1f}s more for {host} would exceed the retry budget of "
                    f"{policy.max_total_wait_s:.0f}s (last: {cause}; {request.method} {_path(request)})"
                )
            log.warning("%s; retry %d in %.2fs", cause, attempt, delay)
            with self.stats._lock:
                self.stats.retries += 1
                self.stats.waited_s += delay
            policy.sleep(delay)
            waited += delay


class _TruncatedBody(ValueError):
    pass


class NotJsonResponse(ValueError):
    """A 2xx HTML page where the API answers JSON: a proxy, firewall or SSO login page."""


def _looks_truncated(exc: Exception) -> bool:
    return isinstance(exc, _TruncatedBody)


def _attach_json(response: requests.Response) -> None:
    """Parse a JSON body once; a 2xx body that does not parse is a transient (cut) response."""
    ctype = response.headers.get("Content-Type", "")
    if "html" in ctype.lower() and 200 <= response.status_code < 300:
        req = response.request
        raise NotJsonResponse(
            f"{urlsplit(response.url or '').netloc} answered HTTP {response.status_code} with "
            f"an HTML page instead of JSON for {req.method if req else 'GET'} "
            f"{urlsplit(response.url or '').path}: a proxy, firewall or SSO login page is in "
            "the way, or the URL setting points at the web UI rather than the site's base URL"
        )
    if "json" not in ctype or not response.content:
        return
    try:
        parsed = _loads(response.content)
    except ValueError:
        if 200 <= response.status_code < 300:
            raise _TruncatedBody("response body is not complete JSON") from None
        return  # an error page with a bad body: the status code speaks for itself
    response.json = lambda **_: parsed  # type: ignore[method-assign]


def _loads(body: bytes) -> Any:
    """Parse JSON bytes: orjson (several times faster on the large pages a sync reads), and the
    stdlib for what orjson refuses but JSON allows (integers beyond 64 bits, UTF-16 bodies)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _cannot_connect(exc: Exception) -> bool:
    text = repr(exc)
    return isinstance(exc, requests.ConnectionError) and (
        "NewConnectionError" in text or "NameResolutionError" in text or "refused" in text
    )


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "Temporary failure in name resolution", "timed out"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__


def _path(request: requests.PreparedRequest) -> str:
    return urlsplit(request.url or "").path


def _log_rate_limit(response: requests.Response, host: str) -> None:
    headers = {h: response.headers[h] for h in RATE_LIMIT_HEADERS if h in response.headers}
    log.warning("rate limited by %s (HTTP %s): %s", host, response.status_code, headers)


def make_session(
    *,
    auth: Any = None,
    headers: dict[str, str] | None = None,
    verify: bool = True,
    policy: RetryPolicy | None = None,
    stats: RequestStats | None = None,
    session: requests.Session | None = None,
) -> tuple[requests.Session, RetryAdapter]:
    """A session whose every request goes through a fresh `RetryAdapter`.

    Pass `session` to retrofit an existing one (e.g. the `jira` library's own session).
    """
    sess = session or requests.Session()
    adapter = RetryAdapter(policy, stats)
    sess.mount("http://", adapter)
    sess.mount("https://", adapter)
    if auth is not None:
        sess.auth = auth
    if headers:
        sess.headers.update(headers)
    sess.verify = verify
    if not verify:
        log.warning(
            "TLS certificate verification is OFF (verify_tls: false): use only for a "
            "self-signed instance you trust"
        )
    return sess, adapter
