"""Unit tests for the date-window arithmetic: chunk planning, splitting and text containment."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random

import pytest

from tap_genesys_analytics.windows import (
    GRID_EPOCH,
    DateWindow,
    ceil_day,
    floor_day,
    grid_cell,
    iso,
    parse_interval,
    parse_iso,
    plan_chunks,
    plan_grid,
    split_for_limit,
)

UTC = dt.timezone.utc
PLUS2 = dt.timezone(dt.timedelta(hours=2))
MINUS5 = dt.timezone(dt.timedelta(hours=-5))


def t(text: str) -> dt.datetime:
    """``2024-02-29`` or ``2024-02-29T10:30`` (naive text) -> aware UTC datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def w(start: str, end: str) -> DateWindow:
    return DateWindow(t(start), t(end))


def spans(windows: list[DateWindow]) -> list[tuple[str, str]]:
    return [(x.start.isoformat(), x.end.isoformat()) for x in windows]


def as_spans(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(t(a).isoformat(), t(b).isoformat()) for a, b in pairs]


# -- DateWindow basics ----------------------------------------------------------------------


def test_window_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DateWindow(dt.datetime(2024, 1, 1), t("2024-01-02"))
    with pytest.raises(ValueError, match="timezone-aware"):
        DateWindow(t("2024-01-01"), dt.datetime(2024, 1, 2))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-01-01", "2024-01-01"),
        ("2024-01-02", "2024-01-01"),
        ("2024-01-01T10:00", "2024-01-01T09:59"),
    ],
)
def test_window_rejects_empty_or_reversed(start: str, end: str) -> None:
    with pytest.raises(ValueError, match="empty window"):
        w(start, end)


@pytest.mark.parametrize(
    ("start", "end", "aligned"),
    [
        ("2024-02-29", "2024-03-01", True),
        ("2024-02-01", "2024-03-01", True),
        ("2024-02-29T00:00", "2024-02-29T01:00", False),
        ("2024-02-28T23:00", "2024-03-01", False),
    ],
)
def test_is_day_aligned(start: str, end: str, aligned: bool) -> None:
    assert w(start, end).is_day_aligned is aligned


def test_is_day_aligned_judges_utc_midnight_not_local_midnight() -> None:
    local_midnight = dt.datetime(2024, 3, 1, tzinfo=PLUS2)  # 22:00 UTC the day before
    assert not DateWindow(local_midnight, local_midnight + dt.timedelta(days=1)).is_day_aligned
    utc_midnight_in_plus2 = dt.datetime(2024, 3, 1, 2, tzinfo=PLUS2)
    assert DateWindow(
        utc_midnight_in_plus2, utc_midnight_in_plus2 + dt.timedelta(days=1)
    ).is_day_aligned


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        ("2024-02-29", "2024-03-01", ["2024-02-29"]),
        ("2024-02-28T12:00", "2024-03-01", ["2024-02-28", "2024-02-29"]),
        ("2024-02-28T12:00", "2024-03-01T00:00:01", ["2024-02-28", "2024-02-29", "2024-03-01"]),
        ("2023-12-31T23:00", "2024-01-01T01:00", ["2023-12-31", "2024-01-01"]),
        ("2024-05-05T10:00", "2024-05-05T11:00", ["2024-05-05"]),
    ],
)
def test_days_touched(start: str, end: str, days: list[str]) -> None:
    assert [d.isoformat() for d in w(start, end).days] == days


def test_duration_and_interval() -> None:
    window = w("2024-02-29", "2024-03-01")
    assert window.duration == dt.timedelta(days=1)
    assert window.interval == "2024-02-29T00:00:00.000Z/2024-03-01T00:00:00.000Z"


