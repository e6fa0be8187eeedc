"""What the users, flows, evaluations and surveys aggregates queries share beyond ``Frame``.

Their bodies take the fields of the SDK's ``UserAggregationQuery``, ``FlowAggregationQuery``,
``EvaluationAggregationQuery`` and ``SurveyAggregationQuery`` (no ``queryType``, ``sortMetric``
or ``limit``, which belong to conversations), each subject with its own documented groupBy,
metrics and ``alternateTimeDimension`` lists; anything else is refused with 400.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .aggregates import Frame, frame
from .filters import FilterError, node_matches, validate_filters

Json = dict[str, Any]
GroupKey = tuple[tuple[str, Any], ...]
Cell = tuple[str, Any]
"""A metric and its qualifier (None: the metric has no qualifier)."""

SUBJECT_KEYS = frozenset(
    {
        "interval",
        "granularity",
        "timeZone",
        "groupBy",
        "filter",
        "metrics",
        "flattenMultivaluedDimensions",
        "views",
        "alternateTimeDimension",
    }
)


class LimitError(FilterError):
    """A documented limit of a subject refused the query; ``counter`` names its fault counter."""

    def __init__(self, message: str, counter: str) -> None:
        """Refuse with ``message``; the HTTP side counts ``counter``."""
        super().__init__(message)
        self.counter = counter


@dataclass(frozen=True)
class SubjectQuery:
    """A checked aggregates body of one subject."""

    frame: Frame
    group_by: list[str]
    metrics: list[str]
    time: str
    filter: Json | None

    def matches(self, values: Mapping[str, Any]) -> bool:
        """Whether an item with these dimension values passes the filter."""
        if self.filter is None:
            return True

        def lookup(pred: Mapping[str, Any]) -> list[Any]:
            value = values.get(str(pred.get("dimension")))
            return [] if value is None else [value]

        return node_matches(self.filter, lookup)

    def key(self, values: Mapping[str, Any]) -> GroupKey:
        """The group of an item: its values of the groupBy dimensions it has."""
        return tuple((d, values[d]) for d in self.group_by if values.get(d) is not None)


def predicates(node: Mapping[str, Any] | None) -> Iterator[Json]:
    """Every predicate of a filter, its clauses' included."""
    if not node:
        return
    yield from node.get("predicates") or ()
    for clause in node.get("clauses") or ():
        yield from predicates(clause)


def subject_query(
    subject: str,
    body: Mapping[str, Any],
    max_buckets: int,
    *,
    groups: Collection[str],
    metrics: Collection[str],
    times: Collection[str],
    default_time: str,
    filter_dimensions: Collection[str] | None = None,
) -> SubjectQuery:
    """Check a body against one subject's documented lists; raises ``FilterError`` (400)."""
    fr = frame(body, max_buckets, SUBJECT_KEYS)
    group_by = body.get("groupBy") or []
    if not isinstance(group_by, list) or not set(group_by) <= set(groups):
        bad = [g for g in group_by if g not in groups] if isinstance(group_by, list) else group_by
        raise LimitError(
            f"groupBy {bad!r} is not allowed for {subject} aggregates; allowed: "
            + ", ".join(sorted(groups)),
            f"{subject}_aggregate_refused",
        )
    wanted = body.get("metrics")
    if not isinstance(wanted, list) or not wanted or not set(wanted) <= set(metrics):
        raise LimitError(
            f"metrics must be a non-empty list of: {', '.join(sorted(metrics))} "
            f"({subject} aggregates)",
            f"{subject}_aggregate_refused",
        )
    time = body.get("alternateTimeDimension") or default_time
    if time not in times:
        raise LimitError(
            f"alternateTimeDimension {time!r} is not allowed for {subject} aggregates; allowed: "
            + ", ".join(sorted(times)),
            f"{subject}_aggregate_refused",
        )
    flt = body.get("filter")
    filters = validate_filters("filter", [flt]) if flt is not None else []
    allowed = set(groups if filter_dimensions is None else filter_dimensions)
    for pred in predicates(flt):
        if pred.get("type", "dimension") != "dimension" or pred.get("dimension") not in allowed:
            raise LimitError(
                f"filter predicate {pred.get('dimension') or pred.get('metric')!r} is not "
                f"allowed for {subject} aggregates; dimensions allowed: "
                + ", ".join(sorted(allowed)),
                f"{subject}_aggregate_refused",
            )
    return SubjectQuery(fr, list(group_by), list(wanted), time, filters[0] if filters else None)


Acc = defaultdict[GroupKey, defaultdict[int, defaultdict[Cell, list[int]]]]


def new_acc() -> Acc:
    """Values per group, bucket and (metric, qualifier); touching a bucket makes it appear."""
    return defaultdict(lambda: defaultdict(lambda: defaultdict(list)))


def counted(name: str, values: list[int]) -> Json:
    """Counts carry ``count``; timings and observations ``max/min/count/sum``."""
    if name.startswith("n"):
        return {"count": sum(values)}
    return {"max": max(values), "min": min(values), "count": len(values), "sum": sum(values)}


def render(
    acc: Acc, query: SubjectQuery, stats: Callable[[str, list[int]], Json] = counted
) -> list[Json]:
    """``results[]``: groups in a stable order, buckets in time order, metrics as asked."""
    order = {m: k for k, m in enumerate(query.metrics)}
    results = []
    for key in sorted(acc, key=lambda k: [str(v) for v in k]):
        data = []
        for bucket in sorted(acc[key]):
            cells = acc[key][bucket]
            rows = []
            for cell in sorted(cells, key=lambda c: (order[c[0]], str(c[1]))):
                row: Json = {"metric": cell[0]}
                if cell[1] is not None:
                    row["qualifier"] = cell[1]
                row["stats"] = stats(cell[0], cells[cell])
                rows.append(row)
            data.append({"interval": query.frame.interval(bucket), "metrics": rows})
        results.append({"group": dict(key), "data": data})
    return results
