"""Deterministic agent presence and routing-status timelines for user details endpoints.

Every (user, UTC day) gets its own seeded timeline, so any interval can be answered
without storing anything. A status is what the API reports: one record per change, served
whole (its own ``startTime``/``endTime``, never clipped to the interval asked for) to every
query or job whose interval it overlaps, so an agent offline over a weekend is one OFFLINE
record that jobs for Friday, Saturday and Monday all return. Only the data's edge cuts a
status: one still running at ``clip_ms`` has no ``endTime``.

The users details query pages what the API stores: one status record per user and UTC day.
Its ``totalHits`` counts those (user, day) records, and a page is a run of them merged into
one item per user, so a user whose days straddle two pages is in both (fact sheet §2: the count
is larger than what paging returns, duplicates are filtered out of each page).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import random
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .dataset import Dataset
from .filters import FilterError, item_lookup, node_matches, validate_filters
from .timeutil import DAY_MS, day_ceil, day_floor, iso, parse_interval

Json = dict[str, Any]
Span = tuple[int, int, str]

USER_FILTER_KEYS = ("userFilters", "presenceFilters", "routingStatusFilters")
MINUTE = 60_000
_PAUSES = (("BREAK", 15), ("MEAL", 30), ("MEETING", 45), ("AWAY", 8), ("TRAINING", 60))


def day_timeline(seed: int, user_index: int, day_start: int) -> tuple[list[Span], list[Span]]:
    """Presence and routing-status spans of one user on the UTC day starting at ``day_start``."""
    key = f"{seed}:user:{user_index}:{day_start // DAY_MS}".encode()
    rng = random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big"))
    day_end = day_start + DAY_MS
    weekday = (day_start // DAY_MS + 3) % 7 < 5  # 1970-01-01 was a Thursday
    if rng.random() > (0.85 if weekday else 0.2):
        return [(day_start, day_end, "OFFLINE")], [(day_start, day_end, "OFF_QUEUE")]
    shift_start = day_start + 6 * 3_600_000 + rng.randrange(240) * MINUTE + rng.randrange(60_000)
    shift_end = shift_start + 8 * 3_600_000
    presence: list[Span] = [(day_start, shift_start, "OFFLINE")]
    routing: list[Span] = [(day_start, shift_start, "OFF_QUEUE")]
    t = shift_start + rng.randrange(2, 10) * MINUTE
    presence.append((shift_start, t, "AVAILABLE"))
    routing.append((shift_start, t, "OFF_QUEUE"))
    while t < shift_end:
        block_end = min(shift_end, t + rng.randrange(30, 90) * MINUTE + rng.randrange(60_000))
        presence.append((t, block_end, "ON_QUEUE"))
        r = t
        interacting = False
        while r < block_end:
            nxt = min(block_end, r + rng.randrange(1, 20) * MINUTE + rng.randrange(60_000))
            routing.append((r, nxt, "INTERACTING" if interacting else "IDLE"))
            interacting = not interacting
            r = nxt
        t = block_end
        if t >= shift_end:
            break
        name, minutes = _PAUSES[rng.randrange(len(_PAUSES))]
        pause_end = min(shift_end, t + minutes * MINUTE)
        presence.append((t, pause_end, name))
        routing.append((t, pause_end, "OFF_QUEUE"))
        t = pause_end
    presence.append((shift_end, day_end, "OFFLINE"))
    routing.append((shift_end, day_end, "OFF_QUEUE"))
    return presence, routing


def _merge(spans: Sequence[Span]) -> list[Span]:
    """Adjacent spans with the same status as one: the API records changes, not days."""
    out: list[Span] = []
    for start, end, value in spans:
        if out and out[-1][2] == value and out[-1][1] == start:
            out[-1] = (out[-1][0], end, value)
        else:
            out.append((start, end, value))
    return out


def whole_spans(
    seed: int, user_index: int, start_ms: int, end_ms: int, *, clip_ms: int, which: int
) -> list[Span]:
    """One user's statuses (``which``: 0 presence, 1 routing) around ``[start, end)``, whole.

    The days the interval touches, widened day by day while a status runs across midnight:
    back without limit (a status began when it began), forward up to ``clip_ms``.
    """
    low = day_floor(start_ms)
    high = low
    spans: list[Span] = []
    while high < day_ceil(end_ms) and high <= clip_ms:
        spans += day_timeline(seed, user_index, high)[which]
        high += DAY_MS
    merged = _merge(spans)
    if not merged:
        return merged
    while merged[0][0] == low:
        before = _merge(day_timeline(seed, user_index, low - DAY_MS)[which])[-1]
        if before[2] != merged[0][2]:
            break
        low -= DAY_MS
        merged[0] = (before[0], merged[0][1], before[2])
    while merged[-1][1] == high and high <= clip_ms:
        after = _merge(day_timeline(seed, user_index, high)[which])[0]
        if after[2] != merged[-1][2]:
            break
        high += DAY_MS
        merged[-1] = (merged[-1][0], after[1], after[2])
    return merged


@dataclass
class UserSelection:
    """The user details a users query or job returns: one item per user with activity."""

    records_key: ClassVar[str] = "userDetails"

    ds: Dataset
    start_ms: int
    end_ms: int
    clip_ms: int
    user_filters: list[Json] = field(default_factory=list)
    presence_filters: list[Json] = field(default_factory=list)
    routing_filters: list[Json] = field(default_factory=list)
    descending: bool = False

    @classmethod
    def build(cls, ds: Dataset, body: Mapping[str, Any], clip_ms: int) -> UserSelection:
        """Validate a user details body; raises ``FilterError`` for a bad interval or filter."""
        try:
            a, b = parse_interval(body.get("interval"))
        except ValueError as exc:
            raise FilterError(f"Invalid interval {body.get('interval')!r}: {exc}") from exc
        user_f, presence_f, routing_f = (validate_filters(k, body.get(k)) for k in USER_FILTER_KEYS)
        order = body.get("order", "asc")
        if order not in ("asc", "desc", "unordered"):
            raise FilterError("order must be one of asc, desc, unordered")
        return cls(
            ds,
            a,
            b,
            clip_ms,
            user_filters=user_f,
            presence_filters=presence_f,
            routing_filters=routing_f,
            descending=order == "desc",
        )

    def first_position(self) -> int:
        """Index of the first user in result order."""
        return len(self.ds.pools.users) - 1 if self.descending else 0

    def _spans(self, spans: Sequence[Span], key: str, filters: list[Json]) -> list[Json]:
        out: list[Json] = []
        for start, end, value in spans:
            if end <= self.start_ms or start >= self.end_ms or start > self.clip_ms:
                continue
            item: Json = {"startTime": iso(start)}
            if end <= self.clip_ms:
                item["endTime"] = iso(end)
            item[key] = value
            if key == "systemPresence":
                item["organizationPresenceId"] = self.ds.pools.presence_id(value)
            if filters and not all(node_matches(f, item_lookup(item)) for f in filters):
                continue
            out.append(item)
        return out

    def detail(self, user_index: int) -> Json | None:
        """The ``AnalyticsUserDetail`` of one user, or None when nothing matches."""
        user = self.ds.pools.users[user_index]
        if self.user_filters and not all(
            node_matches(f, item_lookup({"userId": user["id"]})) for f in self.user_filters
        ):
            return None
        if day_floor(self.start_ms) > self.clip_ms:
            return None
        presence, routing = (
            whole_spans(
                self.ds.seed,
                user_index,
                self.start_ms,
                self.end_ms,
                clip_ms=self.clip_ms,
                which=which,
            )
            for which in (0, 1)
        )
        primary = self._spans(presence, "systemPresence", self.presence_filters)
        statuses = self._spans(routing, "routingStatus", self.routing_filters)
        if not primary and not statuses:
            return None
        out: Json = {"userId": user["id"]}
        if primary:
            out["primaryPresence"] = primary
        if statuses:
            out["routingStatus"] = statuses
        return out

    def query_hits(self) -> list[tuple[int, int]]:
        """The (user index, UTC day start) status records the users query counts and pages."""
        hits: list[tuple[int, int]] = []
        for i in self._order(self.first_position()):
            day = day_floor(self.start_ms)
            while day < day_ceil(self.end_ms) and day <= self.clip_ms:
                # Every timeline covers its whole day, so without filters every day is a hit.
                if not self.filtered or self._on_day(day).detail(i) is not None:
                    hits.append((i, day))
                day += DAY_MS
        return hits

    def query_page(self, hits: Sequence[tuple[int, int]]) -> list[Json]:
        """One page of the users query: each user's run of days on the page, as one item."""
        page: list[Json] = []
        for i, days in itertools.groupby(hits, key=lambda hit: hit[0]):
            first, *rest = (day for _, day in days)
            last = rest[-1] if rest else first
            detail = dataclasses.replace(
                self, start_ms=max(self.start_ms, first), end_ms=min(self.end_ms, last + DAY_MS)
            ).detail(i)
            if detail is not None:
                page.append(detail)
        return page

    @property
    def filtered(self) -> bool:
        """Whether the body had any filter (the users query then allows 31 days, not 7)."""
        return bool(self.user_filters or self.presence_filters or self.routing_filters)

    def _on_day(self, day: int) -> UserSelection:
        return dataclasses.replace(
            self, start_ms=max(self.start_ms, day), end_ms=min(self.end_ms, day + DAY_MS)
        )

    def items(self, position: int) -> Iterator[tuple[int, Json]]:
        """Yield ``(user index, detail)`` from ``position`` in result order."""
        for i in self._order(position):
            detail = self.detail(i)
            if detail is not None:
                yield i, detail

    def _order(self, position: int) -> range:
        step = -1 if self.descending else 1
        stop = -1 if self.descending else len(self.ds.pools.users)
        return range(position, stop, step)


class StatusLedger:
    """Which job first served each status that reaches past its job's interval.

    Only such a status can be served by two jobs whose intervals do not overlap (the tap's
    cells), so only those are remembered. ``note`` returns how many statuses of a served
    detail a different job already served (each job counted once): the duplicates a tap
    must not write twice, counted so a test can show they happened.
    """

    def __init__(self) -> None:
        self._jobs: dict[tuple[str, str, str], set[str]] = {}
        self._lock = threading.Lock()

    def note(self, job_id: str, selection: UserSelection, detail: Json) -> int:
        """Remember ``detail``'s statuses that cross ``selection``'s interval; count repeats."""
        start, end = iso(selection.start_ms), iso(selection.end_ms)
        repeats = 0
        with self._lock:
            for key, field_name in (
                ("primaryPresence", "systemPresence"),
                ("routingStatus", "routingStatus"),
            ):
                for item in detail.get(key) or ():
                    if item["startTime"] >= start and item.get("endTime", "~") <= end:
                        continue
                    status = (str(detail["userId"]), item["startTime"], item[field_name])
                    jobs = self._jobs.setdefault(status, set())
                    repeats += bool(jobs) and job_id not in jobs
                    jobs.add(job_id)
        return repeats
