"""Secrets in odd shapes: refuse them when settings are read, redact them from any text.

Why refuse instead of cleaning: a token with a CR, LF or NUL inside is not the token the server
issued (a paste gone wrong), and on the wire it breaks the header: `http.client` then raises
`Invalid header value b'Bearer <the token>'`, and whatever repeats that message (a log line,
`raw.sync_runs.error`, Dagster's event log) repeats the secret. Likewise a character outside
Latin-1 cannot be carried by HTTP Basic or Bearer auth at all (requests encodes them Latin-1).
So settings refuse both, naming the variable and never showing its value.

Why strip user-info from URLs: `https://user:secret@host` works in a browser but is not how
either connector authenticates, and a URL is shown everywhere (messages, logs, `raw.*.url`).
Both connectors take credentials from their own variables only and drop user-info from the URL
with a warning (the same rule for JIRA_URL and SERVICENOW_URL).

Why `describe` instead of `str(exc)`: the text of an unexpected exception is not ours to trust
(the `jira` library prints request headers; `http.client` prints header values), so only its
type and a redacted, shortened text are ever shown.
"""

from __future__ import annotations

import base64
import logging
import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from connectors.result import SourceError

log = logging.getLogger(__name__)

#: What `describe` keeps of an exception's text: enough to act on, not a payload dump.
MAX_TEXT = 300

_AUTH_VALUE = re.compile(
    r"\b(Bearer|Basic|Token|token|password|passwd|pwd)([\s:=]+)\S+", re.IGNORECASE
)
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


def check_secret(name: str, value: str) -> str:
    """`value` if it can be sent as a credential; else `SourceError` naming `name` only.

    Surrounding whitespace has already been stripped by the caller (a trailing newline from a
    file or a paste is common and harmless); what is left must be printable Latin-1.
    """
    for ch in value:
        if unicodedata.category(ch) == "Cc":
            raise SourceError(
                f"{name} contains a control character (CR, LF, NUL, TAB or similar) inside it, "
                f"so it cannot be sent in an HTTP header; set {name} again without it "
                "(its value is not shown)"
            )
        if ord(ch) > 0xFF:
            raise SourceError(
                f"{name} contains a character outside Latin-1, which HTTP Basic and Bearer "
                f"authentication cannot carry; check {name} (its value is not shown)"
            )
    return value


def check_url(name: str, url: str) -> str:
    """The URL with any user-info removed (logged as a warning naming `name`, not the value).

    Raises:
        SourceError: a control character in the URL (it would be silently dropped by urlsplit).
    """
    if any(unicodedata.category(ch) == "Cc" for ch in url):
        raise SourceError(f"{name} contains a control character (CR, LF, TAB, NUL or similar)")
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    log.warning(
        "%s contains user-info (user:password@); it was removed and not used: credentials are "
        "read from their own variables only",
        name,
    )
    return urlunsplit((parts.scheme, host_port(parts), parts.path, parts.query, parts.fragment))


def base_url(name: str, url: str, examples: str) -> str:
    """`url` in the one canonical form both connectors keep: http(s), a host, no user-info
    (removed by `check_url` with a warning), no query or fragment, no trailing slash.

    Raises:
        SourceError: not an http(s) URL with a host; the message names `name`, gives
            `examples` and shows the URL without user-info or query.
    """
    parts = urlsplit(check_url(name, url))
    clean = urlunsplit((parts.scheme, host_port(parts), parts.path.rstrip("/"), "", ""))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError(f"{name} must be a full base URL such as {examples}, not {clean!r}")
    return clean


def host_port(parts: object) -> str:
    """host[:port] of a urlsplit result, never its user-info (IPv6 literals bracketed)."""
    host = getattr(parts, "hostname", None) or ""
    port = getattr(parts, "port", None)
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def _forms(secret: str, users: Iterable[str]) -> list[str]:
    """The shapes a secret takes in text: itself, its repr escapes, Basic-auth base64."""
    forms = {secret, repr(secret)[1:-1], repr(secret.encode("utf-8", "replace"))[2:-1]}
    for user in users:
        for pair in (f"{user}:{secret}",):
            forms.add(base64.b64encode(pair.encode("latin-1", "replace")).decode())
    return sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str | None] = (), users: Iterable[str | None] = ()) -> str:
    """`text` with the given secrets (in any of their shapes), auth header values and URL
    user-info replaced by `***`."""
    names = [u for u in users if u]
    for secret in secrets:
        if secret:
            for form in _forms(secret, names):
                text = text.replace(form, "***")
    text = _AUTH_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    return _URL_USERINFO.sub(r"\1***@", text)


def describe(
    exc: BaseException, secrets: Iterable[str | None] = (), users: Iterable[str | None] = ()
) -> str:
    """`Type: text` of an unexpected exception, safe to log, store and show.

    The text is redacted, its control characters escaped (no forged log lines) and cut to
    `MAX_TEXT` characters.
    """
    text = redact(str(exc), secrets, users)
    text = "".join(ch if unicodedata.category(ch) != "Cc" else repr(ch)[1:-1] for ch in text)
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