# -- iso / parse_iso / parse_interval -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (dt.datetime(2024, 2, 29, tzinfo=UTC), "2024-02-29T00:00:00.000Z"),
        (dt.datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC), "2024-02-29T23:59:59.999Z"),
        (dt.datetime(2024, 1, 1, 0, 0, 0, 1_000, tzinfo=UTC), "2024-01-01T00:00:00.001Z"),
        (dt.datetime(2024, 1, 1, 0, 0, 0, 999, tzinfo=UTC), "2024-01-01T00:00:00.000Z"),
        (dt.datetime(2024, 3, 1, 1, 30, tzinfo=PLUS2), "2024-02-29T23:30:00.000Z"),
        (dt.datetime(2023, 12, 31, 20, 0, tzinfo=MINUS5), "2024-01-01T01:00:00.000Z"),
    ],
)
def test_iso(value: dt.datetime, text: str) -> None:
    assert iso(value) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-02-29T23:59:59.999Z", dt.datetime(2024, 2, 29, 23, 59, 59, 999_000, tzinfo=UTC)),
        ("2024-02-29T00:00:00Z", dt.datetime(2024, 2, 29, tzinfo=UTC)),
        ("2024-03-01T01:30:00+02:00", dt.datetime(2024, 2, 29, 23, 30, tzinfo=UTC)),
        ("2024-02-29T12:00:00", dt.datetime(2024, 2, 29, 12, tzinfo=UTC)),
        ("  2024-02-29T12:00:00.000Z\n", dt.datetime(2024, 2, 29, 12, tzinfo=UTC)),
    ],
)
def test_parse_iso(text: str, expected: dt.datetime) -> None:
    parsed = parse_iso(text)
    assert parsed == expected
    assert parsed.utcoffset() == dt.timedelta(0)


def test_parse_interval_round_trips_interval() -> None:
    window = w("2024-02-27T06:00", "2024-03-02")
    assert parse_interval(window.interval) == window
    assert parse_interval("2024-02-29T00:00:00.000Z/2024-03-01T00:00:00.000Z") == w(
        "2024-02-29", "2024-03-01"
    )


def test_parse_interval_rejects_reversed_interval() -> None:
    with pytest.raises(ValueError, match="empty window"):
        parse_interval("2024-03-01T00:00:00.000Z/2024-02-29T00:00:00.000Z")


# -- floor_day / ceil_day -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "floor", "ceil"),
    [
        (t("2024-02-29"), "2024-02-29", "2024-02-29"),
        (t("2024-02-29T00:00:00.000001"), "2024-02-29", "2024-03-01"),
        (t("2024-02-29T23:59:59.999999"), "2024-02-29", "2024-03-01"),
        (t("2023-02-28T12:00"), "2023-02-28", "2023-03-01"),
        (t("2023-12-31T18:00"), "2023-12-31", "2024-01-01"),
        (t("2024-01-31T00:01"), "2024-01-31", "2024-02-01"),
        # 01:00 at +02:00 is 23:00 UTC the previous day.
        (dt.datetime(2024, 3, 1, 1, 0, tzinfo=PLUS2), "2024-02-29", "2024-03-01"),
        # 02:00 at +02:00 is exactly UTC midnight.
        (dt.datetime(2024, 3, 1, 2, 0, tzinfo=PLUS2), "2024-03-01", "2024-03-01"),
        # 20:00 at -05:00 is 01:00 UTC the next day.
        (dt.datetime(2023, 12, 31, 20, 0, tzinfo=MINUS5), "2024-01-01", "2024-01-02"),
    ],
)
def test_floor_and_ceil_day(value: dt.datetime, floor: str, ceil: str) -> None:
    assert floor_day(value) == t(floor)
    assert ceil_day(value) == t(ceil)
    assert floor_day(value).tzinfo == UTC
    assert ceil_day(value).tzinfo == UTC


