"""A small threaded HTTP/1.1 server that puts an API app and the fault plan on the wire.

Keep-alive with an exact ``Content-Length`` keeps per-request overhead low, so benchmarks
measure the client, not the simulator. Faults that need the socket (drops, truncated bodies,
delays) are applied here; everything else is the app's business.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sandbox.faults import FaultPlan
from sandbox.wire import Request, Response, json_response

#: (request, fault plan) -> response
App = Callable[[Request, FaultPlan], Response]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, port: int, app: App, endpoint: Callable[[Request], str], owner: Any) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.app = app
        self.endpoint = endpoint
        self.owner = owner  # sandbox.sandbox.Sandbox: counters, faults, admin

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> threading.Thread:
        thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
            name=f"sandbox-{self.port}",
        )
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def setup(self) -> None:
        super().setup()
        # Small JSON responses on keep-alive connections must not wait for delayed ACKs.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log (library code does not print)."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request.build(
            self.command,
            self.path,
            headers,
            body,
            headers.get("host", f"127.0.0.1:{self.server.port}"),
        )
        owner = self.server.owner
        if req.path.startswith("/__admin/"):
            self._send(owner.admin(req))
            return
        owner.count(self.server.endpoint(req))
        plan = owner.faults.plan(req.path)
        if plan.delay:
            time.sleep(plan.delay)
        if plan.drop:
            self.close_connection = True
            return  # no bytes at all: the client sees a dropped connection
        if plan.status is not None:
            self._send(self._fault_response(req, plan))
            return
        try:
            resp = self.server.app(req, plan)
        except Exception as exc:
            resp = json_response(500, {"errorMessages": [f"sandbox error: {exc!r}"]})
        if plan.truncate and len(resp.body) > 2:
            self._send(resp, cut=len(resp.body) // 2)
            return
        self._send(resp)

    def _fault_response(self, req: Request, plan: FaultPlan) -> Response:
        jira = req.path.startswith("/rest/")
        headers: list[tuple[str, str]] = []
        if plan.retry_after:
            headers.append(("Retry-After", plan.retry_after))
        if plan.status == 429:
            if jira:
                headers += [
                    ("X-RateLimit-Limit", "100"),
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-NearLimit", "true"),
                    ("RateLimit-Reason", "jira-quota-based"),
                    ("X-RateLimit-FillRate", "10"),
                    ("X-RateLimit-Interval-Seconds", "1"),
                ]
                return json_response(429, {"errorMessages": ["Rate limit exceeded."]}, headers)
            headers += [
                ("X-RateLimit-Limit", "5000"),
                ("X-RateLimit-Reset", str(int(time.time()) + 3600)),
            ]
            return json_response(
                429,
                {
                    "error": {"message": "Rate limit exceeded", "detail": "Too many requests"},
                    "status": "failure",
                },
                headers,
            )
        message = "Service Unavailable" if plan.status == 503 else "Internal server error"
        if jira:
            return json_response(plan.status or 500, {"errorMessages": [message]}, headers)
        return json_response(
            plan.status or 500,
            {"error": {"message": message, "detail": ""}, "status": "failure"},
            headers,
        )

    def _send(self, resp: Response, cut: int | None = None) -> None:
        self.send_response(resp.status)
        for name, value in resp.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        if cut is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        # Headers and body leave in one write: two small writes on a keep-alive connection
        # would meet Nagle + delayed ACK and cost ~40 ms per request.
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(resp.body if cut is None else resp.body[:cut])
        self.flush_headers()


def parse_json_body(req: Request) -> dict[str, Any]:
    """Admin endpoints accept an empty body as ``{}``."""
    if not req.body:
        return {}
    data = json.loads(req.body)
    if not isinstance(data, dict):
        raise ValueError("admin body must be a JSON object")
    return data
