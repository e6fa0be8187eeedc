"""Aggregate queries of every subject (fact sheet §3, next-streams.md §1-§4): windows, bodies, rows.

Each named query of the ``aggregates`` setting (an :class:`AggregateQuery` of
``config.aggregates``), or a built-in one, becomes ``<Subject>AggregationQuery`` bodies over
bounded windows, and each ``results[].data[].metrics[]`` entry becomes one row keyed by (query
name, group, interval start, metric, qualifier). Every subject shares the body, the windows and
the rows; users add batches of ``userId`` predicates and the presence mapping. Nothing here
imports the Singer SDK.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from tap_genesys_analytics.config.aggregates import (
    MAX_USER_PREDICATES,
    USER_METRICS,
    AggregateQuery,
)
from tap_genesys_analytics.windows import DateWindow, iso, parse_iso

Record = dict[str, Any]
UTC = dt.timezone.utc
DAY = dt.timedelta(days=1)

#: The API's maximum interval per aggregate query is not documented (fact sheet §3); 7 days
#: matches the details query's unfiltered limit and keeps every request bounded.
MAX_WINDOW_DAYS = 7
#: Nor is its maximum number of buckets: windows shrink (to whole days) to stay under this.
MAX_BUCKETS = 2000
#: ``StatisticalSummary`` fields, each a column of its own.
STATS = (
    "max",
    "min",
    "count",
    "countNegative",
    "countPositive",
    "sum",
    "current",
    "ratio",
    "numerator",
    "denominator",
    "target",
    "p95",
    "p99",
    "calculatedMetricValue",
)


#: The longest local day (the one that leaves daylight saving time): the bucket count of a window
#: is planned for days this long, so a window over a DST change stays under :data:`MAX_BUCKETS`.
LONGEST_DAY = DAY + dt.timedelta(hours=1)


def aggregates_path(subject: str) -> str:
    """``POST /api/v2/analytics/{subject}/aggregates/query``: the synchronous query.

    The jobs variants are preview APIs, "subject to breaking changes".
    """
    return f"/api/v2/analytics/{subject}/aggregates/query"


def window_days(query: AggregateQuery) -> int:
    """Days per request: at most :data:`MAX_WINDOW_DAYS` and :data:`MAX_BUCKETS` buckets."""
    return max(1, min(MAX_WINDOW_DAYS, (MAX_BUCKETS * query.step) // LONGEST_DAY))


def builtin_queries(
    subject: str, granularity: str, time_zone: str | None
) -> tuple[AggregateQuery, ...]:
    """The queries ``user_aggregates`` and ``flow_aggregates`` run when none of theirs is set.

    Users: every status metric per user (what the UI's agent status views show). Flows: what a
    containment report needs: outcomes per flow, milestones per flow, and flow totals (entries,
    time in flow, exits and disconnects, so contained = exits and disconnects within the flow).
    """

    def query(name: str, group_by: Sequence[str], metrics: Sequence[str]) -> AggregateQuery:
        return AggregateQuery(
            name=name,
            metrics=tuple(metrics),
            group_by=tuple(group_by),
            granularity=granularity,
            time_zone=time_zone,
            subject=subject,
        )

    if subject == "users":
        return (query("user_status", ["userId"], USER_METRICS),)
    if subject == "flows":
        return (
            query(
                "flow_outcomes",
                ["flowId", "flowOutcomeId", "flowOutcomeValue"],
                ["nFlowOutcome", "nFlowOutcomeFailed", "tFlowOutcome"],
            ),
            query(
                "flow_milestones",
                ["flowId", "flowMilestoneId"],
                ["nFlowMilestone", "oFlowMilestone"],
            ),
            query(
                "flow_totals",
                ["flowId", "flowType"],
                ["nFlow", "tFlow", "tFlowExit", "tFlowDisconnect"],
            ),
        )
    return ()


def query_body(query: AggregateQuery, window: DateWindow) -> dict[str, Any]:
    """A ``<Subject>AggregationQuery`` with only fields the API defines."""
    body: dict[str, Any] = {
        "interval": window.interval,
        "granularity": query.granularity,
        "groupBy": list(query.group_by),
        "metrics": list(query.metrics),
    }
    if query.filter:
        body["filter"] = dict(query.filter)
    if query.time_zone:
        body["timeZone"] = query.time_zone
    if query.alternate_time_dimension:
        body["alternateTimeDimension"] = query.alternate_time_dimension
    return body


def user_batches(user_ids: Sequence[str], size: int) -> list[list[str]]:
    """The users split into batches of at most ``size`` (and the API's 100) ids, in order."""
    step = max(1, min(size, MAX_USER_PREDICATES))
    return [list(user_ids[i : i + step]) for i in range(0, len(user_ids), step)]


def user_filter(user_ids: Sequence[str]) -> dict[str, Any]:
    """One ``userId`` predicate per user, any of which matches."""
    return {
        "type": "or",
        "predicates": [{"dimension": "userId", "value": user_id} for user_id in user_ids],
    }


def presence_index(mappings: Mapping[str, Any] | None) -> dict[str, str]:
    """``systemToOrganizationMappings`` turned around: organisation presence -> system presence."""
    index: dict[str, str] = {}
    for system, organization_ids in (mappings or {}).items():
        for organization_id in organization_ids or ():
            index[str(organization_id)] = str(system)
    return index


def user_rows(rows: Iterable[Record], presences: Mapping[str, str]) -> Iterator[Record]:
    """User rows with ``user_id``, and ``system_presence`` on presence rows.

    ``system_presence`` is the system presence of a ``tSystemPresence`` row (its qualifier) or
    of the organisation presence of a ``tOrganizationPresence`` row (from the response's
    ``systemToOrganizationMappings``), so an organisation's own presences roll up to the system
    ones without another table.
    """
    for row in rows:
        row["user_id"] = row["group"].get("userId")
        if row["metric"] == "tSystemPresence":
            row["system_presence"] = row["qualifier"] or None
        elif row["metric"] == "tOrganizationPresence":
            row["system_presence"] = presences.get(row["qualifier"])
        yield row


def local_midnight(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The midnight of ``zone`` at or before ``value``, as an aware UTC datetime."""
    local = value.astimezone(zone)
    return dt.datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)


def plan_windows(start: dt.datetime, end: dt.datetime, query: AggregateQuery) -> list[DateWindow]:
    """Whole days of the query's zone in ``[start, end)``, ``window_days`` per request.

    Windows start and end on local midnights, so buckets of a granularity that divides a day
    fall on the same boundaries on every run and a re-read replaces rows rather than adding any.
    """
    zone = query.zone
    first = local_midnight(start, zone).astimezone(zone).date()
    last = local_midnight(end, zone).astimezone(zone).date()
    windows: list[DateWindow] = []
    day = first
    while day < last:
        nxt = min(day + dt.timedelta(days=window_days(query)), last)
        windows.append(DateWindow(_at_midnight(day, zone), _at_midnight(nxt, zone)))
        day = nxt
    return windows


def _at_midnight(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def group_key(group: Mapping[str, Any] | None) -> str:
    """The group as canonical JSON (sorted keys), a stable text key for warehouses."""
    return json.dumps(dict(group or {}), sort_keys=True, separators=(",", ":"))


def flatten(query_name: str, results: Iterable[Mapping[str, Any]]) -> Iterator[Record]:
    """One row per (group, interval, metric, qualifier), its statistics as columns.

    Interval bounds are written in UTC whatever zone the query used, so keys do not depend on
    how the API formats offsets; statistics the API left out are left out of the row.
    """
    for result in results:
        group = dict(result.get("group") or {})
        key = group_key(group)
        for bucket in result.get("data") or ():
            start_text, _, end_text = str(bucket.get("interval") or "").partition("/")
            interval_start = iso(parse_iso(start_text))
            interval_end = iso(parse_iso(end_text))
            for metric in bucket.get("metrics") or ():
                row: Record = {
                    "query_name": query_name,
                    "group_key": key,
                    "group": group,
                    "interval_start": interval_start,
                    "interval_end": interval_end,
                    "metric": metric.get("metric"),
                    "qualifier": metric.get("qualifier") or "",
                }
                stats = metric.get("stats") or {}
                row.update({name: stats[name] for name in STATS if name in stats})
                yield row
