"""Directory listings (queues, users, wrap-up codes, ...): one GET route per listing.

The HTTP side only; ``genesys_simulator/directory.py`` defines the listings and their paging.
"""

from __future__ import annotations

import re
from typing import Any

from ..dataset import Dataset
from ..directory import LISTINGS, listing
from ..filters import FilterError
from .core import Core
from .errors import ApiError
from .routes import Exchange, RouteHandler, RouteTable

Json = dict[str, Any]


class Directory:
    """Pages through the seeded entity pools."""

    def __init__(self, core: Core, dataset: Dataset) -> None:
        """Listings read the data set's pools; the core holds the faults and counters."""
        self.core = core
        self.dataset = dataset

    def register(self, routes: RouteTable) -> None:
        """One route per listing, named after its kind."""
        for kind, (path, _) in LISTINGS.items():
            routes.add("GET", re.escape(path), kind, self._route(kind))

    def _route(self, kind: str) -> RouteHandler:
        def page(ex: Exchange) -> None:
            ex.send_json(200, self.directory(kind, ex.query))

        return page

    def directory(self, kind: str, query: dict[str, list[str]]) -> Json:
        """One page of a directory entity listing."""
        if kind == "presence_definitions":
            self._check_deactivated_case(query)
        try:
            return listing(self.dataset.pools, kind, query)
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc

    def _check_deactivated_case(self, query: dict[str, list[str]]) -> None:
        """Under ``deactivated_documented_case``, only the documented ``TRUE``/``FALSE``.

        The SDK documents the parameter as "Deactivated query can be TRUE or FALSE"; whether
        the API also takes other casings is not documented, so a strict run refuses them.
        """
        values = query.get("deactivated")
        if not self.core.faults.deactivated_documented_case or not values:
            return
        self.core.fault_fired("deactivated_case_checked")
        if values[0] not in {"TRUE", "FALSE"}:
            self.core.fault_fired("deactivated_case_refused")
            raise ApiError(400, "deactivated must be TRUE or FALSE")
