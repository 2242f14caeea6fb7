"""Connection settings for one ServiceNow instance, read from the environment only.

Why a class of its own: the password must never reach a log line, an exception message or
Dagster metadata, so the one object that holds it hides it from `repr` and offers a
`display_url` with any user-info stripped for messages. Odd shapes are refused or cleaned on
construction (`connectors.secrets`): a control character or a non-Latin-1 character in the user
or password is an error naming the variable; user-info in the URL is removed with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from connectors.secrets import base_url, check_secret, host_port

ENV_URL = "SERVICENOW_URL"
ENV_USER = "SERVICENOW_USER"
ENV_PASSWORD = "SERVICENOW_PASSWORD"


@dataclass(frozen=True)
class ServiceNowSettings:
    """Base URL (https://x.service-now.com or http://127.0.0.1:8081), user and password."""

    url: str
    user: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        check_secret(ENV_USER, self.user)
        check_secret(ENV_PASSWORD, self.password)
        clean = base_url(ENV_URL, self.url, "https://acme.service-now.com or http://127.0.0.1:8081")
        object.__setattr__(self, "url", clean)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServiceNowSettings | None:
        """The settings, or None when any of the three variables is absent or empty."""
        return cls.from_values(
            url=env.get(ENV_URL), user=env.get(ENV_USER), password=env.get(ENV_PASSWORD)
        )

    @classmethod
    def from_values(
        cls, *, url: str | None, user: str | None, password: str | None
    ) -> ServiceNowSettings | None:
        """The same rules as `from_env`, from values a caller already holds (blank = absent)."""
        url = (url or "").strip()
        user = (user or "").strip()
        # Spaces may belong to a password; a line ending around it is a paste or a file's.
        password = (password or "").strip("\r\n")
        if not (url and user and password):
            return None
        return cls(url=url, user=user, password=password)

    @property
    def use_ssl(self) -> bool:
        return urlsplit(self.url).scheme == "https"

    @property
    def host(self) -> str:
        """host[:port][/path] as pysnow's `host=` wants it (it prefixes the scheme itself)."""
        parts = urlsplit(self.url)
        return parts.netloc + parts.path

    @property
    def display_url(self) -> str:
        """The URL safe to show: never user-info (someone may put user:password@ in it)."""
        parts = urlsplit(self.url)
        return urlunsplit((parts.scheme, host_port(parts), parts.path.rstrip("/"), "", ""))

    def record_url(self, table: str, sys_id: str) -> str:
        """The link a person clicks in a dashboard: the record in the classic UI."""
        return f"{self.url}/nav_to.do?uri={table}.do?sys_id={sys_id}"
