"""Conversation aggregates: ``POST /api/v2/analytics/conversations/aggregates/query``.

The HTTP side only; ``genesys_simulator/aggregates.py`` computes the buckets.
"""

from __future__ import annotations

from typing import Any

from ..aggregates import DAY_MS, BucketLimitError, aggregate, parse_granularity
from ..dataset import Dataset
from ..filters import FilterError
from ..timeutil import parse_interval
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
        faults = self.core.faults
        try:
            answer = aggregate(
                self.dataset, body, self.core.now_ms, max_buckets=faults.aggregate_max_buckets
            )
        except BucketLimitError as exc:
            self.core.fault_fired("aggregate_buckets_refused")
            raise ApiError(400, str(exc)) from exc
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc
        self._count_dst_buckets(body, answer)
        return answer

    def _count_dst_buckets(self, body: Json, answer: Json) -> None:
        """Count day buckets that are not 24 hours long: the ``timeZone`` crossed a DST change."""
        if not body.get("timeZone") or not body.get("granularity"):
            return
        gran = parse_granularity(body["granularity"])
        if gran % DAY_MS:
            return
        seen = {
            bucket["interval"]
            for result in answer.get("results", [])
            for bucket in result.get("data", [])
        }
        for interval in seen:
            start, end = parse_interval(interval)
            if abs(end - start - gran) == 3_600_000:
                self.core.fault_fired("aggregate_dst_bucket")
