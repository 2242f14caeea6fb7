"""The HTTP layer both connectors share: timeouts, retries and rate limits owned by us.

Neither client library gets this right (docs/api-facts.md §1.4 and 2.5): `jira` sleeps less than
`Retry-After`, crashes on an HTTP-date `Retry-After` and has no timeout; `pysnow` neither
retries nor pages. So retries live in a `requests` transport adapter mounted on the session that
the libraries use: every request either library sends goes through `RetryAdapter.send`.

Policy: 429 and 503 honour `Retry-After` exactly (seconds or an HTTP date, no jitter, never
shortened); without it, and for 500/502/504, connection resets, read timeouts and truncated
JSON bodies, capped exponential backoff with full jitter. 4xx other than 429 are returned at
once for the caller to explain.

Bounds, so one slow or hostile server cannot hold the night (and the DuckDB lock) for days:
- per run (one adapter = one client = one source's sync): a total wait budget
  (`max_total_wait_s`, config `sync.max_wait_minutes`) shared by every request and thread, and a
  deadline (`run_deadline_s`, config `sync.deadline_minutes`); when either is spent the run
  fails with `RetryBudgetExceeded` naming the host, which the connector words with the source;
- per wait: a `Retry-After` of 0, negative or `nan` waits `min_delay_s`, never back-to-back;
- per response: at most `max_response_bytes` (decoded), and the whole response (headers to
  last byte) within `request_timeout_s`, checked after every read; `read_timeout_s` still cuts
  a socket that goes silent.
"""

from __future__ import annotations

import json
import logging
import math
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
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

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


class ResponseTooLarge(RuntimeError):
    """A response body over `RetryPolicy.max_response_bytes`: not retried, the run fails."""


@dataclass
class RetryPolicy:
    """How long to keep trying. Defaults suit a nightly job: patient, but never hung forever."""

    max_attempts: int = 8
    max_connect_attempts: int = 3  # a host that refuses or does not resolve fails sooner
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    max_total_wait_s: float = 1800.0  # per run: every wait of every request added up
    run_deadline_s: float = 6 * 3600.0  # per run, from the client's creation
    min_delay_s: float = 1.0  # the least a Retry-After wait can be (0, negative, nan)
    max_response_bytes: int = 256 * 1024 * 1024
    request_timeout_s: float = 300.0  # one response, headers to last byte
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 120.0  # one socket read
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def for_run(cls, max_wait_minutes: float, deadline_minutes: float) -> RetryPolicy:
        """The production policy with the run bounds of the config (`sync.*`)."""
        return cls(max_total_wait_s=max_wait_minutes * 60, run_deadline_s=deadline_minutes * 60)

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
        seconds = float(value)
    except ValueError:
        pass
    else:  # `nan` and negatives are "now" (the caller still waits its minimum)
        return seconds if seconds > 0 else 0.0
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
        # The run's bounds: this adapter serves one client, and a client one source's run.
        self._run_started = self.policy.clock()
        self._run_waited = 0.0
        self._run_lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        policy = self.policy
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = (policy.connect_timeout_s, policy.read_timeout_s)
        kwargs["stream"] = True  # the body is read here, bounded in size and time
        host = urlsplit(request.url or "").netloc
        attempt = 0
        while True:
            attempt += 1
            self._check_deadline(0.0, host, request, "")
            cause: str
            delay: float | None = None
            try:
                started = policy.clock()
                response = super().send(request, **kwargs)
                _read_body(response, policy, started, host)  # a cut body fails here, in the loop
                _attach_json(response)
                crash_point("extract")  # test-only (FLOWMETRICS_CRASH_AT); no-op unset
            except ResponseTooLarge:
                self.stats.count(None)  # sent and answered, but not retried: it would be again
                raise
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
                    if delay is not None:
                        delay = max(delay, policy.min_delay_s)
                    _log_rate_limit(response, host)
                if attempt >= policy.max_attempts:
                    return response  # the caller explains the final status
            if attempt >= policy.max_attempts:
                raise RetryBudgetExceeded(
                    f"gave up after {attempt} attempts: {cause} ({request.method} {_path(request)})"
                )
            if delay is None:
                delay = policy.backoff(attempt)
            self._spend(delay, host, request, cause)
            log.warning("%s; retry %d in %.2fs", cause, attempt, delay)
            with self.stats._lock:
                self.stats.retries += 1
                self.stats.waited_s += delay
            policy.sleep(delay)

    def _spend(
        self, delay: float, host: str, request: requests.PreparedRequest, cause: str
    ) -> None:
        """Take `delay` from the run's wait budget, or fail the run naming host and cause."""
        budget = self.policy.max_total_wait_s
        with self._run_lock:
            if not math.isfinite(delay) or self._run_waited + delay > budget:
                raise RetryBudgetExceeded(
                    f"waiting {delay:.1f}s more for {host} would exceed the run's retry budget "
                    f"of {budget:.0f}s ({self._run_waited:.0f}s waited already; last: {cause}; "
                    f"{request.method} {_path(request)}); see sync.max_wait_minutes"
                )
            self._check_deadline(delay, host, request, cause)
            self._run_waited += delay

    def _check_deadline(
        self, delay: float, host: str, request: requests.PreparedRequest, cause: str
    ) -> None:
        policy = self.policy
        elapsed = policy.clock() - self._run_started
        if elapsed + delay > policy.run_deadline_s:
            why = f"; last: {cause}" if cause else ""
            raise RetryBudgetExceeded(
                f"the run's deadline of {policy.run_deadline_s:.0f}s would pass "
                f"({elapsed:.0f}s elapsed{f', {delay:.1f}s more to wait' if delay else ''}) "
                f"before {request.method} {_path(request)} at {host}{why}; see "
                "sync.deadline_minutes"
            )


def _read_body(response: requests.Response, policy: RetryPolicy, started: float, host: str) -> None:
    """Read the whole body into `response`, at most `max_response_bytes` and within
    `request_timeout_s` of `started`; the errors are the ones requests raises for a body."""
    limit = policy.max_response_bytes
    req = response.request
    what = f"{req.method if req else 'GET'} {urlsplit(response.url or '').path}"
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        response.close()
        raise ResponseTooLarge(
            f"{host} announced {int(length)} bytes for {what}, over the cap of {limit} bytes "
            "per response"
        )
    raw = response.raw
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            chunk = (
                raw.read1(64 * 1024, decode_content=True)
                if hasattr(raw, "read1")
                else (raw.read(64 * 1024))
            )
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                response.close()
                raise ResponseTooLarge(
                    f"{host} sent more than the cap of {limit} bytes per response for {what}"
                )
            chunks.append(chunk)
            if policy.clock() - started > policy.request_timeout_s:
                response.close()
                raise requests.exceptions.ReadTimeout(
                    f"{host} did not finish {what} within {policy.request_timeout_s:.0f}s",
                    response=response,
                )
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from None
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from None
    except ReadTimeoutError as exc:
        raise requests.ConnectionError(exc) from None
    response._content = b"".join(chunks)
    response._content_consumed = True
    if hasattr(raw, "release_conn"):
        raw.release_conn()


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
    for marker in (
        "Connection refused",
        "Name or service not known",
        "Temporary failure in name resolution",
        "timed out",
    ):
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
