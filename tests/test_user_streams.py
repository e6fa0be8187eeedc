"""User details over the users details jobs, and the flat presence/routing-status tables."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import itertools
import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from genesys_simulator import Simulator
from genesys_simulator.users import UserSelection
from tap_genesys_analytics.config.settings import Settings
from tap_genesys_analytics.extract.runner import ChunkRunner
from tap_genesys_analytics.extract.spec import ExtractSpec
from tap_genesys_analytics.genesys import users
from tap_genesys_analytics.http.client import Page
from tap_genesys_analytics.http.ratelimit import RateLimiter
from tap_genesys_analytics.windows import DateWindow, iso, plan_grid
from tests.selection import catalog_selecting
from tests.support import (
    CLIENT_ID,
    CLIENT_SECRET,
    ROOT,
    TAP,
    TapRun,
    day,
    run_tap,
    sdk_fields,
    sim_config,
)

USER_STREAMS = ("user_details", "user_presence", "user_routing_status")
CHILD_KEYS = {
    "user_presence": ("userId", "startTime", "systemPresence"),
    "user_routing_status": ("userId", "startTime", "routingStatus"),
}
USERS_QUERY = "/api/v2/analytics/users/details/query"


def user_truth(sim: Simulator, start: str, end: str, chunk_days: int = 7) -> list[dict[str, Any]]:
    """What the users details jobs hold for each grid cell of ``[start, end)``, keyed by cell."""
    details = []
    cell_keys = users.CellKeys(chunk_days)
    for window in plan_grid(day(start), day(end), chunk_days, not_before=day(start)):
        selection = UserSelection.build(
            sim.dataset, {"interval": window.interval}, sim.available_ms()
        )
        for _, detail in selection.items(selection.first_position()):
            details.append(cell_keys(detail, window))
    return details


def _key(record: dict[str, Any]) -> tuple[str, str, str]:
    return record["userId"], record["intervalStart"], record["intervalEnd"]


def _api(sim: Simulator) -> requests.Session:
    session = requests.Session()
    token = session.post(
        sim.url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    ).json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _run_killed_after(
    tmp: Path, config: dict[str, Any], args: tuple[str, ...], records: int
) -> TapRun:
    """Run the tap CLI with ``args`` and SIGKILL it once ``records`` RECORDs are out."""
    path = tmp / "killed-config.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen(
        [*TAP, "--config", str(path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    messages: list[dict[str, Any]] = []
    for line in proc.stdout:
        messages.append(json.loads(line))
        if sum(m["type"] == "RECORD" for m in messages) >= records:
            proc.send_signal(signal.SIGKILL)
            break
    for line in proc.stdout:  # what was already written before the signal landed
        try:
            messages.append(json.loads(line))
        except ValueError:
            break  # a line cut by the kill
    proc.wait(timeout=60)
    return TapRun(proc.returncode, messages, "")


def _assert_equals_truth(run: Any, expected: list[dict[str, Any]]) -> None:
    """Each user stream of ``run`` holds exactly the truth: every row once, none missing."""
    truth = {_key(r): r for r in expected}
    records = run.records("user_details")
    keys = [_key(r) for r in records]
    assert len(keys) == len(set(keys)), "a user detail was emitted twice"
    assert set(keys) == set(truth)
    for record in records:
        assert record == truth[_key(record)]
    for stream, builder in (
        ("user_presence", users.presence_rows),
        ("user_routing_status", users.routing_status_rows),
    ):
        rows = run.records(stream)
        keyed = collections.Counter(tuple(r[k] for k in CHILD_KEYS[stream]) for r in rows)
        assert keyed, stream
        assert max(keyed.values()) == 1, f"{stream}: a key was emitted twice"
        # A status spanning cells is in each cell's detail, whole: its row is written once.
        truth_rows = {
            tuple(row[k] for k in CHILD_KEYS[stream]): row
            for d in sorted(truth.values(), key=lambda d: d["intervalStart"], reverse=True)
            for row in builder(d)
        }
        assert sorted(map(str, rows)) == sorted(map(str, truth_rows.values())), stream


# -- pure helpers -------------------------------------------------------------------------------


def test_job_body_holds_only_async_user_details_query_fields() -> None:
    window = DateWindow(day("2024-01-01"), day("2024-01-08"))
    body = users.job_body(window, True)
    assert body == {"interval": window.interval, "order": "asc"}
    assert set(body) <= sdk_fields("AsyncUserDetailsQuery")


def test_cell_keys_key_a_cut_window_by_its_whole_cell() -> None:
    # 2024-01-15 starts a 7-day cell of the grid (2000-01-03 is a Monday): the run ended on
    # the 18th, so the job covered three days of the cell.
    window = DateWindow(day("2024-01-15"), day("2024-01-18"))
    detail = {
        "userId": "u1",
        "primaryPresence": [
            {"startTime": "2024-01-15T00:00:00.000Z", "systemPresence": "OFFLINE"},
            {"startTime": "2024-01-15T08:00:00.000Z", "systemPresence": "AVAILABLE"},
        ],
        "routingStatus": [{"startTime": "2024-01-15T00:00:00.000Z", "routingStatus": "IDLE"}],
    }
    record = users.CellKeys(7)(detail, window)
    assert (record["intervalStart"], record["intervalEnd"]) == (
        "2024-01-15T00:00:00.000Z",
        "2024-01-22T00:00:00.000Z",
    )
    assert (record["coveredStart"], record["coveredEnd"]) == (
        "2024-01-15T00:00:00.000Z",
        "2024-01-18T00:00:00.000Z",
    )
    assert users.filed_at(record) == "2024-01-17T23:59:59.999Z"
    assert users.filed_at({"userId": "u2"}) is None
    presence = list(users.presence_rows(record))
    assert [r["systemPresence"] for r in presence] == ["OFFLINE", "AVAILABLE"]
    assert all(r["userId"] == "u1" for r in presence)
    assert "userId" not in detail["primaryPresence"][0], "rows are copies"
    assert list(users.routing_status_rows(record)) == [
        {"startTime": "2024-01-15T00:00:00.000Z", "routingStatus": "IDLE", "userId": "u1"}
    ]
    assert list(users.presence_rows({"userId": "u2"})) == []


# -- the runner's hook, with a fake jobs API ----------------------------------------------------


@dataclasses.dataclass
class _Client:
    #: The real limiter: progress lines read its figures.
    limiter: RateLimiter = dataclasses.field(default_factory=lambda: RateLimiter(6000))


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


def _runner(
    records: list[dict[str, Any]], expected: int, state: dict[str, Any] | None = None
) -> tuple[ChunkRunner, FakeJobs]:
    settings = Settings.from_config(
        {
            "client_id": "x",
            "client_secret": "y",
            "start_date": "2024-01-01",
            "chunk_days": 7,
            "max_jobs_in_flight": 1,
            "lookback_days": 3,
        }
    )
    jobs = FakeJobs(records)

    def plan(start: dt.datetime, end: dt.datetime) -> list[DateWindow]:
        return plan_grid(start, end, 7, not_before=day("2024-01-01"))

    spec = ExtractSpec(
        jobs=jobs,  # type: ignore[arg-type]
        key=lambda r: str(r.get("userId")),
        start_of=users.filed_at,
        job_body=users.job_body,
        expected_count=lambda _window: expected,
        label="user_details",
        transform=users.CellKeys(7),
        splittable=False,
        plan=plan,
    )
    return ChunkRunner(spec, settings, state if state is not None else {}, lambda: None), jobs


def test_transform_adds_each_jobs_cell_before_keys_and_counts() -> None:
    records = [{"userId": "a"}, {"userId": "b"}, {"userId": "a"}]
    runner, jobs = _runner(records, expected=2)
    out = list(runner.run(day("2024-01-01"), day("2024-01-18")))
    week = ("2024-01-08T00:00:00.000Z", "2024-01-15T00:00:00.000Z")
    assert [_key(r) for r in out] == [
        ("a", "2024-01-01T00:00:00.000Z", "2024-01-08T00:00:00.000Z"),
        ("b", "2024-01-01T00:00:00.000Z", "2024-01-08T00:00:00.000Z"),
        ("a", *week),
        ("b", *week),
        ("a", "2024-01-15T00:00:00.000Z", "2024-01-22T00:00:00.000Z"),
        ("b", "2024-01-15T00:00:00.000Z", "2024-01-22T00:00:00.000Z"),
    ]
    assert out[-1]["coveredEnd"] == "2024-01-18T00:00:00.000Z", "the last cell was cut"
    assert runner.dedup.dropped == 3
    starts = [b["interval"][:10] for b in jobs.submitted]
    assert starts == ["2024-01-01", "2024-01-08", "2024-01-15"]
    assert runner.state["watermark"] == iso(day("2024-01-18"))


def test_a_later_run_reads_the_whole_cell_its_lookback_starts_in() -> None:
    state = {"watermark": iso(day("2024-01-19"))}
    runner, jobs = _runner([{"userId": "a"}], expected=1, state=state)
    out = list(runner.run(day("2024-01-01"), day("2024-01-20")))
    # Lookback 3 days from the 19th is the 16th, inside the cell [15th, 22nd): read from the 15th.
    assert [b["interval"] for b in jobs.submitted] == [
        "2024-01-15T00:00:00.000Z/2024-01-20T00:00:00.000Z"
    ]
    cell = ("a", "2024-01-15T00:00:00.000Z", "2024-01-22T00:00:00.000Z")
    assert [(_key(r), r["coveredEnd"]) for r in out] == [(cell, "2024-01-20T00:00:00.000Z")]


def test_a_short_count_is_reported_without_splitting_when_the_spec_cannot_split(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner, jobs = _runner([{"userId": "a"}], expected=2)
    with caplog.at_level("WARNING", logger="tap-genesys-analytics"):
        out = list(runner.run(day("2024-01-01"), day("2024-01-08")))
    assert [r["userId"] for r in out] == ["a"]
    assert len(jobs.submitted) == 1, "no smaller windows were read"
    assert "returned 1 unique records, the API counts 2: 1 may be missing" in caplog.text
    assert runner.state["watermark"] == iso(day("2024-01-08"))


# -- end to end over the simulator --------------------------------------------------------------


def test_user_details_and_status_rows_match_the_truth(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=200)
    config = sim_config(sim, page_size=25)
    catalog = catalog_selecting(tmp_path, config, USER_STREAMS)
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0, run.stderr[-2000:]

    _assert_equals_truth(run, user_truth(sim, "2024-01-01", "2024-01-31"))
    ids = {r["userId"] for r in run.records("user_details")}
    assert ids == {u["id"] for u in sim.dataset.pools.users}
    inactive = {u["id"] for u in sim.dataset.pools.users if u["state"] == "inactive"}
    assert inactive, "the dataset has agents who left"
    assert inactive <= ids, "agents who left are in user details"
    final = run.last_state["bookmarks"]["user_details"]
    assert final == {"watermark": "2024-01-31T00:00:00.000Z"}


def test_two_nightly_runs_with_lookback_leave_no_overlapping_user_rows(
    tmp_path: Path, make_sim
) -> None:
    sim = make_sim(conversations=200)
    config = sim_config(sim, lookback_days=3)
    config.pop("end_date")
    catalog = catalog_selecting(tmp_path, config, {"user_details"})
    # Night 1: jobs hold data up to the 18th, in the middle of the cell [15th, 22nd).
    sim.now = dt.datetime(2024, 1, 18, 2, tzinfo=dt.timezone.utc)
    first = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert first.returncode == 0, first.stderr[-2000:]
    # Night 2: a day later; the lookback (3 days before the 18th) starts inside that cell.
    sim.now = dt.datetime(2024, 1, 19, 2, tzinfo=dt.timezone.utc)
    second = run_tap(tmp_path, config, state=first.last_state, args=("--catalog", str(catalog)))
    assert second.returncode == 0, second.stderr[-2000:]

    one, two = first.records("user_details"), second.records("user_details")
    assert one
    assert two
    assert min(r["intervalStart"] for r in two) < max(r["intervalEnd"] for r in one), (
        "the second night read again what the first had written"
    )

    intervals: dict[str, set[tuple[str, str]]] = collections.defaultdict(set)
    for record in one + two:
        intervals[record["userId"]].add((record["intervalStart"], record["intervalEnd"]))
    assert len(intervals) == len(sim.dataset.pools.users)
    for user, cells in intervals.items():
        ordered = sorted(cells)
        for (_, end), (start, _) in itertools.pairwise(ordered):
            assert end <= start, f"{user}: rows {ordered} overlap and differ"

    # The first night's last row was cut at the 18th; the second night's row for the same cell
    # (now to the 19th) has its key, so a loader that upserts on the key replaces it.
    assert max(r["coveredEnd"] for r in one) == "2024-01-18T00:00:00.000Z"
    assert max(r["coveredEnd"] for r in two) == "2024-01-19T00:00:00.000Z"
    table = {_key(r): r for r in one + two}
    truth = {_key(r): r for r in user_truth(sim, "2024-01-01", "2024-01-19")}
    assert table == truth
    final = second.last_state["bookmarks"]["user_details"]
    assert final == {"watermark": "2024-01-19T00:00:00.000Z"}


def test_sixty_days_in_15_day_chunks_with_the_users_querys_real_count(
    tmp_path: Path, make_sim
) -> None:
    sim = make_sim(conversations=200, days=60)
    api = _api(sim)
    week = api.post(
        sim.url + USERS_QUERY,
        json={
            "interval": "2024-01-01T00:00:00.000Z/2024-01-08T00:00:00.000Z",
            "paging": {"pageSize": 100, "pageNumber": 1},
        },
        timeout=30,
    ).json()
    users_count = len(sim.dataset.pools.users)
    assert week["totalHits"] == 7 * users_count, "totalHits counts (user, day) status records"
    assert len(week["userDetails"]) < 100, "a page holds fewer users than its page size"
    sim.reset_stats()

    config = sim_config(sim, chunk_days=15, end_date="2024-03-01T00:00:00Z")
    catalog = catalog_selecting(tmp_path, config, [*USER_STREAMS, "users"])
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0, run.stderr[-2000:]
    # The users dimension holds every agent with user details, those who have left included.
    listed = {r["id"]: r for r in run.records("users")}
    agents = {r["userId"] for r in run.records("user_details")}
    assert agents <= set(listed)
    assert {listed[a]["state"] for a in agents} > {"active"}, "agents who left are listed too"

    assert sim.stats.requests["user_details_query"] > 0, "the users were counted"
    assert sim.stats.statuses[400] == 0
    warnings = [ln for ln in run.stderr.splitlines() if "WARNING" in ln and "user_details" in ln]
    assert warnings == [], "every count agreed with its job"
    _assert_equals_truth(run, user_truth(sim, "2024-01-01", "2024-03-01", chunk_days=15))
    first = min(run.records("user_details"), key=lambda r: r["intervalStart"])
    assert (first["intervalStart"], first["coveredStart"]) == (
        "2023-12-28T00:00:00.000Z",
        "2024-01-01T00:00:00.000Z",
    ), "the first cell starts before start_date and is read from start_date"


def test_chunk_days_over_the_users_querys_7_days_no_longer_stops_the_run(
    tmp_path: Path, make_sim
) -> None:
    sim = make_sim(conversations=200)
    api = _api(sim)
    eight_days = {
        "interval": "2024-01-01T00:00:00.000Z/2024-01-09T00:00:00.000Z",
        "paging": {"pageSize": 100, "pageNumber": 1},
    }
    refused = api.post(sim.url + USERS_QUERY, json=eight_days, timeout=30)
    assert refused.status_code == 400, refused.text
    assert "7 days" in refused.json()["message"]
    filtered = {
        **eight_days,
        "userFilters": [
            {
                "type": "or",
                "predicates": [{"dimension": "userId", "value": sim.dataset.pools.users[0]["id"]}],
            }
        ],
    }
    assert api.post(sim.url + USERS_QUERY, json=filtered, timeout=30).status_code == 200
    sim.reset_stats()

    config = sim_config(sim, chunk_days=8, end_date="2024-01-17T00:00:00Z")
    catalog = catalog_selecting(tmp_path, config, USER_STREAMS)
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0, run.stderr[-2000:]
    assert sim.stats.requests["user_details_query"] > 0
    assert sim.stats.statuses[400] == 0, "no users query was refused"
    _assert_equals_truth(run, user_truth(sim, "2024-01-01", "2024-01-17", chunk_days=8))


def test_a_run_killed_inside_a_cell_resumes_on_the_same_grid(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=200)
    config = sim_config(sim, page_size=10, chunk_days=7, end_date="2024-01-24T00:00:00Z")
    catalog = catalog_selecting(tmp_path, config, {"user_details"})
    args = ("--catalog", str(catalog))
    # Killed once 85 details are out: the second cell (60 users, 10 a page) is half read.
    killed = _run_killed_after(tmp_path, config, args, records=85)
    assert killed.returncode == -signal.SIGKILL, "the run was killed"
    saved = killed.last_state
    assert saved is not None
    chunk = saved["bookmarks"]["user_details"]["chunk"]
    assert chunk["interval"].startswith("2024-01-08"), chunk

    resumed = run_tap(tmp_path, config, state=saved, args=args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming chunk 2024-01-08" in resumed.stderr
    truth = {_key(r): r for r in user_truth(sim, "2024-01-01", "2024-01-24")}
    again = resumed.records("user_details")
    assert len(again) < len(truth), "the second run went on from the saved cursor"
    both = killed.records("user_details") + again
    assert {_key(r) for r in both} == set(truth)
    assert all(r == truth[_key(r)] for r in both)


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
        keys = {
            tuple(row[k] for k in CHILD_KEYS[stream]) for d in truth_details for row in builder(d)
        }
        assert len(run.records(stream)) == len(keys), "each status once"


def test_a_later_run_rereads_the_lookback_and_stops_at_availability(
    tmp_path: Path, make_sim
) -> None:
    sim = make_sim(conversations=200, availability_lag_seconds=5 * 86_400 + 3600)
    config = sim_config(sim, end_date="2024-01-17T00:00:00Z", lookback_days=3)
    catalog = catalog_selecting(tmp_path, config, {"user_details"})
    first = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert first.returncode == 0, first.stderr[-2000:]
    state = first.last_state
    assert state["bookmarks"]["user_details"]["watermark"] == "2024-01-17T00:00:00.000Z"

    # The simulator's clock is 2024-02-01 and jobs lag 5 days and an hour (to 2024-01-26 23:00):
    # whole days up to 2024-01-26 only, from the start of the cell that holds 3 days before the
    # bookmark (the 14th is in the week of the 8th).
    config.pop("end_date")
    second = run_tap(tmp_path, config, state=state, args=("--catalog", str(catalog)))
    assert second.returncode == 0, second.stderr[-2000:]
    records = second.records("user_details")
    assert min(r["intervalStart"] for r in records) == "2024-01-08T00:00:00.000Z"
    assert max(r["intervalEnd"] for r in records) == "2024-01-29T00:00:00.000Z"
    assert max(r["coveredEnd"] for r in records) == "2024-01-26T00:00:00.000Z"
    final = second.last_state["bookmarks"]["user_details"]
    assert final["watermark"] == "2024-01-26T00:00:00.000Z"


def test_a_short_user_job_is_reported_against_the_distinct_users(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=200, truncate_jobs_over=40)
    config = sim_config(sim, end_date="2024-01-08T00:00:00Z")
    catalog = catalog_selecting(tmp_path, config, {"user_details"})
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert sim.stats.faults["truncated"] > 0, "the job was cut short"
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records("user_details")) == 40, "the job was cut short"
    # Compared with the distinct users (60), like the job's records, not with the users
    # query's totalHits (420 status records: 60 users on 7 days).
    warning = [ln for ln in run.stderr.splitlines() if "WARNING" in ln and "user_details" in ln]
    assert len(warning) == 1, warning
    assert "returned 40 unique records, the API counts 60: 20 may be missing" in warning[0]
    assert "Traceback" not in run.stderr


def test_a_status_spanning_cells_is_written_once_per_run(tmp_path: Path, make_sim) -> None:
    """60 days in 7-day cells: each presence and routing-status key is written once.

    The API serves a status whole to every job it overlaps, so one running across a cell
    boundary (an agent offline over a weekend) comes in two cells' details. Fails on 86a853e,
    which wrote it once per cell (1,035 repeated keys in 39,271 rows on a real organisation).
    """
    sim = make_sim(conversations=200, days=60)
    config = sim_config(sim, chunk_days=7, end_date="2024-03-01T00:00:00Z")
    catalog = catalog_selecting(tmp_path, config, CHILD_KEYS)
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0, run.stderr[-2000:]
    assert sim.stats.faults["status_in_two_jobs"] > 0, "statuses were served by two cells' jobs"

    truth_details = user_truth(sim, "2024-01-01", "2024-03-01")
    for stream, builder in (
        ("user_presence", users.presence_rows),
        ("user_routing_status", users.routing_status_rows),
    ):
        keyed = collections.Counter(
            tuple(r[k] for k in CHILD_KEYS[stream]) for r in run.records(stream)
        )
        repeated = {key: n for key, n in keyed.items() if n > 1}
        assert not repeated, f"{stream}: {len(repeated)} keys written more than once"
        truth_keys = {
            tuple(row[k] for k in CHILD_KEYS[stream]) for d in truth_details for row in builder(d)
        }
        assert set(keyed) == truth_keys, stream