# -- plan_chunks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "chunk_days", "expected"),
    [
        pytest.param(
            "2024-01-29",
            "2024-02-03",
            2,
            ["2024-01-29", "2024-01-31", "2024-02-02", "2024-02-03"],
            id="over-january-end",
        ),
        pytest.param(
            "2024-04-28T08:00",
            "2024-05-02T08:00",
            7,
            ["2024-04-28", "2024-05-03"],
            id="over-30-day-month-end-partial",
        ),
        pytest.param(
            "2024-02-27",
            "2024-03-02",
            2,
            ["2024-02-27", "2024-02-29", "2024-03-02"],
            id="leap-day-inside-a-chunk",
        ),
        pytest.param(
            "2024-02-28",
            "2024-03-02",
            1,
            ["2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"],
            id="leap-day-own-chunk",
        ),
        pytest.param(
            "2024-02-29T13:00",
            "2024-02-29T14:00",
            7,
            ["2024-02-29", "2024-03-01"],
            id="within-the-leap-day",
        ),
        pytest.param(
            "2023-02-27",
            "2023-03-02",
            1,
            ["2023-02-27", "2023-02-28", "2023-03-01", "2023-03-02"],
            id="no-leap-day-in-2023",
        ),
        pytest.param(
            "2023-12-30",
            "2024-01-02",
            2,
            ["2023-12-30", "2024-01-01", "2024-01-02"],
            id="over-year-end",
        ),
        pytest.param(
            "2024-03-10", "2024-03-11", 7, ["2024-03-10", "2024-03-11"], id="one-whole-day"
        ),
        pytest.param(
            "2024-03-10T06:00",
            "2024-03-12T18:30",
            7,
            ["2024-03-10", "2024-03-13"],
            id="partial-days-widened",
        ),
        pytest.param(
            "2024-03-10T06:00",
            "2024-03-12T18:30",
            1,
            ["2024-03-10", "2024-03-11", "2024-03-12", "2024-03-13"],
            id="partial-days-one-day-chunks",
        ),
        pytest.param(
            "2024-03-10T10:15",
            "2024-03-10T10:45",
            1,
            ["2024-03-10", "2024-03-11"],
            id="range-within-one-day",
        ),
        pytest.param(
            "2024-03-10T23:59:59",
            "2024-03-11T00:00:01",
            7,
            ["2024-03-10", "2024-03-12"],
            id="two-seconds-across-midnight",
        ),
        pytest.param(
            "2024-01-01",
            "2024-01-04",
            31,
            ["2024-01-01", "2024-01-04"],
            id="chunk-larger-than-range",
        ),
        pytest.param(
            "2024-01-01",
            "2024-01-15",
            7,
            ["2024-01-01", "2024-01-08", "2024-01-15"],
            id="exact-multiple",
        ),
        pytest.param(
            "2024-01-01",
            "2024-01-16",
            7,
            ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-16"],
            id="short-last-chunk",
        ),
        pytest.param("2024-01-01", "2024-01-01", 7, [], id="empty-range-at-midnight"),
        pytest.param("2024-01-05", "2024-01-01", 7, [], id="reversed-range"),
    ],
)
def test_plan_chunks_table(start: str, end: str, chunk_days: int, expected: list[str]) -> None:
    """``expected`` lists the chunk bounds: chunk i is ``[expected[i], expected[i + 1])``."""
    assert spans(list(plan_chunks(t(start), t(end), chunk_days))) == as_spans(
        list(itertools.pairwise(expected))
    )


def test_plan_chunks_with_non_utc_bounds() -> None:
    # 2024-03-01T01:00+02:00 is 2024-02-29T23:00Z; 2024-03-01T03:00+02:00 is 2024-03-01T01:00Z.
    start = dt.datetime(2024, 3, 1, 1, tzinfo=PLUS2)
    end = dt.datetime(2024, 3, 1, 3, tzinfo=PLUS2)
    assert spans(list(plan_chunks(start, end, 1))) == as_spans(
        [("2024-02-29", "2024-03-01"), ("2024-03-01", "2024-03-02")]
    )


@pytest.mark.parametrize("chunk_days", [0, -1, -7])
def test_plan_chunks_rejects_chunk_days_below_one(chunk_days: int) -> None:
    with pytest.raises(ValueError, match="chunk_days"):
        list(plan_chunks(t("2024-01-01"), t("2024-02-01"), chunk_days))


def _random_instant(rng: random.Random) -> dt.datetime:
    base = dt.datetime(2023, 1, 1, tzinfo=UTC)
    offset = dt.timedelta(
        seconds=rng.randrange(0, 3 * 366 * 86400), microseconds=rng.randrange(10**6)
    )
    tz = rng.choice([UTC, PLUS2, MINUS5])
    if rng.random() < 0.3:  # plenty of exact midnights, where off-by-one errors live
        return floor_day(base + offset).astimezone(tz)
    return (base + offset).astimezone(tz)


@pytest.mark.parametrize("seed", range(4))
def test_plan_chunks_properties(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(150):
        start = _random_instant(rng)
        end = start + dt.timedelta(seconds=rng.randrange(1, 120 * 86400))
        if rng.random() < 0.2:
            end = start + dt.timedelta(seconds=rng.randrange(1, 86400))
        chunk_days = rng.randint(1, 31)
        chunks = list(plan_chunks(start, end, chunk_days))
        case = (start.isoformat(), end.isoformat(), chunk_days)

        assert chunks, case
        # Coverage: exactly [floor_day(start), ceil_day(end)).
        assert chunks[0].start == floor_day(start), case
        assert chunks[-1].end == ceil_day(end), case
        # Contiguous and non-overlapping.
        for before, after in itertools.pairwise(chunks):
            assert before.end == after.start, case
        # Bounded, day-aligned, ordered, and no more chunks than necessary.
        for chunk in chunks:
            assert chunk.is_day_aligned, case
            assert dt.timedelta(0) < chunk.duration <= dt.timedelta(days=chunk_days), case
        total_days = (ceil_day(end) - floor_day(start)).days
        assert len(chunks) == math.ceil(total_days / chunk_days), case
        assert sum(c.duration.days for c in chunks) == total_days, case
        # The exact range is inside the chunks.
        assert chunks[0].start <= start < chunks[0].end, case
        assert chunks[-1].start < end <= chunks[-1].end, case


# -- split_for_limit ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "max_days", "lengths"),
    [
        ("2024-01-01", "2024-02-01", 7, [7, 7, 7, 7, 3]),
        ("2024-02-01", "2024-03-01", 7, [7, 7, 7, 7, 1]),  # 29 days in leap February
        ("2023-02-01", "2023-03-01", 7, [7, 7, 7, 7]),
        ("2024-01-01", "2024-02-01", 31, [31]),
        ("2024-01-01", "2024-03-01", 31, [31, 29]),
        ("2024-01-01", "2024-01-04", 7, [3]),
        ("2024-02-29", "2024-03-01", 1, [1]),
    ],
)
def test_split_for_limit(start: str, end: str, max_days: int, lengths: list[int]) -> None:
    window = w(start, end)
    pieces = split_for_limit(window, max_days)
    assert [p.duration.days for p in pieces] == lengths
    assert pieces[0].start == window.start
    assert pieces[-1].end == window.end
    for before, after in itertools.pairwise(pieces):
        assert before.end == after.start
    assert all(p.is_day_aligned for p in pieces)


# -- halves ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "middle"),
    [
        ("2024-01-01", "2024-01-08", "2024-01-04"),
        ("2024-02-27", "2024-03-02", "2024-02-29"),
        ("2024-02-28", "2024-03-01", "2024-02-29"),
        ("2024-02-29", "2024-03-01", "2024-02-29T12:00"),
        ("2024-02-29T00:00", "2024-02-29T12:00", "2024-02-29T06:00"),
        ("2024-02-29T00:00", "2024-02-29T03:00", "2024-02-29T01:00"),
        ("2024-02-29T05:00", "2024-02-29T07:00", "2024-02-29T06:00"),
    ],
)
def test_halves_split_point(start: str, end: str, middle: str) -> None:
    window = w(start, end)
    first, second = window.halves()
    assert first == DateWindow(window.start, t(middle))
    assert second == DateWindow(t(middle), window.end)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-02-29T05:00", "2024-02-29T06:00"),
        ("2024-02-29T05:00", "2024-02-29T05:30"),
        ("2024-02-29T05:00", "2024-02-29T06:59"),
    ],
)
def test_halves_stops_at_one_hour(start: str, end: str) -> None:
    window = w(start, end)
    assert window.halves() == [window]


def _halve_to_leaves(window: DateWindow) -> list[DateWindow]:
    parts = window.halves()
    if parts == [window]:
        return [window]
    assert len(parts) == 2
    return [leaf for part in parts for leaf in _halve_to_leaves(part)]


@pytest.mark.parametrize(
    ("start", "end"),
    [("2024-02-26", "2024-03-04"), ("2024-02-29", "2024-03-01"), ("2023-12-31", "2024-01-31")],
)
def test_repeated_halving_reaches_one_hour_pieces(start: str, end: str) -> None:
    window = w(start, end)
    leaves = _halve_to_leaves(window)
    assert all(leaf.duration == dt.timedelta(hours=1) for leaf in leaves)
    assert len(leaves) == window.duration // dt.timedelta(hours=1)
    assert leaves[0].start == window.start
    assert leaves[-1].end == window.end
    for before, after in itertools.pairwise(leaves):
        assert before.end == after.start


def test_halves_of_multi_day_window_stay_day_aligned() -> None:
    for days in range(2, 32):
        window = DateWindow(t("2024-02-01"), t("2024-02-01") + dt.timedelta(days=days))
        first, second = window.halves()
        assert first.is_day_aligned
        assert second.is_day_aligned
        assert abs(first.duration.days - second.duration.days) <= 1


def test_halves_splits_a_36_hour_window() -> None:
    window = w("2024-02-29", "2024-03-01T12:00")
    parts = window.halves()
    assert len(parts) == 2
    assert parts[0].end == parts[1].start


# -- contains_text --------------------------------------------------------------------------

DAY_WINDOW = w("2024-02-29", "2024-03-01")
HOUR_WINDOW = w("2024-03-31T23:00", "2024-04-01T00:00")


@pytest.mark.parametrize(
    ("window", "timestamp", "inside"),
    [
        (DAY_WINDOW, "2024-02-29T00:00:00Z", True),
        (DAY_WINDOW, "2024-02-29T00:00:00.000Z", True),
        (DAY_WINDOW, "2024-02-29T00:00:00.001Z", True),
        (DAY_WINDOW, "2024-02-28T23:59:59Z", False),
        (DAY_WINDOW, "2024-02-28T23:59:59.999Z", False),
        (DAY_WINDOW, "2024-02-29T12:34:56.789Z", True),
        (DAY_WINDOW, "2024-02-29T23:59:59Z", True),
        (DAY_WINDOW, "2024-02-29T23:59:59.999Z", True),
        (DAY_WINDOW, "2024-03-01T00:00:00Z", False),
        (DAY_WINDOW, "2024-03-01T00:00:00.000Z", False),
        (DAY_WINDOW, "2024-03-01T00:00:00.001Z", False),
        (DAY_WINDOW, "2024-03-01T00:00:01Z", False),
        (HOUR_WINDOW, "2024-03-31T23:00:00.000Z", True),
        (HOUR_WINDOW, "2024-03-31T22:59:59.999Z", False),
        (HOUR_WINDOW, "2024-03-31T23:59:59.999Z", True),
        (HOUR_WINDOW, "2024-04-01T00:00:00Z", False),
        (HOUR_WINDOW, "2024-04-01T00:00:00.000Z", False),
    ],
)
def test_contains_text_boundaries(window: DateWindow, timestamp: str, inside: bool) -> None:
    assert window.contains_text(timestamp) is inside


