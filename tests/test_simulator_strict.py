"""A simulator as strict as the API (issue 18), and what the tap makes of it, over HTTP.

Each behaviour is the simulator's default where the real API always does it, else a switch in
``Faults``; every test first asserts the simulator's counter that shows the behaviour fired.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import requests

from genesys_simulator import Simulator
from genesys_simulator.aggregates import aggregate
from tap_genesys_analytics.genesys.aggregates import MAX_BUCKETS
from tests.selection import catalog_selecting
from tests.support import CLIENT_ID, CLIENT_SECRET, UTC, run_tap, sim_config

DAY = dt.timedelta(days=1)


def _iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _last_versions(*runs: Any) -> dict[str, dict[str, Any]]:
    upserted: dict[str, dict[str, Any]] = {}
    for run in runs:
        for record in run.records():
            upserted[record["conversationId"]] = record
    return upserted


def _token(sim: Simulator) -> str:
    reply = requests.post(
        f"{sim.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    )
    reply.raise_for_status()
    return str(reply.json()["access_token"])


# -- jobs serve the datalake as of dataAvailabilityDate ------------------------------------------


def test_jobs_serve_live_what_was_live_at_data_availability(tmp_path: Path, make_sim) -> None:
    """A conversation live at ``dataAvailabilityDate`` comes back live from a job, even though
    it has ended by the clock; the tap keeps it open and a later run loads its final version.

    Fails on 86a853e: jobs rendered records at the simulator's clock (no such counter).
    """
    d0 = dt.datetime(2024, 1, 20, 12, tzinfo=UTC)
    sim = make_sim(
        conversations=3000,
        days=30,
        availability_lag_seconds=2 * 86400,
        lingering_every=20,
        lingering_days=3,
    )
    sim.now = d0
    config = sim_config(sim, end_date=_iso(d0), lookback_days=3)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr[-2000:]
    served_live = sim.stats.faults["job_live_as_of_availability"]
    assert served_live > 0, "jobs served conversations live that had ended by the clock"

    ds = sim.dataset
    now_ms = int(d0.timestamp() * 1000)
    stale = {
        cid
        for cid, record in _last_versions(first).items()
        if "conversationEnd" not in record and ds.core(ds.index_of(cid)).end_ms <= now_ms
    }
    assert stale, "the tap emitted them as they were served: live"
    assert len(stale) <= served_live
    state = first.last_state
    assert state is not None

    sim.now = d0 + DAY
    sim.set_faults(availability_lag_seconds=0)
    config["end_date"] = _iso(sim.now)
    second = run_tap(tmp_path, config, state=state)
    assert second.returncode == 0, second.stderr[-2000:]
    final = _last_versions(first, second)
    for cid in stale:
        expected = ds.conversation(ds.index_of(cid), now=sim.now, attributes=False)
        got = final[cid]
        assert "conversationEnd" in got, f"{cid} was refreshed after it ended"
        assert got["conversationEnd"] == expected["conversationEnd"]


# -- presence definitions: deactivated as documented --------------------------------------------


def test_presence_definitions_ask_deactivated_in_the_documented_case(
    tmp_path: Path, make_sim
) -> None:
    """The SDK documents ``deactivated`` as "TRUE or FALSE"; under the strict switch the
    simulator refuses other casings, and the tap still lists both kinds of definitions.

    Fails on 86a853e: the tap sent ``false``/``true`` (no such switch or counter either).
    """
    sim = make_sim(conversations=50, days=2, deactivated_documented_case=True)
    headers = {"Authorization": f"Bearer {_token(sim)}"}
    url = f"{sim.url}/api/v2/presence/definitions"
    refused = requests.get(url, params={"deactivated": "true"}, headers=headers, timeout=10)
    assert refused.status_code == 400
    assert sim.stats.faults["deactivated_case_refused"] == 1
    sim.reset_stats()

    config = sim_config(sim, end_date="2024-01-02T00:00:00Z")
    catalog = catalog_selecting(tmp_path, config, ["presence_definitions"])
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert sim.stats.faults["deactivated_case_checked"] == 2, "both listings were checked"
    assert sim.stats.faults["deactivated_case_refused"] == 0
    assert run.returncode == 0, run.stderr[-2000:]
    rows = run.records("presence_definitions")
    assert {r["deactivated"] for r in rows} == {True, False}
    listed = {
        e["id"]
        for flag in ("FALSE", "TRUE")
        for e in requests.get(
            url, params={"deactivated": flag}, headers=headers, timeout=10
        ).json()["entities"]
    }
    assert sorted(r["id"] for r in rows) == sorted(listed)


# -- aggregates: timeZone across DST, and the bucket limit --------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        # 10 March 2024: New York springs forward, the local day lasts 23 hours.
        (
            "America/New_York",
            "2024-03-08",
            "2024-03-10T05:00:00.000Z",
            "2024-03-11T04:00:00.000Z",
            23,
        ),
        # 27 October 2024: Berlin falls back, the local day lasts 25 hours.
        ("Europe/Berlin", "2024-10-25", "2024-10-26T22:00:00.000Z", "2024-10-27T23:00:00.000Z", 25),
    ],
)
def test_daily_aggregates_in_a_time_zone_follow_dst(
    tmp_path: Path, make_sim, case: tuple[str, str, str, str, int]
) -> None:
    """``P1D`` buckets in the query's ``timeZone`` are local days: 23 h or 25 h across DST, and
    each day's totals equal the simulator's answer for exactly that UTC interval.

    Fails on 86a853e: the simulator ignored ``timeZone`` (24-hour buckets, no counter).
    """
    zone, data_start, dst_start, dst_end, hours = case
    sim = make_sim(conversations=600, days=5, start=data_start)
    start = dt.datetime.fromisoformat(data_start).replace(tzinfo=UTC)
    query = {
        "name": "daily",
        "metrics": ["nOffered", "tHandle"],
        "granularity": "P1D",
        "time_zone": zone,
    }
    config = sim_config(
        sim, start_date=_iso(start), end_date=_iso(start + 5 * DAY), aggregates=[query]
    )
    catalog = catalog_selecting(tmp_path, config, ["conversation_aggregates"])
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0, run.stderr[-2000:]
    assert sim.stats.faults["aggregate_dst_bucket"] >= 1, "a bucket crossed the DST change"

    rows = run.records("conversation_aggregates")
    spans = {(r["interval_start"], r["interval_end"]) for r in rows}
    assert (dst_start, dst_end) in spans, sorted(spans)
    lengths = {
        (dt.datetime.fromisoformat(b) - dt.datetime.fromisoformat(a)) // dt.timedelta(hours=1)
        for a, b in spans
    }
    assert lengths == {24, hours}
    for row in rows:
        truth = aggregate(
            sim.dataset,
            {
                "interval": f"{row['interval_start']}/{row['interval_end']}",
                "metrics": [row["metric"]],
            },
            sim.now_ms,
        )
        (result,) = truth["results"]
        (bucket,) = result["data"]
        (stats,) = bucket["metrics"]
        for name, value in stats["stats"].items():
            assert row[name] == value, (row["interval_start"], row["metric"], name)
    first = min(r["interval_start"] for r in rows)
    last = max(r["interval_end"] for r in rows)
    offered = sum(r["count"] for r in rows if r["metric"] == "nOffered")
    assert offered == _count(sim, f"{first}/{last}", "nOffered")


def _count(sim: Simulator, interval: str, metric: str) -> int:
    """The simulator's ``count`` of ``metric`` over ``interval`` as one bucket."""
    answer = aggregate(sim.dataset, {"interval": interval, "metrics": [metric]}, sim.now_ms)
    return sum(
        m["stats"]["count"]
        for result in answer.get("results", [])
        for bucket in result["data"]
        for m in bucket["metrics"]
    )


