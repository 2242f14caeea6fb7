"""JiraClient: the `jira` library's session and deployment detection, with our transport.

We keep `jira.JIRA` for what it does well (serverInfo -> Cloud or Data Center, the enhanced
`search/jql` call) and hand every byte to `connectors.http.RetryAdapter`: the library's own
retries are off (`max_retries=0`) because they sleep less than `Retry-After` and crash on an
HTTP date. The adapter is mounted from inside the constructor (before `serverInfo` is fetched),
so even the library's first request is retried, timed out and counted.
"""

from __future__ import annotations

import logging
from typing import Any

import jira
import requests
from jira.exceptions import JIRAError

from connectors.http import RequestStats, RetryPolicy, make_session
from connectors.jira.errors import JiraAuthFailed, JiraHttpError, from_jira_error, messages_of
from connectors.jira.settings import JiraSettings

log = logging.getLogger(__name__)


class _TransportJIRA(jira.JIRA):
    """`jira.JIRA` whose session gets our adapter before the constructor's first request."""

    def __init__(self, *args: Any, policy: RetryPolicy, stats: RequestStats, **kwargs: Any):
        self._flow_policy = policy
        self._flow_stats = stats
        super().__init__(*args, **kwargs)

    def _add_ssl_cert_verif_strategy_to_session(self) -> None:
        # Called by JIRA.__init__ right after it creates its session, before serverInfo.
        super()._add_ssl_cert_verif_strategy_to_session()
        make_session(
            session=self._session,
            verify=bool(self._options["verify"]),
            policy=self._flow_policy,
            stats=self._flow_stats,
        )
        self._session.hooks["response"].append(_refuse_failed_login)


def _refuse_failed_login(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A 200 with `X-Seraph-LoginReason: AUTHENTICATED_FAILED` is a failed login (JRA-41559)."""
    if response.status_code != 200:
        return  # a 401/403 says it itself (and gets the message naming the settings)
    reason = response.headers.get("X-Seraph-LoginReason", "")
    if "AUTHENTICATED_FAILED" in reason or "AUTHENTICATION_DENIED" in reason:
        raise JiraAuthFailed(reason)


class JiraClient:
    """A connected JIRA: knows its deployment, sends JSON requests, raises `JiraHttpError`."""

    def __init__(
        self,
        settings: JiraSettings,
        *,
        verify_tls: bool = True,
        policy: RetryPolicy | None = None,
        stats: RequestStats | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy or RetryPolicy()
        self.stats = stats or RequestStats()
        self.lib = _connect(settings, verify_tls, self.policy, self.stats)
        self.session: requests.Session = self.lib._session
        self.is_cloud = self.lib.deploymentType == "Cloud"

    @property
    def deployment(self) -> str:
        return "cloud" if self.is_cloud else "datacenter"

    def url(self, path: str) -> str:
        """Absolute URL of a REST path such as `/rest/api/2/status`."""
        return self.settings.url + path

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._json("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._json("POST", path, json=body)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            # The session carries the (connect, read) timeout on every request.
            response = self.session.request(method, self.url(path), **kwargs)
        except JIRAError as exc:  # ResilientSession raises on any non-2xx
            raise from_jira_error(exc) from None
        if not response.ok:
            raise JiraHttpError(response.status_code, path, messages_of(response))
        if not response.content:
            return None
        return response.json()

    def search_jql_page(
        self,
        jql: str,
        *,
        token: str | None,
        max_results: int,
        fields: list[str],
        expand: str | None = None,
    ) -> dict[str, Any]:
        """One Cloud `search/jql` page as raw JSON (never Resource objects).

        Raises:
            JiraHttpError: on an HTTP error, or when the library answers None (it does that,
                silently, off Cloud): no answer is not an empty answer.
        """
        try:
            page = self.lib.enhanced_search_issues(
                jql,
                nextPageToken=token,
                maxResults=max_results,
                fields=list(fields),
                expand=expand,
                json_result=True,
            )
        except JIRAError as exc:
            raise from_jira_error(exc) from None
        if page is None or not isinstance(page, dict):
            raise JiraHttpError(0, "/rest/api/2/search/jql", ["the jira library returned no page"])
        return page


def _connect(
    settings: JiraSettings, verify_tls: bool, policy: RetryPolicy, stats: RequestStats
) -> jira.JIRA:
    auth: dict[str, Any] = (
        {"basic_auth": (settings.email, settings.api_token)}
        if settings.email
        else {"token_auth": settings.pat}
    )
    try:
        client = _TransportJIRA(
            server=settings.url,
            get_server_info=True,
            max_retries=0,
            timeout=(policy.connect_timeout_s, policy.read_timeout_s),
            options={"verify": verify_tls, "check_update": False},
            logging=False,
            policy=policy,
            stats=stats,
            **auth,
        )
    except JIRAError as exc:
        raise from_jira_error(exc) from None
    except KeyError:
        # serverInfo came back empty: JIRA sends that with a failed login on some versions.
        raise JiraAuthFailed("serverInfo was empty") from None
    # The library would GET /rest/api/2/field (often hundreds of KB) to translate field names
    # before the first search; we only ask for system field ids, which translate to themselves.
    client._fields_cache_value = {f: f for f in ("id", "key")}
    return client
