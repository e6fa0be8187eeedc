"""Directory listings (queues, users, wrap-up codes, ...): one GET route per listing.

The HTTP side only; ``genesys_simulator/directory.py`` defines the listings and their paging.
"""

from __future__ import annotations

import re
from typing import Any

from ..dataset import Dataset
from ..directory import LISTINGS, listing
from ..filters import FilterError
from .errors import ApiError
from .routes import Exchange, RouteHandler, RouteTable

Json = dict[str, Any]


class Directory:
    """Pages through the seeded entity pools."""

    def __init__(self, dataset: Dataset) -> None:
        """Listings read only the data set's pools."""
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
        try:
            return listing(self.dataset.pools, kind, query)
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc
