"""Conversation aggregate queries (§3 of the fact sheet): settings, windows, bodies, flat rows.

Each named query of the ``aggregates`` setting becomes ``ConversationAggregationQuery`` bodies
over bounded windows, and each ``results[].data[].metrics[]`` entry becomes one row keyed by
(query name, group, interval start, metric, qualifier). Nothing here imports the Singer SDK.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tap_genesys_analytics.windows import DateWindow, iso, parse_iso

Record = dict[str, Any]
UTC = dt.timezone.utc
DAY = dt.timedelta(days=1)

AGGREGATES_PATH = "/api/v2/analytics/conversations/aggregates/query"
DEFAULT_GRANULARITY = "PT30M"
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
QUERY_FIELDS = frozenset({"name", "group_by", "metrics", "granularity", "filter", "time_zone"})
_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


@dataclasses.dataclass(frozen=True)
class AggregateQuery:
    """One named query of the ``aggregates`` setting, validated."""

    name: str
    metrics: tuple[str, ...]
    group_by: tuple[str, ...] = ()
    granularity: str = DEFAULT_GRANULARITY
    filter: Mapping[str, Any] | None = None
    time_zone: str | None = None

    @property
    def step(self) -> dt.timedelta:
        """The granularity as a duration."""
        return parse_granularity(self.granularity)

    @property
    def zone(self) -> dt.tzinfo:
        """The zone whose midnights bound the windows (UTC unless ``time_zone`` is set)."""
        return ZoneInfo(self.time_zone) if self.time_zone else UTC

    @property
    def window_days(self) -> int:
        """Days per request: at most :data:`MAX_WINDOW_DAYS` and :data:`MAX_BUCKETS` buckets."""
        return max(1, min(MAX_WINDOW_DAYS, (MAX_BUCKETS * self.step) // DAY))

    def body(self, window: DateWindow) -> dict[str, Any]:
        """A ``ConversationAggregationQuery`` with only fields the API defines."""
        body: dict[str, Any] = {
            "interval": window.interval,
            "granularity": self.granularity,
            "groupBy": list(self.group_by),
            "metrics": list(self.metrics),
        }
        if self.filter:
            body["filter"] = dict(self.filter)
        if self.time_zone:
            body["timeZone"] = self.time_zone
        return body


def parse_granularity(text: str) -> dt.timedelta:
    """An ISO-8601 period of weeks, days, hours, minutes and seconds (``PT30M``, ``P1D``)."""
    match = _DURATION.match(text)
    if not match or text in {"P", "PT"} or text.endswith("T"):
        msg = f"granularity must be an ISO-8601 period such as PT30M or P1D, got {text!r}"
        raise ValueError(msg)
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    value = dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    if value <= dt.timedelta(0):
        msg = f"granularity must be longer than zero, got {text!r}"
        raise ValueError(msg)
    return value


def parse_aggregates(value: Any) -> tuple[AggregateQuery, ...]:
    """Validate the ``aggregates`` setting (a list, or its JSON text from an env variable).

    Raises ``ValueError`` with a sentence that names the query and the field to fix.
    """
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            msg = "aggregates must be a JSON array of named queries"
            raise ValueError(msg) from None
    if not isinstance(value, list) or not all(isinstance(q, Mapping) for q in value):
        msg = (
            'aggregates must be a list of queries such as {"name": "queue_daily", '
            '"group_by": ["queueId"], "metrics": ["nOffered", "tHandle"]}'
        )
        raise ValueError(msg)
    queries = tuple(_parse_query(i, raw) for i, raw in enumerate(value))
    names = [q.name for q in queries]
    if len(set(names)) != len(names):
        msg = "aggregates: every query needs its own name (the name is part of each row's key)"
        raise ValueError(msg)
    return queries


def _parse_query(index: int, raw: Mapping[str, Any]) -> AggregateQuery:
    name = raw.get("name")
    where = f"aggregates[{index}]"
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where} needs a name")
    where = f"aggregates query {name!r}"
    unknown = sorted(set(raw) - QUERY_FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    metrics = raw.get("metrics")
    if not _strings(metrics) or not metrics:
        raise ValueError(f"{where}: metrics must be a non-empty list of metric names")
    group_by = raw.get("group_by") or []
    if not _strings(group_by):
        raise ValueError(f"{where}: group_by must be a list of dimension names")
    granularity = raw.get("granularity") or DEFAULT_GRANULARITY
    try:
        step = parse_granularity(str(granularity))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if DAY % step:
        msg = (
            f"{where}: granularity {granularity} must divide a day (PT15M, PT30M, PT1H, P1D...) "
            "so that buckets line up with the day-aligned windows on every run"
        )
        raise ValueError(msg)
    flt = raw.get("filter")
    if flt is not None and not isinstance(flt, Mapping):
        raise ValueError(f"{where}: filter must be one Genesys filter object")
    time_zone = raw.get("time_zone") or None
    if time_zone is not None:
        try:
            ZoneInfo(str(time_zone))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{where}: time_zone {time_zone!r} is not an IANA zone") from None
    return AggregateQuery(
        name=name.strip(),
        metrics=tuple(metrics),
        group_by=tuple(group_by),
        granularity=str(granularity),
        filter=dict(flt) if flt else None,
        time_zone=str(time_zone) if time_zone else None,
    )


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


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
        nxt = min(day + dt.timedelta(days=query.window_days), last)
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
