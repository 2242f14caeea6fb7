"""The request/response values passed between the HTTP server and the two API apps.

Keeping the apps free of socket code means they are plain functions of a request, easy to
test, and the server alone decides how a fault (drop, truncate, delay) hits the wire.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    host: str = "127.0.0.1"
    raw_query: str = ""

    @classmethod
    def build(
        cls, method: str, target: str, headers: dict[str, str], body: bytes, host: str
    ) -> Request:
        path, _, qs = target.partition("?")
        return cls(method, path, parse_qs(qs, keep_blank_values=True), headers, body, host, qs)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(
    status: int, payload: Any, headers: list[tuple[str, str]] | None = None
) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(
        status, body, [("Content-Type", "application/json;charset=UTF-8"), *(headers or [])]
    )


def truthy(value: str | None) -> bool:
    """ServiceNow/JIRA booleans, including pysnow's Python casing ("True"/"False")."""
    return (value or "").strip().lower() in ("true", "1", "yes")
