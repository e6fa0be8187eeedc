"""Conversation aggregates: ``POST /api/v2/analytics/conversations/aggregates/query``.

The HTTP side only; ``genesys_simulator/aggregates.py`` computes the buckets.
"""

from __future__ import annotations

from typing import Any

from ..aggregates import aggregate
from ..dataset import Dataset
from ..filters import FilterError
from .core import Core
from .errors import ApiError
from .routes import Exchange, RouteTable

Json = dict[str, Any]


class Aggregates:
    """Runs aggregation queries over the generated conversations as of the clock."""

    def __init__(self, core: Core, dataset: Dataset) -> None:
        """Aggregates read the clock and the data set."""
        self.core = core
        self.dataset = dataset

    def register(self, routes: RouteTable) -> None:
        """The conversation aggregates query route."""
        routes.add(
            "POST",
            r"/api/v2/analytics/conversations/aggregates/query",
            "aggregates_query",
            self._route,
        )

    def _route(self, ex: Exchange) -> None:
        ex.send_json(200, self.aggregates_query(ex.json_body()))

    def aggregates_query(self, body: object) -> Json:
        """Run a ``ConversationAggregationQuery`` over the generated conversations."""
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        try:
            return aggregate(self.dataset, body, self.core.now_ms)
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc
