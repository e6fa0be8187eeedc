"""The ``aggregates`` setting: named conversation aggregate queries, validated once at start-up.

Each query names its metrics, grouping, granularity (an ISO-8601 period that divides a day),
filter and time zone. What a query becomes on the wire (request bodies, windows, flat rows) is
``genesys.aggregates``; this module only reads and checks the setting.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.timezone.utc
DAY = dt.timedelta(days=1)

DEFAULT_GRANULARITY = "PT30M"
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
