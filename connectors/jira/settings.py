"""Where JIRA is and who we are there: read from the environment only (docs/contract.md §3.2).

Secrets never leave this object in text form: `repr`/`str` show the URL and the account, not
the token, so a settings object can be logged or put in an exception message safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class JiraSettings:
    """Endpoint and credentials: Cloud basic auth (email + API token) or a DC bearer PAT."""

    url: str
    email: str | None = None
    api_token: str | None = field(default=None, repr=False)
    pat: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> JiraSettings | None:
        """Settings from `JIRA_URL` + (`JIRA_EMAIL` and `JIRA_API_TOKEN`, or `JIRA_PAT`).

        Returns None when the URL or a complete credential is absent: the caller skips the
        source with one log line rather than failing the run.
        """
        return cls.from_values(
            url=env.get("JIRA_URL"),
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