def test_aggregates_refuse_more_buckets_than_the_tap_assumes(tmp_path: Path, make_sim) -> None:
    """More than ``MAX_BUCKETS`` buckets is refused; the tap's windows (1-minute buckets,
    one day a request) stay under it."""
    sim = make_sim(conversations=200, days=3)
    headers = {"Authorization": f"Bearer {_token(sim)}"}
    body = {
        "interval": "2024-01-01T00:00:00Z/2024-01-03T00:00:00Z",
        "granularity": "PT1M",
        "metrics": ["nOffered"],
    }
    url = f"{sim.url}/api/v2/analytics/conversations/aggregates/query"
    refused = requests.post(url, json=body, headers=headers, timeout=10)
    assert refused.status_code == 400
    assert sim.stats.faults["aggregate_buckets_refused"] == 1
    assert sim.faults.aggregate_max_buckets == MAX_BUCKETS
    sim.reset_stats()

    query = {"name": "minutes", "metrics": ["nOffered"], "granularity": "PT1M"}
    config = sim_config(sim, end_date="2024-01-04T00:00:00Z", aggregates=[query])
    catalog = catalog_selecting(tmp_path, config, ["conversation_aggregates"])
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0, run.stderr[-2000:]
    assert sim.stats.faults["aggregate_buckets_refused"] == 0
    assert sim.stats.requests["aggregates_query"] == 3, "one day of 1440 buckets a request"
    total = sum(r["count"] for r in run.records("conversation_aggregates"))
    assert total == _count(sim, "2024-01-01T00:00:00Z/2024-01-04T00:00:00Z", "nOffered") > 0


