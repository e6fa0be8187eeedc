"""Aggregates queries of every subject: ``POST /api/v2/analytics/{subject}/aggregates/query``.

The HTTP side only, one route per subject; the data modules compute the answers
(``aggregates`` for conversations, ``user_aggregates``, ``flow_aggregates`` and
``quality_aggregates``). Every subject shares the bucket limit (``aggregate_max_buckets``,
counter ``aggregate_buckets_refused``) and the DST counter (``aggregate_dst_bucket``); a
documented limit of a subject counts its own counter (``user_predicates_refused``,
``users_aggregate_refused``...). Evaluations and surveys are Quality routes: under
``quality_forbidden`` they answer 403.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..aggregate_parts import LimitError
from ..aggregates import DAY_MS, BucketLimitError, aggregate, parse_granularity
from ..dataset import Dataset
from ..faults import Faults
from ..filters import FilterError
from ..flow_aggregates import flow_aggregate_counted
from ..quality_aggregates import evaluation_aggregate, survey_aggregate
from ..timeutil import parse_interval
from ..user_aggregates import user_aggregate
from .core import Core
from .errors import ApiError
from .routes import Exchange, RouteHandler, RouteTable

Json = dict[str, Any]
#: ``(dataset, body, now_ms, faults) -> (answer, milestone hits capped)``.
Compute = Callable[[Dataset, Mapping[str, Any], int, Faults], tuple[Json, int]]


def _plain(
    fn: Callable[[Dataset, Mapping[str, Any], int, int], Json],
) -> Compute:
    return lambda ds, body, now, faults: (fn(ds, body, now, faults.aggregate_max_buckets), 0)


def _users(ds: Dataset, body: Mapping[str, Any], now: int, faults: Faults) -> tuple[Json, int]:
    limit = faults.user_aggregate_max_predicates
    return user_aggregate(ds, body, now, faults.aggregate_max_buckets, limit), 0


def _flows(ds: Dataset, body: Mapping[str, Any], now: int, faults: Faults) -> tuple[Json, int]:
    caps = (faults.flow_milestones_per_outcome, faults.flow_milestones_per_flow)
    return flow_aggregate_counted(ds, body, now, faults.aggregate_max_buckets, caps)


@dataclass(frozen=True)
class Subject:
    """One aggregates subject: its route name, its computation, whether Quality guards it."""

    route: str
    compute: Compute
    quality: bool = False


SUBJECTS: dict[str, Subject] = {
    "conversations": Subject("aggregates_query", _plain(aggregate)),
    "users": Subject("user_aggregates", _users),
    "flows": Subject("flow_aggregates", _flows),
    "evaluations": Subject("evaluation_aggregates", _plain(evaluation_aggregate), quality=True),
    "surveys": Subject("survey_aggregates", _plain(survey_aggregate), quality=True),
}


class Aggregates:
    """Runs aggregation queries over the generated data as of the clock."""

    def __init__(self, core: Core, dataset: Dataset) -> None:
        """Aggregates read the clock and the data set."""
        self.core = core
        self.dataset = dataset

    def register(self, routes: RouteTable) -> None:
        """One aggregates query route per subject."""
        for subject, spec in SUBJECTS.items():
            routes.add(
                "POST",
                f"/api/v2/analytics/{subject}/aggregates/query",
                spec.route,
                self._route(subject),
            )

    def _route(self, subject: str) -> RouteHandler:
        def answer(ex: Exchange) -> None:
            ex.send_json(200, self.aggregates_query(ex.json_body(), subject))

        return answer

    def aggregates_query(self, body: object, subject: str = "conversations") -> Json:
        """Run one subject's aggregation query over the generated data."""
        spec = SUBJECTS[subject]
        if spec.quality and self.core.faults.quality_forbidden:
            self.core.fault_fired("quality_forbidden")
            raise ApiError(403, "Missing permission(s)", "missing.permissions")
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        faults = self.core.faults
        try:
            answer, capped = spec.compute(self.dataset, body, self.core.now_ms, faults)
        except BucketLimitError as exc:
            self.core.fault_fired("aggregate_buckets_refused")
            raise ApiError(400, str(exc)) from exc
        except LimitError as exc:
            self.core.fault_fired(exc.counter)
            raise ApiError(400, str(exc)) from exc
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc
        if capped:
            self.core.fault_fired("flow_milestones_capped", capped)
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
