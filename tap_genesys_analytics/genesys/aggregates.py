"""Conversation aggregate queries (§3 of the fact sheet): windows, bodies, flat rows.

Each named query of the ``aggregates`` setting (an :class:`AggregateQuery` of
``config.aggregates``) becomes ``ConversationAggregationQuery`` bodies over bounded windows,
and each ``results[].data[].metrics[]`` entry becomes one row keyed by (query name, group,
interval start, metric, qualifier). Nothing here imports the Singer SDK.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tap_genesys_analytics.config.aggregates import AggregateQuery
from tap_genesys_analytics.windows import DateWindow, iso, parse_iso

Record = dict[str, Any]
UTC = dt.timezone.utc
DAY = dt.timedelta(days=1)

AGGREGATES_PATH = "/api/v2/analytics/conversations/aggregates/query"
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


def window_days(query: AggregateQuery) -> int:
    """Days per request: at most :data:`MAX_WINDOW_DAYS` and :data:`MAX_BUCKETS` buckets."""
    return max(1, min(MAX_WINDOW_DAYS, (MAX_BUCKETS * query.step) // DAY))


def query_body(query: AggregateQuery, window: DateWindow) -> dict[str, Any]:
    """A ``ConversationAggregationQuery`` with only fields the API defines."""
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
    return body


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
