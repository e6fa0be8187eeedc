"""The route table every API family registers into, and what a route handler may use.

A family registers ``(method, path pattern, route name, handler)``; the HTTP handler finds the
first route whose pattern and method match and calls it with the ``Exchange``. The route name
is the key of ``stats.requests``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol


class Exchange(Protocol):
    """One request as a route handler sees it, and the ways to answer it."""

    #: The groups the route pattern captured (ids in the path).
    args: tuple[str, ...]
    query: dict[str, list[str]]
    raw: bytes
    command: str

    def header(self, name: str) -> str | None:
        """A request header."""

    def json_body(self) -> Any:
        """The body parsed as JSON; a 400 ``ApiError`` when it is not."""

    def send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        compress: bool = True,
    ) -> None:
        """Answer with ``body`` (gzip-compressed when allowed and ``compress``)."""

    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        """Answer with ``data`` as compact JSON."""

    def send_cut(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        """Announce all of ``body`` but send half, then drop the connection (a fault)."""


RouteHandler = Callable[[Exchange], None]


@dataclass(frozen=True)
class Route:
    """One registered route; ``guarded`` routes under ``/api/v2/`` need a valid bearer token."""

    method: str
    pattern: re.Pattern[str]
    name: str
    handler: RouteHandler
    guarded: bool = True


class RouteTable:
    """Routes in registration order; the first match wins."""

    def __init__(self) -> None:
        """Start empty."""
        self._routes: list[Route] = []

    def add(
        self, method: str, path: str, name: str, handler: RouteHandler, *, guarded: bool = True
    ) -> None:
        """Register ``handler`` for ``method`` on paths matching the regex ``path`` whole."""
        self._routes.append(Route(method, re.compile(f"^{path}$"), name, handler, guarded))

    def match(self, method: str, path: str) -> tuple[Route | None, tuple[str, ...]]:
        """The first route for ``method`` whose pattern matches ``path``, and its groups."""
        for route in self._routes:
            found = route.pattern.match(path)
            if found and route.method == method:
                return route, found.groups()
        return None, ()

    def __iter__(self) -> Iterator[Route]:
        """Iterate the routes in matching order."""
        return iter(self._routes)


class Family(Protocol):
    """An API family: owns its state and registers its routes."""

    def register(self, routes: RouteTable) -> None:
        """Add this family's routes to ``routes``."""
