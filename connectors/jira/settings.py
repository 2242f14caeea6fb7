"""Where JIRA is and who we are there: read from the environment only (docs/contract.md §3.2).

Secrets never leave this object in text form: `repr`/`str` show the URL and the account, not
the token, so a settings object can be logged or put in an exception message safely. Odd shapes
are refused or cleaned on construction (`connectors.secrets`): a control character or a
non-Latin-1 character in a credential is an error naming the variable; user-info in `JIRA_URL`
is removed with a warning, as for `SERVICENOW_URL`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.secrets import base_url, check_secret

ENV_URL = "JIRA_URL"


@dataclass(frozen=True)
class JiraSettings:
    """Endpoint and credentials: Cloud basic auth (email + API token) or a DC bearer PAT."""

    url: str
    email: str | None = None
    api_token: str | None = field(default=None, repr=False)
    pat: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name, value in (
            ("JIRA_EMAIL", self.email),
            ("JIRA_API_TOKEN", self.api_token),
            ("JIRA_PAT", self.pat),
        ):
            if value is not None:
                check_secret(name, value)
        clean = base_url(ENV_URL, self.url, "https://acme.atlassian.net or http://127.0.0.1:8080")
        object.__setattr__(self, "url", clean)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> JiraSettings | None:
        """Settings from `JIRA_URL` + (`JIRA_EMAIL` and `JIRA_API_TOKEN`, or `JIRA_PAT`).

        Returns None when the URL or a complete credential is absent: the caller skips the
        source with one log line rather than failing the run.
        """
        return cls.from_values(
            url=env.get(ENV_URL),
            email=env.get("JIRA_EMAIL"),
            api_token=env.get("JIRA_API_TOKEN"),
            pat=env.get("JIRA_PAT"),
        )

    @classmethod
    def from_values(
        cls,
        *,
        url: str | None,
        email: str | None = None,
        api_token: str | None = None,
        pat: str | None = None,
    ) -> JiraSettings | None:
        """The same rules as `from_env`, from values a caller already holds (blank = absent)."""
        url = (url or "").strip().rstrip("/")
        email = (email or "").strip()
        token = (api_token or "").strip()
        pat = (pat or "").strip()
        if not url:
            return None
        if email and token:
            return cls(url=url, email=email, api_token=token)
        if pat:
            return cls(url=url, pat=pat)
        return None

    @property
    def who(self) -> str:
        """The account as it may appear in messages: the email, or 'the JIRA_PAT token'."""
        return self.email if self.email else "the personal access token in JIRA_PAT"

    def __repr__(self) -> str:
        auth = f"email={self.email!r}, api_token=***" if self.email else "pat=***"
        return f"JiraSettings(url={self.url!r}, {auth})"

    __str__ = __repr__
