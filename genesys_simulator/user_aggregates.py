"""User (agent status) aggregates: ``POST /api/v2/analytics/users/aggregates/query``.

Computed from exactly the statuses user details serve (``users.day_timeline``): each status
adds, to every bucket it overlaps, the milliseconds of the overlap, and a status still open at
the clock counts up to the clock, as user details serve it open (no ``endTime``) at that point.
Merging a status across midnight (what details do) cannot change these sums, so the per-day
timelines are summed as they are.

The documented limits ("Filtering and group-by is limited to the userId dimension only. A
single query may contain no more than 100 userId predicates. ... Metrics are limited to
tSystemPresence, tOrganizationPresence, and tAgentRoutingStatus") answer 400. Qualifiers
(the model has ``qualifier``; an official example response was not found, so this is the
reading of next-streams.md §3): the system presence (``ON_QUEUE``, ``BREAK``...) for
``tSystemPresence``, the organization presence definition id for ``tOrganizationPresence``,
the routing status (``IDLE``, ``INTERACTING``, ``OFF_QUEUE``) for ``tAgentRoutingStatus``.
Stats carry ``sum`` (milliseconds) only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .aggregate_parts import LimitError, new_acc, predicates, render, subject_query
from .aggregates import MAX_BUCKETS
from .dataset import Dataset
from .timeutil import DAY_MS, day_floor
from .users import day_timeline

Json = dict[str, Any]

USER_METRICS = ("tSystemPresence", "tOrganizationPresence", "tAgentRoutingStatus")
PRESENCE_METRICS = frozenset({"tSystemPresence", "tOrganizationPresence"})
USER_GROUPS = ("userId",)
USER_TIMES = ("eventTime",)
#: "A single query may contain no more than 100 userId predicates."
MAX_USER_PREDICATES = 100


def presence_mappings(ds: Dataset) -> dict[str, list[str]]:
    """``systemToOrganizationMappings``: each system presence and the org presences behind it."""
    mappings: dict[str, list[str]] = {}
    for p in ds.pools.presences:
        mappings.setdefault(p["systemPresence"], []).append(p["id"])
    return mappings


def user_aggregate(
    ds: Dataset,
    body: Mapping[str, Any],
    now_ms: int,
    max_buckets: int = MAX_BUCKETS,
    max_predicates: int = MAX_USER_PREDICATES,
) -> Json:
    """Answer a ``UserAggregationQuery`` as of ``now_ms``; raises ``FilterError`` (400)."""
    query = subject_query(
        "users",
        body,
        max_buckets,
        groups=USER_GROUPS,
        metrics=USER_METRICS,
        times=USER_TIMES,
        default_time="eventTime",
    )
    count = sum(1 for _ in predicates(query.filter))
    if count > max_predicates:
        raise LimitError(
            f"A single user aggregates query may contain no more than {max_predicates} "
            f"userId predicates; this one has {count}. Split it into several queries.",
            "user_predicates_refused",
        )
    wanted = set(query.metrics)
    fr = query.frame
    end = min(fr.end, now_ms)
    acc = new_acc()
    for index, user in enumerate(ds.pools.users):
        values = {"userId": user["id"]}
        if not query.matches(values):
            continue
        key = query.key(values)
        day = day_floor(fr.start)
        while day < end:
            presence, routing = day_timeline(ds.seed, index, day)
            for start, stop, status in presence if wanted & PRESENCE_METRICS else ():
                for bucket, ms in fr.split(start, min(stop, end)):
                    cells = acc[key][bucket]
                    if "tSystemPresence" in wanted:
                        cells[("tSystemPresence", status)].append(ms)
                    if "tOrganizationPresence" in wanted:
                        cells[("tOrganizationPresence", ds.pools.presence_id(status))].append(ms)
            if "tAgentRoutingStatus" in wanted:
                for start, stop, status in routing:
                    for bucket, ms in fr.split(start, min(stop, end)):
                        acc[key][bucket][("tAgentRoutingStatus", status)].append(ms)
            day += DAY_MS
    out: Json = {"systemToOrganizationMappings": presence_mappings(ds)}
    results = render(acc, query, lambda _name, values: {"sum": sum(values)})
    if results:
        out["results"] = results
    return out