def test_contains_text_agrees_with_datetime_comparison() -> None:
    rng = random.Random(7)
    window = w("2024-02-28T06:00", "2024-03-01T18:00")
    span = int((window.duration + dt.timedelta(days=2)).total_seconds() * 1000)
    origin = window.start - dt.timedelta(days=1)
    for _ in range(3000):
        instant = origin + dt.timedelta(milliseconds=rng.randrange(span))
        if rng.random() < 0.1:  # land exactly on a bound
            instant = rng.choice([window.start, window.end])
        text = iso(instant) if rng.random() < 0.5 else instant.strftime("%Y-%m-%dT%H:%M:%SZ")
        expected = window.start <= parse_iso(text) < window.end
        assert window.contains_text(text) is expected, text


def test_contains_text_compares_in_utc_for_non_utc_bounds() -> None:
    # [2024-03-01T02:00+02:00, 2024-03-02T02:00+02:00) is the UTC day 2024-03-01.
    window = DateWindow(
        dt.datetime(2024, 3, 1, 2, tzinfo=PLUS2), dt.datetime(2024, 3, 2, 2, tzinfo=PLUS2)
    )
    assert window.contains_text("2024-03-01T00:00:00.000Z")
    assert window.contains_text("2024-03-01T23:59:59.999Z")
    assert not window.contains_text("2024-02-29T23:59:59.999Z")
    assert not window.contains_text("2024-03-02T00:00:00.000Z")
    assert not window.contains_text("2024-03-02T01:00:00.000Z")


# -- the grid of user details windows --------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "days", "cell"),
    [
        ("2000-01-03", 7, ("2000-01-03", "2000-01-10")),  # the epoch is a Monday
        ("2024-01-01", 7, ("2024-01-01", "2024-01-08")),  # so 7-day cells are ISO weeks
        ("2024-01-07T23:59:59", 7, ("2024-01-01", "2024-01-08")),
        ("2024-01-01", 15, ("2023-12-28", "2024-01-12")),
        ("2024-02-29T12:00", 1, ("2024-02-29", "2024-03-01")),
        ("1999-12-31", 7, ("1999-12-27", "2000-01-03")),  # before the epoch
    ],
)
def test_grid_cell(at: str, days: int, cell: tuple[str, str]) -> None:
    assert grid_cell(t(at), days) == w(*cell)


def test_grid_cell_rejects_days_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        grid_cell(GRID_EPOCH, 0)


@pytest.mark.parametrize(
    ("start", "end", "days", "not_before", "expected"),
    [
        # A run that starts or ends inside a cell: the start snaps back, the end is cut.
        ("2024-01-04", "2024-01-18", 7, None, ["01-01..01-08", "01-08..01-15", "01-15..01-18"]),
        ("2024-01-15", "2024-01-22", 7, None, ["01-15..01-22"]),
        # ... but never before the earliest data asked for.
        ("2024-01-01", "2024-01-20", 15, "2024-01-01", ["01-01..01-12", "01-12..01-20"]),
        ("2024-01-13", "2024-01-20", 15, "2024-01-01", ["01-12..01-20"]),
        ("2024-01-10", "2024-01-10", 7, None, []),
    ],
)
def test_plan_grid(
    start: str, end: str, days: int, not_before: str | None, expected: list[str]
) -> None:
    floor = t(not_before) if not_before else None
    windows = plan_grid(t(start), t(end), days, not_before=floor)
    assert [f"{x.start:%m-%d}..{x.end:%m-%d}" for x in windows] == expected


@pytest.mark.parametrize("seed", range(20))
def test_plan_grid_windows_of_any_run_lie_in_the_same_cells(seed: int) -> None:
    rng = random.Random(seed)
    days = rng.randint(1, 31)
    start = t("2024-01-01") + dt.timedelta(days=rng.randrange(200))
    end = start + dt.timedelta(days=rng.randint(1, 120))
    windows = plan_grid(start, end, days)
    assert windows[0].start <= start
    assert windows[-1].end == end
    for a, b in itertools.pairwise(windows):
        assert a.end == b.start
    for window in windows:
        cell = grid_cell(window.start, days)
        assert cell.start == window.start
        assert window.end <= cell.end
        assert window.end == cell.end or window is windows[-1]
