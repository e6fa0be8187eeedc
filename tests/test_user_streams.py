"""User details over the users details jobs, and the flat presence/routing-status tables."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from genesys_simulator import Simulator
from genesys_simulator.users import UserSelection
from tap_genesys_analytics import users
from tap_genesys_analytics.chunks import ChunkRunner, ExtractSpec
from tap_genesys_analytics.client import Page
from tap_genesys_analytics.errors import ExtractionError
from tap_genesys_analytics.settings import Settings
from tap_genesys_analytics.windows import DateWindow, iso, plan_chunks
from tests.selection import catalog_selecting
from tests.support import day, run_tap, sim_config

USER_STREAMS = ("user_details", "user_presence", "user_routing_status")
CHILD_KEYS = {
    "user_presence": ("userId", "startTime", "systemPresence"),
    "user_routing_status": ("userId", "startTime", "routingStatus"),
}


def user_truth(sim: Simulator, start: str, end: str, chunk_days: int = 7) -> list[dict[str, Any]]:
    """What the users details jobs hold for each chunk, with the chunk's interval added."""
    details = []
    for window in plan_chunks(day(start), day(end), chunk_days):
        selection = UserSelection.build(
            sim.dataset, {"interval": window.interval}, sim.available_ms()
        )
        for _, detail in selection.items(selection.first_position()):
            details.append(users.with_interval(detail, window))
    return details


def _key(record: dict[str, Any]) -> tuple[str, str, str]:
    return record["userId"], record["intervalStart"], record["intervalEnd"]


# -- pure helpers -------------------------------------------------------------------------------


def test_job_body_holds_only_async_user_details_query_fields() -> None:
    window = DateWindow(day("2024-01-01"), day("2024-01-08"))
    body = users.job_body(window, True)
    assert body == {"interval": window.interval, "order": "asc"}
    allowed = {"interval", "userFilters", "presenceFilters", "routingStatusFilters", "order"}
    assert set(body) <= allowed | {"limit"}


def test_with_interval_and_rows() -> None:
    window = DateWindow(day("2024-01-01"), day("2024-01-02"))
    detail = {
        "userId": "u1",
        "primaryPresence": [
            {"startTime": "2024-01-01T00:00:00.000Z", "systemPresence": "OFFLINE"},
            {"startTime": "2024-01-01T08:00:00.000Z", "systemPresence": "AVAILABLE"},
        ],
        "routingStatus": [{"startTime": "2024-01-01T00:00:00.000Z", "routingStatus": "IDLE"}],
    }
    record = users.with_interval(detail, window)
    assert record["intervalStart"] == "2024-01-01T00:00:00.000Z"
    assert record["intervalEnd"] == "2024-01-02T00:00:00.000Z"
    assert users.interval_start(record) == "2024-01-01T00:00:00.000Z"
    presence = list(users.presence_rows(record))
    assert [r["systemPresence"] for r in presence] == ["OFFLINE", "AVAILABLE"]
    assert all(r["userId"] == "u1" for r in presence)
    assert "userId" not in detail["primaryPresence"][0], "rows are copies"
    assert list(users.routing_status_rows(record)) == [
        {"startTime": "2024-01-01T00:00:00.000Z", "routingStatus": "IDLE", "userId": "u1"}
    ]
    assert list(users.presence_rows({"userId": "u2"})) == []


# -- the runner's hook, with a fake jobs API ----------------------------------------------------


@dataclasses.dataclass
class _Limiter:
    per_minute: int = 1

    def used_last_minute(self) -> int:
        return 0


@dataclasses.dataclass
class _Client:
    limiter: _Limiter = dataclasses.field(default_factory=_Limiter)


