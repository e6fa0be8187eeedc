"""Date windows: how the extraction range is cut into bounded, UTC-day-aligned chunks.

Pure functions over aware datetimes; the stream decides what to do with each window.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterator

UTC = dt.timezone.utc
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
MILLISECOND = dt.timedelta(milliseconds=1)


@dataclasses.dataclass(frozen=True, order=True)
class DateWindow:
    """A half-open UTC interval ``[start, end)``."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            msg = "DateWindow needs timezone-aware datetimes"
            raise ValueError(msg)
        if self.end <= self.start:
            msg = f"empty window {self.start.isoformat()} .. {self.end.isoformat()}"
            raise ValueError(msg)

    @property
    def interval(self) -> str:
        """The Genesys ``interval`` string, ``start/end`` in ISO-8601 with milliseconds."""
        return f"{iso(self.start)}/{iso(self.end)}"

    @property
    def day_matched_interval(self) -> str:
        """The interval for start-of-day matching: it ends at the last millisecond it covers.

        Whether an interval ending exactly at 00:00:00.000Z also "touches" the day that starts
        there is undocumented; ending a millisecond earlier means the same days either way.
        """
        return f"{iso(self.start)}/{iso(self.end - MILLISECOND)}"

    @property
    def duration(self) -> dt.timedelta:
        """Length of the window."""
        return self.end - self.start

    @property
    def is_day_aligned(self) -> bool:
        """Both ends on UTC midnight: start-of-day matching then selects exactly this window."""
        return _is_midnight(self.start) and _is_midnight(self.end)

    @property
    def days(self) -> list[dt.date]:
        """The UTC days this window touches."""
        first = self.start.date()
        last = (self.end - dt.timedelta(microseconds=1)).date()
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]

    def contains_text(self, timestamp: str) -> bool:
        """Whether an API timestamp (``YYYY-MM-DDTHH:MM:SS[.fff]Z``) lies in the window.

        Compares text, not parsed datetimes, because it runs once per record; the window's own
        bounds have zero sub-second parts, so comparing the first 19 characters is exact.
        """
        key = timestamp[:19]
        return self._start_key <= key < self._end_key

    @functools.cached_property
    def _start_key(self) -> str:
        return self.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")

    @functools.cached_property
    def _end_key(self) -> str:
        return self.end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def halves(self) -> list[DateWindow]:
        """Split in two on a day boundary when longer than a day, else on an hour boundary."""
        unit = DAY if self.duration >= 2 * DAY else HOUR
        units = int(self.duration / unit)
        if units < 2:
            return [self]
        middle = self.start + unit * (units // 2)
        return [DateWindow(self.start, middle), DateWindow(middle, self.end)]


def iso(value: dt.datetime) -> str:
    """Format an aware datetime as Genesys does: UTC, milliseconds, ``Z``."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> dt.datetime:
    """Parse an API or state timestamp into an aware UTC datetime."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_interval(interval: str) -> DateWindow:
    """Parse a Genesys ``start/end`` interval string."""
    start, _, end = interval.partition("/")
    return DateWindow(parse_iso(start), parse_iso(end))


def floor_day(value: dt.datetime) -> dt.datetime:
    """UTC midnight at or before ``value``."""
    utc = value.astimezone(UTC)
    return dt.datetime(utc.year, utc.month, utc.day, tzinfo=UTC)


def ceil_day(value: dt.datetime) -> dt.datetime:
    """UTC midnight at or after ``value``."""
    floor = floor_day(value)
    return floor if floor == value else floor + DAY


def plan_chunks(start: dt.datetime, end: dt.datetime, chunk_days: int) -> Iterator[DateWindow]:
    """Yield non-overlapping, UTC-day-aligned chunks of at most ``chunk_days`` covering the range.

    The first and last chunk are widened to whole days; records are still filtered to the exact
    ``[start, end)`` by the caller, so widening never emits a record outside the range.
    """
    if chunk_days < 1:
        msg = f"chunk_days must be at least 1, got {chunk_days}"
        raise ValueError(msg)
    cursor = floor_day(start)
    stop = ceil_day(end)
    step = dt.timedelta(days=chunk_days)
    while cursor < stop:
        nxt = min(cursor + step, stop)
        yield DateWindow(cursor, nxt)
        cursor = nxt


def split_for_limit(window: DateWindow, max_days: int) -> list[DateWindow]:
    """Cut a day-aligned window into pieces the details query accepts (7 or 31 days)."""
    pieces: list[DateWindow] = []
    cursor = window.start
    step = dt.timedelta(days=max_days)
    while cursor < window.end:
        nxt = min(cursor + step, window.end)
        pieces.append(DateWindow(cursor, nxt))
        cursor = nxt
    return pieces


def _is_midnight(value: dt.datetime) -> bool:
    utc = value.astimezone(UTC)
    return (utc.hour, utc.minute, utc.second, utc.microsecond) == (0, 0, 0, 0)


#: Where the grid of whole-cell windows starts: a Monday, so 7-day cells are ISO weeks.
GRID_EPOCH = dt.datetime(2000, 1, 3, tzinfo=UTC)


def grid_cell(at: dt.datetime, days: int, epoch: dt.datetime = GRID_EPOCH) -> DateWindow:
    """The cell of the grid of ``days``-long windows counted from ``epoch`` that holds ``at``.

    The grid depends only on ``days`` and the epoch, never on where a run starts or ends, so
    every run cuts the same cells and a record keyed by its cell is the same record each time.
    """
    if days < 1:
        msg = f"a grid cell must be at least 1 day long, got {days}"
        raise ValueError(msg)
    step = dt.timedelta(days=days)
    start = epoch + step * ((at.astimezone(UTC) - epoch) // step)
    return DateWindow(start, start + step)


def plan_grid(
    start: dt.datetime, end: dt.datetime, days: int, *, not_before: dt.datetime | None = None
) -> list[DateWindow]:
    """The grid cells from the one holding ``start`` up to ``end``; the last one cut at ``end``.

    The first window begins at its cell's start (or at ``not_before``, the earliest data asked
    for, when that is later), so a run that starts inside a cell reads the whole cell again.
    """
    if start >= end:
        return []
    cursor = grid_cell(start, days).start
    if not_before is not None:
        cursor = max(cursor, not_before)
    windows: list[DateWindow] = []
    while cursor < end:
        nxt = min(grid_cell(cursor, days).end, end)
        windows.append(DateWindow(cursor, nxt))
        cursor = nxt
    return windows
