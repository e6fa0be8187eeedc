"""Which conversations a job or query selects, in order, as a lazily scanned index range."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from .dataset import Dataset
from .filters import FilterError, conversation_matches, validate_filters
from .timeutil import day_ceil, day_floor, parse_interval

Json = dict[str, Any]

FILTER_KEYS = (
    "conversationFilters",
    "segmentFilters",
    "evaluationFilters",
    "surveyFilters",
    "resolutionFilters",
)
ORDERS = ("asc", "desc", "unordered")
ORDER_BYS = ("conversationStart", "conversationEnd", "segmentStart", "segmentEnd")


@dataclass
class FilterSet:
    """The five filter arrays of a detail query body."""

    conversation: list[Json] = field(default_factory=list)
    segment: list[Json] = field(default_factory=list)
    evaluation: list[Json] = field(default_factory=list)
    survey: list[Json] = field(default_factory=list)
    resolution: list[Json] = field(default_factory=list)

    @classmethod
    def from_body(cls, body: Json) -> FilterSet:
        """Validate and collect the filters of a request body (``FilterError`` on bad shape)."""
        return cls(*(validate_filters(key, body.get(key)) for key in FILTER_KEYS))

    def __bool__(self) -> bool:
        """Report whether any filter is present."""
        return any((self.conversation, self.segment, self.evaluation, self.survey, self.resolution))

    def matches(self, record: Json) -> bool:
        """Whether ``record`` passes all filters."""
        return bool(
            conversation_matches(
                record,
                self.conversation,
                self.segment,
                evaluation_filters=self.evaluation,
                survey_filters=self.survey,
                resolution_filters=self.resolution,
            )
        )


def validate_order(body: Json) -> bool:
    """Return True for descending order; raises ``FilterError`` on unknown values."""
    order = body.get("order", "asc")
    order_by = body.get("orderBy", "conversationStart")
    if order not in ORDERS:
        raise FilterError(f"order must be one of {', '.join(ORDERS)}")
    if order_by not in ORDER_BYS:
        raise FilterError(f"orderBy must be one of {', '.join(ORDER_BYS)}")
    return bool(order == "desc")


class ResultSource(Protocol):
    """What a job pages through: positions in result order and the items found there."""

    records_key: ClassVar[str]
    descending: bool

    def first_position(self) -> int:
        """Position where an in-order scan starts."""
        ...

    def items(self, position: int) -> Iterator[tuple[int, Json]]:
        """Yield ``(position, item)`` for matches from ``position`` onwards."""
        ...


@dataclass
class Selection:
    """A set of conversations: a candidate index range plus per-record checks.

    ``overlap`` is the job interval for lifetime-overlap matching (None for start-day
    matching, where the index range alone decides). Records are rendered at ``now_ms``.
    """

    records_key: ClassVar[str] = "conversations"

    ds: Dataset
    lo: int
    hi: int
    now_ms: int
    filters: FilterSet
    attributes: bool
    descending: bool = False
    overlap: tuple[int, int] | None = None

    @classmethod
    def build(
        cls,
        ds: Dataset,
        interval: object,
        *,
        start_day: bool,
        started_before: int,
        now_ms: int,
        filters: FilterSet,
        attributes: bool,
        descending: bool = False,
        end_inclusive: bool = False,
    ) -> Selection:
        """Map an interval to candidates; ``started_before`` is an exclusive start bound.

        ``end_inclusive``: under start-day matching an interval ending exactly at midnight
        also selects the day that starts there (the pessimistic reading of "touches").
        """
        try:
            a, b = parse_interval(interval)
        except ValueError as exc:
            raise FilterError(f"Invalid interval {interval!r}: {exc}") from exc
        if start_day:
            lo, hi = ds.index_at(day_floor(a)), ds.index_at(day_ceil(b + int(end_inclusive)))
            overlap = None
        else:
            lo, hi = ds.index_at(a - ds.max_duration_ms), ds.index_at(b)
            overlap = (a, b)
        hi = max(lo, min(hi, ds.index_at(started_before)))
        return cls(ds, lo, hi, now_ms, filters, attributes, descending, overlap)

    @property
    def simple(self) -> bool:
        """True when every candidate matches, so counts and offsets are pure arithmetic."""
        return self.overlap is None and not self.filters

    def first_position(self) -> int:
        """Index where an in-order scan starts."""
        return self.hi - 1 if self.descending else self.lo

    def record(self, i: int) -> Json:
        """Render conversation ``i`` as this selection returns it."""
        return self.ds.record(i, self.now_ms, attributes=self.attributes)

    def accept(self, i: int) -> tuple[bool, Json | None]:
        """Decide whether candidate ``i`` matches; returns the record if it had to be built."""
        if self.overlap is not None:
            core = self.ds.core(i)
            a, b = self.overlap
            if not (core.start_ms < b and min(core.end_ms, self.now_ms) > a):
                return False, None
        if not self.filters:
            return True, None
        record = self.record(i)
        return self.filters.matches(record), record

    def scan(self, position: int) -> Iterator[tuple[int, Json | None]]:
        """Yield matching ``(index, record-or-None)`` from ``position`` in result order."""
        step = -1 if self.descending else 1
        stop = self.lo - 1 if self.descending else self.hi
        for i in range(position, stop, step):
            ok, record = self.accept(i)
            if ok:
                yield i, record

    def items(self, position: int) -> Iterator[tuple[int, Json]]:
        """Yield matching ``(index, rendered record)`` from ``position`` in result order."""
        for i, record in self.scan(position):
            yield i, record if record is not None else self.record(i)

    def all_indices(self) -> Sequence[int]:
        """Every matching index in result order (used by the page-number query)."""
        if self.simple:
            if self.descending:
                return range(self.hi - 1, self.lo - 1, -1)
            return range(self.lo, self.hi)
        return [i for i, _ in self.scan(self.first_position())]


def with_repeats(indices: Sequence[int], share: float, seed: str) -> Sequence[int]:
    """A query's results as the index holds them: a seeded ``share`` of them twice, adjacent.

    The real query drops such duplicates server-side, page by page (``page_without_repeats``),
    which is why its pages can be short mid-stream (``query_repeat_share``).
    """
    if share <= 0:
        return indices
    out: list[int] = []
    for i in indices:
        out.append(i)
        h = hashlib.blake2b(f"{seed}:repeat:{i}".encode(), digest_size=8).digest()
        if int.from_bytes(h, "big") % 1_000_000 < share * 1_000_000:
            out.append(i)
    return out


def page_without_repeats(raw: Sequence[int], first: int, size: int) -> tuple[list[int], int]:
    """Page ``raw[first:first+size]`` with repeats within it dropped; also how many were."""
    page: list[int] = []
    seen: set[int] = set()
    for i in raw[first : first + size]:
        if i not in seen:
            seen.add(i)
            page.append(i)
    return page, min(size, max(0, len(raw) - first)) - len(page)
