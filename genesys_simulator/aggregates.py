"""Conversation aggregates computed from the same generated conversations as the details.

Metrics are bucketed by their ``emitDate`` and grouped by the dimensions of the session
that emitted them, so aggregate totals agree with the detail records.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .dataset import Dataset
from .directory import SERVICE_LEVEL_TARGET
from .filters import FilterError, node_matches, validate_filters
from .timeutil import iso, parse_interval, parse_iso

Json = dict[str, Any]

AGGREGATE_KEYS = frozenset(
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
        "queryType",
        "sortMetric",
        "limit",
    }
)
GROUP_DIMENSIONS = frozenset(
    {
        "conversationId",
        "direction",
        "divisionId",
        "mediaType",
        "originatingDirection",
        "participantName",
        "purpose",
        "queueId",
        "userId",
        "wrapUpCode",
        "externalTag",
    }
)
METRICS = frozenset(
    {
        "nOffered",
        "nConnected",
        "nTransferred",
        "nFlow",
        "tAlert",
        "tAnswered",
        "tAbandon",
        "tAcd",
        "tTalk",
        "tTalkComplete",
        "tHeld",
        "tHeldComplete",
        "tAcw",
        "tHandle",
        "tIvr",
        "tFlow",
        "tAgentResponseTime",
        "nOverSla",
        "nOutbound",
        "tShortAbandon",
        "tFlowOut",
        "tNotResponding",
        "tDialing",
        "tContacting",
        "oServiceLevel",
    }
)
#: The API's bucket limit is not documented (fact sheet §3); the simulator refuses more than
#: the tap assumes (``Faults.aggregate_max_buckets``, the tap's ``MAX_BUCKETS``).
MAX_BUCKETS = 2000
DAY_MS = 86_400_000
_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_granularity(text: object) -> int:
    """ISO-8601 period (weeks, days, hours, minutes, seconds) to milliseconds."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or text in ("P", "PT"):
        raise FilterError(f"Invalid granularity {text!r}")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    ms = ((((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000
    if ms <= 0:
        raise FilterError(f"Invalid granularity {text!r}")
    return ms


def _stats(name: str, values: list[int]) -> Json:
    """``StatisticalSummary`` of one metric in one bucket; absent statistics are omitted.

    Counts carry ``count``, timings ``max/min/count/sum`` (fact sheet §3, QH example). An
    observation ratio carries ``ratio/numerator/denominator/target`` (``StatisticalSummary``
    fields). ``p95``/``p99`` are never served: no request field that asks for percentiles was
    found, so the simulator does not invent one (the defensive reading: absent unless asked).
    """
    if name.startswith("n"):
        return {"count": sum(values)}
    if name == "oServiceLevel":
        hits = sum(values)
        return {
            "ratio": hits / len(values),
            "numerator": hits,
            "denominator": len(values),
            "target": SERVICE_LEVEL_TARGET,
        }
    return {"max": max(values), "min": min(values), "count": len(values), "sum": sum(values)}


def _observations(metrics: list[Json], wanted: set[str]) -> list[Json]:
    """The session's detail metrics plus the derived ``oServiceLevel`` observations.

    ``oServiceLevel`` is no detail metric; the API derives it per queue visit. How the org's
    service-level calculation treats abandons was not found; we take the default reading that
    the denominator is answered plus abandoned visits (short abandons included, flow-outs not)
    and the numerator the visits answered within the queue's target (no ``nOverSla``). An
    answered visit counts when it leaves the queue (``tAcd``), an abandon when it abandons.
    """
    if "oServiceLevel" not in wanted:
        return metrics
    over = any(m["name"] == "nOverSla" for m in metrics)
    derived = [
        {"name": "oServiceLevel", "value": 0 if over else 1, "emitDate": m["emitDate"]}
        for m in metrics
        if m["name"] == "tAcd"
    ] + [
        {"name": "oServiceLevel", "value": 0, "emitDate": m["emitDate"]}
        for m in metrics
        if m["name"] == "tAbandon"
    ]
    return metrics + derived


def _session_context(conv: Mapping[str, Any], participant: Json, session: Json) -> Json:
    segments = session.get("segments", [])
    ctx: Json = {
        "conversationId": conv["conversationId"],
        "originatingDirection": conv.get("originatingDirection"),
        "divisionId": (conv.get("divisionIds") or [None])[0],
        "externalTag": conv.get("externalTag"),
        "purpose": participant.get("purpose"),
        "participantName": participant.get("participantName"),
        "userId": participant.get("userId"),
        "mediaType": session.get("mediaType"),
        "direction": session.get("direction"),
        "ani": session.get("ani"),
        "dnis": session.get("dnis"),
        "queueId": next((s["queueId"] for s in segments if "queueId" in s), None),
        "wrapUpCode": next((s["wrapUpCode"] for s in segments if "wrapUpCode" in s), None),
    }
    return {k: v for k, v in ctx.items() if v is not None}


class BucketLimitError(FilterError):
    """The query asks for more buckets than the limit."""


def _zone(name: object) -> timezone | ZoneInfo:
    if name is None:
        return timezone.utc
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise FilterError(f"Invalid timeZone {name!r}") from exc


def bucket_bounds(a: int, b: int, gran: int, zone: timezone | ZoneInfo) -> list[int]:
    """Bucket boundaries from ``a`` to ``b`` (epoch ms), ``b`` included.

    A granularity of whole days steps in the query's ``timeZone`` calendar, so a bucket over a
    DST change lasts 23 or 25 hours (fact sheet §3: the zone sets boundaries across DST);
    shorter granularities are fixed durations.
    """
    bounds = [a]
    if gran % DAY_MS == 0 and zone is not timezone.utc:
        local = datetime.fromtimestamp(a / 1000, zone)
        step = 1
        while bounds[-1] < b:
            wall = (local.replace(tzinfo=None) + timedelta(days=step * gran // DAY_MS)).replace(
                tzinfo=zone
            )
            bounds.append(min(b, int(wall.timestamp() * 1000)))
            step += 1
        return bounds
    while bounds[-1] < b:
        bounds.append(min(b, bounds[-1] + gran))
    return bounds


@dataclass(frozen=True)
class Frame:
    """The interval of an aggregates query and its bucket boundaries (epoch ms)."""

    start: int
    end: int
    bounds: list[int]

    def bucket(self, t: int) -> int | None:
        """The bucket holding moment ``t``, None outside the interval."""
        if not self.start <= t < self.end:
            return None
        return bisect.bisect_right(self.bounds, t) - 1

    def interval(self, bucket: int) -> str:
        """The ``interval`` string of a bucket as the API writes it."""
        return f"{iso(self.bounds[bucket])}/{iso(self.bounds[bucket + 1])}"

    def split(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """``(bucket, ms)``: how much of ``[start, end)`` falls in each bucket it overlaps."""
        start, end = max(start, self.start), min(end, self.end)
        if start >= end:
            return
        k = bisect.bisect_right(self.bounds, start) - 1
        while k < len(self.bounds) - 1 and self.bounds[k] < end:
            part = min(end, self.bounds[k + 1]) - max(start, self.bounds[k])
            if part > 0:
                yield k, part
            k += 1


def frame(body: Mapping[str, Any], max_buckets: int, keys: frozenset[str]) -> Frame:
    """Check the body's fields, interval, granularity, time zone and bucket count.

    Shared by every aggregates subject: the same request fields (``keys``), the same
    ``timeZone`` calendar for day buckets (DST days last 23 or 25 hours), the same limit.
    """
    unknown = sorted(set(body) - keys)
    if unknown:
        raise FilterError(f'Unrecognized field "{unknown[0]}" is not allowed in the request body.')
    try:
        a, b = parse_interval(body.get("interval"))
    except ValueError as exc:
        raise FilterError(f"Invalid interval {body.get('interval')!r}: {exc}") from exc
    gran = parse_granularity(body["granularity"]) if body.get("granularity") else b - a
    zone = _zone(body.get("timeZone"))
    if -(-(b - a) // gran) > max_buckets + 1:
        raise BucketLimitError(f"The query would produce more than {max_buckets} intervals")
    bounds = bucket_bounds(a, b, gran, zone)
    if len(bounds) - 1 > max_buckets:
        raise BucketLimitError(f"The query would produce more than {max_buckets} intervals")
    return Frame(a, b, bounds)


def aggregate(
    ds: Dataset, body: Mapping[str, Any], now_ms: int, max_buckets: int = MAX_BUCKETS
) -> Json:
    """Answer a ``ConversationAggregationQuery``; raises ``FilterError`` for a bad body."""
    fr = frame(body, max_buckets, AGGREGATE_KEYS)
    a, b, bounds = fr.start, fr.end, fr.bounds
    group_by = body.get("groupBy") or []
    if not isinstance(group_by, list) or not set(group_by) <= GROUP_DIMENSIONS:
        raise FilterError(f"groupBy supports only: {', '.join(sorted(GROUP_DIMENSIONS))}")
    metrics = body.get("metrics") or []
    if not isinstance(metrics, list) or not metrics or not set(metrics) <= METRICS:
        raise FilterError(f"metrics must be a non-empty list of: {', '.join(sorted(METRICS))}")
    flt = body.get("filter")
    filters = validate_filters("filter", [flt]) if flt is not None else []
    wanted = set(metrics)

    acc: dict[tuple[Any, ...], dict[int, dict[str, list[int]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    lo = ds.index_at(a - ds.max_duration_ms)
    hi = ds.index_at(min(b, now_ms + 1))
    for i in range(lo, hi):
        if ds.core(i).end_ms < a:
            continue
        conv = ds.record(i, now_ms, attributes=False)
        for participant in conv.get("participants", []):
            for session in participant.get("sessions", []):
                ctx: Json | None = None
                for metric in _observations(session.get("metrics", []), wanted):
                    if metric["name"] not in wanted:
                        continue
                    t = parse_iso(metric["emitDate"])
                    if not a <= t < b:
                        continue
                    if ctx is None:
                        ctx = _session_context(conv, participant, session)
                        if filters and not node_matches(filters[0], _lookup(ctx)):
                            break
                    key = tuple((d, ctx[d]) for d in group_by if d in ctx)
                    bucket = bisect.bisect_right(bounds, t) - 1
                    acc[key][bucket][metric["name"]].append(metric["value"])
    results = []
    for key in sorted(acc, key=lambda k: [str(v) for v in k]):
        data = []
        for bucket in sorted(acc[key]):
            per_metric = acc[key][bucket]
            data.append(
                {
                    "interval": f"{iso(bounds[bucket])}/{iso(bounds[bucket + 1])}",
                    "metrics": [
                        {"metric": m, "stats": _stats(m, per_metric[m])}
                        for m in metrics
                        if m in per_metric
                    ],
                }
            )
        results.append({"group": dict(key), "data": data})
    return {"results": results} if results else {}


def _lookup(ctx: Json) -> Any:
    def lookup(pred: Mapping[str, Any]) -> list[Any]:
        value = ctx.get(str(pred.get("dimension")))
        return [] if value is None else [value]

    return lookup
