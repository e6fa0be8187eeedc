"""The HTTP request handler: parses a request, admits it and dispatches through the route table.

Every response has a Content-Length. Guarded routes under ``/api/v2/`` pass the shared checks
first (bearer token, rate admission, and for ``/api/v2/analytics/`` the injected errors).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .core import Core
from .errors import ApiError
from .routes import RouteTable


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the families registered in ``routes``; the ``Exchange`` they see."""

    core: Core
    routes: RouteTable
    #: The request's bearer token once checked (the per-token limiter's key).
    bearer: str | None = None
    args: tuple[str, ...] = ()
    query: dict[str, list[str]]
    raw: bytes = b""
    protocol_version = "HTTP/1.1"
    server_version = "GenesysSimulator/1.0"
    #: Headers and body go out in two writes; with Nagle's algorithm on, the second waits for
    #: the client's delayed ACK (40 ms on Linux) on every small response of a kept-alive
    #: connection, which no real API behind TLS does.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        """Dispatch a GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """Dispatch a POST."""
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        """Dispatch a DELETE."""
        self._dispatch("DELETE")

    # ----------------------------------------------------------------- the Exchange
    def header(self, name: str) -> str | None:
        """A request header."""
        return self.headers.get(name)

    def json_body(self) -> Any:
        """The body parsed as JSON; a 400 ``ApiError`` when it is not."""
        try:
            return json.loads(self.raw or b"null")
        except ValueError as exc:
            raise ApiError(400, "The request body is not valid JSON.") from exc

    def send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        compress: bool = True,
    ) -> None:
        """Answer with ``body`` (gzip-compressed when allowed and ``compress``)."""
        extra = dict(headers or {})
        if (
            compress
            and len(body) > 512
            and self.core.faults.gzip
            and "gzip" in (self.headers.get("Accept-Encoding") or "")
            and "Content-Encoding" not in extra
        ):
            body = gzip.compress(body, compresslevel=1)
            extra["Content-Encoding"] = "gzip"
        self.core.count_status(status)
        self.send_response(status)
        if body or status != 204:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**self.core.rate_headers(self.bearer), **extra}.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        """Answer with ``data`` as compact JSON."""
        self.send(status, json.dumps(data, separators=(",", ":")).encode(), headers)

    def send_cut(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        """Announce all of ``body`` but send half, then drop the connection (a fault)."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**self.core.rate_headers(self.bearer), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.core.count_status(status)
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # ----------------------------------------------------------------- plumbing
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send_error_body(self, err: ApiError) -> None:
        context = str(uuid.uuid4())
        body = {
            "message": err.message,
            "code": err.code,
            "status": err.status,
            "contextId": context,
            "details": [],
            "errors": [],
        }
        self.send_json(err.status, body, {"ININ-Correlation-Id": context, **err.headers})

    def _no_route(self) -> None:
        raise ApiError(404, f"No resource found for {self.command} {self.path}")

    def _dispatch(self, method: str) -> None:
        self.bearer = None
        self.raw = self._read_body()
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        self.query = parse_qs(parts.query)
        core = self.core
        route, self.args = self.routes.match(method, path)
        core.count_request(route.name if route else "unknown")
        try:
            if (route is None or route.guarded) and path.startswith("/api/v2/"):
                self.bearer = core.check_bearer(self.headers.get("Authorization"))
                core.admit_api_request(self.bearer)
                if path.startswith("/api/v2/analytics/"):
                    core.maybe_inject_error()
            if route is None:
                self._no_route()
            else:
                route.handler(self)
        except ApiError as err:
            self._send_error_body(err)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a server must answer every request
            self._send_error_body(ApiError(500, f"Simulator error: {exc!r}"))
