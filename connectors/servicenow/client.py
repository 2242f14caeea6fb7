"""ServiceNowClient: the only place that talks to `pysnow`.

Why a wrapper: pysnow sends one request per `get()` (no paging), has no retries and leaks
`display_value`/`exclude_reference_link` between calls on one `Resource` (docs/api-facts.md §2.5).
So every call builds a fresh `Resource` and passes every parameter, the session underneath is
ours (`connectors.http.make_session`: retries, `Retry-After`, timeouts, request counts), and
HTTP failures become one `SourceError` sentence that names the user, URL and the instance's
own `{"error": {"message", "detail"}}` but never the password.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import pysnow
import requests
from pysnow.exceptions import PysnowException, ResponseError

from connectors.http import RequestStats, RetryBudgetExceeded, RetryPolicy, make_session
from connectors.result import SourceError
from connectors.secrets import describe
from connectors.servicenow.settings import ENV_URL, ServiceNowSettings
from models.vocabulary import SERVICENOW_TABLES

log = logging.getLogger(__name__)

Row = dict[str, Any]

#: Sent as lower-case strings: pysnow's own booleans go out as "True"/"False".
_FIXED_PARAMS = {
    "sysparm_display_value": "false",
    "sysparm_exclude_reference_link": "true",
    "sysparm_no_count": "true",
    "sysparm_suppress_pagination_header": "true",
}


class TableForbidden(SourceError):
    """HTTP 403 on a table: for history tables the caller falls back to another source."""

    def __init__(self, message: str, table: str) -> None:
        super().__init__(message)
        self.table = table


class ServiceNowClient:
    """Reads pages of the Table API through pysnow over our retrying session."""

    def __init__(
        self,
        settings: ServiceNowSettings,
        *,
        verify: bool = True,
        policy: RetryPolicy | None = None,
        stats: RequestStats | None = None,
    ) -> None:
        self.settings = settings
        self.stats = stats or RequestStats()
        session, _ = make_session(
            auth=(settings.user, settings.password),
            verify=verify,
            policy=policy,
            stats=self.stats,
        )
        self._session = session
        #: X-Total-Count of the last `get_page(count=True)`; None when not asked or not sent.
        self.last_total: int | None = None
        # pysnow: `user` excludes `session=`; host may carry a port and a path prefix.
        self._snow = pysnow.Client(host=settings.host, use_ssl=settings.use_ssl, session=session)

    def close(self) -> None:
        self._session.close()

    def get_page(
        self,
        table: str,
        query: str,
        fields: Sequence[str],
        limit: int,
        offset: int = 0,
        *,
        count: bool = False,
    ) -> list[Row]:
        """One request: rows as returned (`{}` rows included: the pager decides about them).

        With `count=True` the instance also counts the query's rows (`sysparm_no_count=false`):
        cheap on a bounded window, and `last_total` then holds `X-Total-Count` (pre-ACL), which
        tells the pager whether rows remain after this page.
        """
        self.last_total = None
        resource = self._snow.resource(api_path=f"/table/{table}")  # fresh: no sticky params
        params = dict(_FIXED_PARAMS)
        if count:
            params["sysparm_no_count"] = "false"
        resource.parameters.add_custom(params)
        try:
            response = resource.get(
                query=query, limit=limit, offset=offset, fields=list(fields), stream=False
            )
            rows = response.all()
            if count:
                self.last_total = _total(response.headers.get("X-Total-Count"))
        except requests.HTTPError as exc:
            raise self._http_error(table, exc.response) from None
        except ResponseError as exc:
            raise SourceError(
                f"ServiceNow returned an error for table {table} at {self.settings.display_url}: "
                f"{exc.message}: {exc.detail}"
            ) from None
        except RetryBudgetExceeded as exc:
            raise SourceError(
                f"ServiceNow at {self.settings.display_url} kept failing while reading table "
                f"{table}: {exc}"
            ) from None
        except requests.ConnectionError as exc:
            host = urlsplit(self.settings.url).netloc
            raise SourceError(
                f"cannot reach the ServiceNow host {host} ({ENV_URL}={self.settings.display_url})"
                f": {_short(exc)}"
            ) from None
        except requests.RequestException as exc:
            raise SourceError(
                f"request to ServiceNow at {self.settings.display_url} for table {table} "
                f"failed: {type(exc).__name__}"
            ) from None
        except PysnowException as exc:
            raise SourceError(
                f"unexpected answer from ServiceNow at {self.settings.display_url} for table "
                f"{table}: {describe(exc, [self.settings.password], [self.settings.user])}"
            ) from None
        return [r if isinstance(r, dict) else {} for r in rows]

    def _http_error(self, table: str, response: requests.Response | None) -> SourceError:
        status = response.status_code if response is not None else 0
        reason = _error_text(response)
        where = f"{self.settings.display_url}"
        if status == 401:
            return SourceError(
                f"ServiceNow rejected the credentials for user {self.settings.user} at {where} "
                f"(HTTP 401: {reason}); check SERVICENOW_USER and SERVICENOW_PASSWORD"
            )
        if status == 403:
            return TableForbidden(
                f"ServiceNow user {self.settings.user} may not read table {table} at {where} "
                f"(HTTP 403: {reason}); grant a role with read access to {table}",
                table,
            )
        if (
            status in (400, 404)
            and table not in SERVICENOW_TABLES
            and (status == 404 or "invalid table" in reason.lower())
        ):
            # An auxiliary table (sys_audit, sys_choice, metric_instance, sys_audit_delete,
            # sys_user_group) the instance does not serve: degrade like a forbidden one.
            return TableForbidden(
                f"ServiceNow at {where} does not serve table {table} (HTTP {status}: {reason})",
                table,
            )
        if status == 404:
            return SourceError(
                f"ServiceNow at {where} has no table API for {table} (HTTP 404: {reason}); "
                f"check {ENV_URL} (base URL only, no /api path) and that the plugin is active"
            )
        if status == 429:
            return SourceError(
                f"ServiceNow at {where} kept rate-limiting user {self.settings.user} while "
                f"reading {table} (HTTP 429: {reason}) after all retries"
            )
        return SourceError(
            f"ServiceNow at {where} answered HTTP {status} for table {table}: {reason}"
        )


def _error_text(response: requests.Response | None) -> str:
    """`message: detail` from the instance's error JSON, else the HTTP reason phrase."""
    if response is None:
        return "no response"
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or "").strip()
        detail = str(error.get("detail") or "").strip()
        if message and detail:
            return f"{message}: {detail}"
        if message or detail:
            return message or detail
    return response.reason or "no detail"


def _total(header: str | None) -> int | None:
    try:
        return int(header) if header is not None else None
    except ValueError:
        return None


def _short(exc: Exception) -> str:
    text = str(exc)
    for marker in (
        "cannot reach",
        "Connection refused",
        "Name or service not known",
        "Temporary failure in name resolution",
        "timed out",
    ):
        if marker in text:
            return text if marker == "cannot reach" else marker.lower()
    return type(exc).__name__