class FakeJobs:
    """One page per job, of fresh copies of ``records``."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.client = _Client()
        self.submitted: list[dict[str, Any]] = []

    def submit(self, body: dict[str, Any], *, context: str) -> str:
        self.submitted.append(body)
        return f"job-{len(self.submitted)}"

    def wait(self, job_id: str, **_: Any) -> None:
        return None

    def results(self, job_id: str, *, page: Page, **_: Any) -> Iterator[dict[str, Any]]:
        for record in self.records:
            yield dict(record)
        page.scalars = {}

    def delete(self, job_id: str) -> None:
        return None


def _runner(records: list[dict[str, Any]], expected: int) -> tuple[ChunkRunner, FakeJobs]:
    settings = Settings.from_config(
        {
            "client_id": "x",
            "client_secret": "y",
            "start_date": "2024-01-01",
            "chunk_days": 7,
            "max_jobs_in_flight": 1,
        }
    )
    jobs = FakeJobs(records)
    spec = ExtractSpec(
        jobs=jobs,  # type: ignore[arg-type]
        key=lambda r: str(r.get("userId")),
        start_of=users.interval_start,
        job_body=users.job_body,
        expected_count=lambda _window: expected,
        label="user_details",
        transform=users.with_interval,
        splittable=False,
    )
    state: dict[str, Any] = {}
    return ChunkRunner(spec, settings, state, lambda: None), jobs


def test_transform_adds_each_jobs_window_before_keys_and_counts() -> None:
    records = [{"userId": "a"}, {"userId": "b"}, {"userId": "a"}]
    runner, jobs = _runner(records, expected=2)
    out = list(runner.run(day("2024-01-01"), day("2024-01-15")))
    assert [_key(r) for r in out] == [
        ("a", "2024-01-01T00:00:00.000Z", "2024-01-08T00:00:00.000Z"),
        ("b", "2024-01-01T00:00:00.000Z", "2024-01-08T00:00:00.000Z"),
        ("a", "2024-01-08T00:00:00.000Z", "2024-01-15T00:00:00.000Z"),
        ("b", "2024-01-08T00:00:00.000Z", "2024-01-15T00:00:00.000Z"),
    ]
    assert runner.dedup.dropped == 2
    assert len(jobs.submitted) == 2
    assert runner.state["watermark"] == iso(day("2024-01-15"))


def test_a_short_count_fails_without_splitting_when_the_spec_cannot_split() -> None:
    runner, jobs = _runner([{"userId": "a"}], expected=2)
    with pytest.raises(ExtractionError, match="returned 1 records, the API counts 2"):
        list(runner.run(day("2024-01-01"), day("2024-01-08")))
    assert len(jobs.submitted) == 1, "no smaller windows were read"
    assert runner.state["watermark"] == iso(day("2024-01-01"))


# -- end to end over the simulator --------------------------------------------------------------


def test_user_details_and_status_rows_match_the_truth(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=200)
    config = sim_config(sim, page_size=25)
    catalog = catalog_selecting(tmp_path, config, USER_STREAMS)
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0, run.stderr[-2000:]

    expected = {_key(r): r for r in user_truth(sim, "2024-01-01", "2024-01-31")}
    records = run.records("user_details")
    keys = [_key(r) for r in records]
    assert len(keys) == len(set(keys)), "a user detail was emitted twice"
    assert set(keys) == set(expected)
    assert {k[0] for k in keys} == {u["id"] for u in sim.dataset.pools.users}
    for record in records:
        assert record == expected[_key(record)]

    for stream, builder in (
        ("user_presence", users.presence_rows),
        ("user_routing_status", users.routing_status_rows),
    ):
        rows = run.records(stream)
        keyed = collections.Counter(tuple(r[k] for k in CHILD_KEYS[stream]) for r in rows)
        assert keyed, stream
        assert max(keyed.values()) == 1, f"{stream}: a key was emitted twice"
        truth_rows = [row for d in expected.values() for row in builder(d)]
        assert sorted(map(str, rows)) == sorted(map(str, truth_rows)), stream

    final = run.last_state["bookmarks"]["user_details"]
    assert final == {"watermark": "2024-01-31T00:00:00.000Z"}


def test_only_user_child_streams_selected_downloads_each_page_once(
    tmp_path: Path, make_sim
) -> None:
    sim = make_sim(conversations=200)
    config = sim_config(sim, page_size=7, end_date="2024-01-15T00:00:00Z")
    catalog = catalog_selecting(tmp_path, config, CHILD_KEYS)
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0, run.stderr[-2000:]

    assert run.records("user_details") == [], "the parent is not written"
    pages = sim.stats.result_pages
    assert sum(pages.values()) == 2 * 9, "two jobs of 60 users, 7 a page"
    assert max(pages.values()) == 1, "every job page was fetched exactly once"
    assert sim.stats.requests["job_submit"] == 0, "no conversation job was run"
    truth_details = user_truth(sim, "2024-01-01", "2024-01-15")
    for stream, builder in (
        ("user_presence", users.presence_rows),
        ("user_routing_status", users.routing_status_rows),
    ):
        assert len(run.records(stream)) == sum(len(list(builder(d))) for d in truth_details)


def test_a_later_run_rereads_the_lookback_and_stops_at_availability(
    tmp_path: Path, make_sim
) -> None:
    sim = make_sim(conversations=200, availability_lag_seconds=5 * 86_400 + 3600)
    config = sim_config(sim, end_date="2024-01-15T00:00:00Z", lookback_days=3)
    catalog = catalog_selecting(tmp_path, config, {"user_details"})
    first = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert first.returncode == 0, first.stderr[-2000:]
    state = first.last_state
    assert state["bookmarks"]["user_details"]["watermark"] == "2024-01-15T00:00:00.000Z"

    # The simulator's clock is 2024-02-01 and jobs lag 5 days and an hour (to 2024-01-26 23:00):
    # whole days up to 2024-01-26 only, from 3 days before the bookmark.
    config.pop("end_date")
    second = run_tap(tmp_path, config, state=state, args=("--catalog", str(catalog)))
    assert second.returncode == 0, second.stderr[-2000:]
    starts = sorted({r["intervalStart"] for r in second.records("user_details")})
    ends = sorted({r["intervalEnd"] for r in second.records("user_details")})
    assert starts[0] == "2024-01-12T00:00:00.000Z"
    assert ends[-1] == "2024-01-26T00:00:00.000Z"
    final = second.last_state["bookmarks"]["user_details"]
    assert final["watermark"] == "2024-01-26T00:00:00.000Z"


def test_a_short_user_job_stops_with_a_clear_error(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=200, truncate_jobs_over=40)
    config = sim_config(sim, end_date="2024-01-08T00:00:00Z")
    catalog = catalog_selecting(tmp_path, config, {"user_details"})
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert sim.stats.faults["truncated"] > 0
    assert run.returncode == 1
    assert "the job returned 40 records, the API counts 60" in run.error_line
    assert "Traceback" not in run.stderr
