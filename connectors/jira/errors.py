"""One clear `SourceError` per failure, whichever layer raised it, and never a secret.

The `jira` library's `JIRAError.__str__` prints the request headers (the Authorization header
included), so its text is never reused: we keep the status code, the path and JIRA's own
`errorMessages`, and raise `from None` so no traceback carries the original either. Any other
exception is shown by type and a redacted text (`connectors.secrets.describe`), never `str(exc)`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from jira.exceptions import JIRAError

from connectors.http import RetryBudgetExceeded
from connectors.jira.settings import JiraSettings
from connectors.result import SourceError
from connectors.secrets import describe


class JiraHttpError(Exception):
    """A non-2xx answer, reduced to what is safe to show."""

    def __init__(self, status: int, path: str, messages: list[str] | None = None) -> None:
        super().__init__(f"HTTP {status} for {path}")
        self.status = status
        self.path = path
        self.messages = messages or []


class JiraAuthFailed(Exception):
    """A 200 carrying `X-Seraph-LoginReason: AUTHENTICATED_FAILED` (JRA-41559)."""


def messages_of(response: requests.Response | None) -> list[str]:
    """JIRA's `errorMessages` and `errors` values, the only body text worth repeating."""
    if response is None:
        return []
    try:
        body: Any = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    out = [str(m) for m in body.get("errorMessages") or []]
    errors = body.get("errors")
    if isinstance(errors, dict):
        out += [f"{k}: {v}" for k, v in errors.items()]
    return out


def from_jira_error(exc: JIRAError) -> JiraHttpError:
    path = urlsplit(exc.url or "").path or "(unknown path)"
    return JiraHttpError(exc.status_code or 0, path, messages_of(exc.response))


def explain(exc: BaseException, settings: JiraSettings) -> SourceError:
    """Turn any failure during a JIRA sync into one sentence a person can act on."""
    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, JIRAError):
        exc = from_jira_error(exc)
    url = settings.url
    if isinstance(exc, JiraAuthFailed):
        return SourceError(
            f"JIRA rejected the credentials for {settings.who} at {url} "
            "(HTTP 200 with X-Seraph-LoginReason AUTHENTICATED_FAILED; a CAPTCHA may be "
            "pending on the account); check JIRA_EMAIL/JIRA_API_TOKEN or JIRA_PAT"
        )
    if isinstance(exc, JiraHttpError):
        detail = f": {'; '.join(exc.messages)}" if exc.messages else ""
        if exc.status == 401:
            return SourceError(
                f"JIRA rejected the credentials for {settings.who} at {url} (HTTP 401); "
                "check JIRA_EMAIL/JIRA_API_TOKEN or JIRA_PAT"
            )
        if exc.status == 403:
            return SourceError(
                f"JIRA refused {settings.who} access to {exc.path} at {url} (HTTP 403){detail}; "
                "check the account's Browse permission (or a pending CAPTCHA)"
            )
        if exc.status == 400:
            return SourceError(
                f"JIRA rejected the request to {exc.path} at {url} (HTTP 400){detail}; "
                "if it names the query, check sources.jira.jql"
            )
        if exc.status in (404, 410):
            return SourceError(
                f"JIRA at {url} has no {exc.path} (HTTP {exc.status}){detail}; check that "
                "JIRA_URL is the site's base URL"
            )
        return SourceError(f"JIRA at {url} answered HTTP {exc.status} for {exc.path}{detail}")
    if isinstance(exc, RetryBudgetExceeded):
        return SourceError(f"JIRA at {url} kept failing: {exc}")
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        host = urlsplit(url).netloc or url
        reason = str(exc) if str(exc).startswith("cannot reach") else type(exc).__name__
        return SourceError(f"cannot reach JIRA host {host} ({reason}); check JIRA_URL")
    secrets = (settings.api_token, settings.pat)
    return SourceError(f"JIRA sync failed: {describe(exc, secrets, [settings.email])}")