# -- request bodies: exactly the fields of the SDK models ---------------------------------------


@pytest.mark.parametrize(
    ("path", "accepted", "refused"),
    [
        # AsyncConversationQuery (SDK 269.0.0): resolutionFilters yes, no paging/aggregations;
        # mediaEndpointStatFilters belonged to old SDKs (104.0.0) only.
        (
            "/api/v2/analytics/conversations/details/jobs",
            {"resolutionFilters": [], "limit": 5, "startOfDayIntervalMatching": True},
            ["mediaEndpointStatFilters", "paging", "aggregations", "viewId"],
        ),
        # ConversationQuery: paging and aggregations, no limit/startOfDayIntervalMatching.
        (
            "/api/v2/analytics/conversations/details/query",
            {"resolutionFilters": [], "paging": {"pageSize": 5, "pageNumber": 1}},
            ["mediaEndpointStatFilters", "limit", "startOfDayIntervalMatching", "viewId"],
        ),
        # AsyncUserDetailsQuery and UserDetailsQuery.
        (
            "/api/v2/analytics/users/details/jobs",
            {"presenceFilters": [], "routingStatusFilters": [], "limit": 5},
            ["paging", "presenceAggregations", "segmentFilters"],
        ),
        (
            "/api/v2/analytics/users/details/query",
            {"presenceFilters": [], "paging": {"pageSize": 5, "pageNumber": 1}},
            ["limit", "segmentFilters", "conversationFilters"],
        ),
    ],
)
def test_bodies_take_exactly_the_fields_of_their_sdk_model(
    make_sim, path: str, accepted: dict[str, Any], refused: list[str]
) -> None:
    """Field lists read from the SDK models of purecloudplatformclientv2 269.0.0 (the fact
    sheet's source); a field of another model or an older SDK is a 400 naming it."""
    sim = make_sim(conversations=50, days=2)
    headers = {"Authorization": f"Bearer {_token(sim)}"}
    base = {"interval": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z"}
    ok = requests.post(sim.url + path, json={**base, **accepted}, headers=headers, timeout=10)
    assert ok.status_code in {200, 202}, ok.text
    for name in refused:
        reply = requests.post(
            sim.url + path,
            json={**base, name: [] if name.endswith("s") else 1},
            headers=headers,
            timeout=10,
        )
        assert reply.status_code == 400, name
        assert name in reply.json()["message"], reply.text
