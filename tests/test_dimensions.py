"""Directory dimensions: every entity of each listing once, paged or plain."""

from __future__ import annotations

import collections
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

from genesys_simulator.directory import LISTINGS
from tap_genesys_analytics.genesys.directory import entities, has_next
from tap_genesys_analytics.streams.directory import DimensionStream
from tap_genesys_analytics.tap import TapGenesysAnalytics
from tests.selection import catalog_selecting
from tests.support import CLIENT_ID, CLIENT_SECRET, run_tap, sim_config

#: Stream name -> the simulator's listing (its route name).
DIMENSIONS = {
    "queues": "queues",
    "users": "users",
    "wrapup_codes": "wrapupcodes",
    "divisions": "divisions",
    "skills": "skills",
    "groups": "groups",
    "presence_definitions": "presence_definitions",
}


class FakeListing:
    """Pages of ``items``, optionally with ``pageCount`` or ``nextUri`` only."""

    def __init__(self, items: list[str], *, style: str = "both") -> None:
        self.items = items
        self.style = style
        self.calls: list[Mapping[str, Any] | None] = []

    def __call__(self, params: Mapping[str, Any] | None) -> Mapping[str, Any]:
        self.calls.append(params)
        if params is None:
            return {"entities": [{"id": i} for i in self.items]}
        size, number = params["pageSize"], params["pageNumber"]
        page_count = max(1, -(-len(self.items) // size))
        page: dict[str, Any] = {
            "entities": [{"id": i} for i in self.items[(number - 1) * size : number * size]],
            "pageNumber": number,
        }
        if self.style in {"both", "count"}:
            page["pageCount"] = page_count
        if self.style in {"both", "uri"} and number < page_count:
            page["nextUri"] = f"/x?pageNumber={number + 1}"
        return page


@pytest.mark.parametrize("style", ["both", "count", "uri"])
def test_pages_until_page_count_or_no_next_uri(style: str) -> None:
    fetch = FakeListing([f"e{i}" for i in range(23)], style=style)
    out = [e["id"] for e in entities(fetch, page_size=5)]
    assert out == [f"e{i}" for i in range(23)]
    assert [c["pageNumber"] for c in fetch.calls if c] == [1, 2, 3, 4, 5]


def test_a_plain_listing_is_read_once_without_paging_parameters() -> None:
    fetch = FakeListing(["a", "b"])
    assert [e["id"] for e in entities(fetch, page_size=None)] == ["a", "b"]
    assert fetch.calls == [None]


def test_entities_shifted_between_pages_come_once() -> None:
    pages = {
        1: {"entities": [{"id": "a"}, {"id": "b"}], "pageCount": 2},
        2: {"entities": [{"id": "b"}, {"id": "c"}], "pageCount": 2},
    }
    out = entities(lambda p: pages[p["pageNumber"]], page_size=2)  # type: ignore[index]
    assert [e["id"] for e in out] == ["a", "b", "c"]


def test_a_server_that_ignores_page_number_cannot_loop_forever() -> None:
    calls = []

    def fetch(params: Mapping[str, Any] | None) -> Mapping[str, Any]:
        calls.append(params)
        return {"entities": [{"id": "a"}], "nextUri": "/again"}

    assert [e["id"] for e in entities(fetch, page_size=1)] == ["a"]
    assert len(calls) == 2


def test_has_next() -> None:
    assert has_next({"entities": [1], "pageCount": 3}, 2)
    assert not has_next({"entities": [1], "pageCount": 3}, 3)
    assert not has_next({"entities": [1], "pageCount": 3, "nextUri": None}, 1)
    assert has_next({"entities": [1], "nextUri": "/n"}, 7)
    assert not has_next({"entities": [1]}, 1)
    assert not has_next({"entities": [], "pageCount": 9}, 1)


def _bearer(sim: Any) -> dict[str, str]:
    token = requests.post(
        f"{sim.url}/oauth/token",
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "client_credentials"},
        timeout=10,
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _truth(sim: Any, stream: str) -> list[dict[str, Any]]:
    _, build = LISTINGS[DIMENSIONS[stream]]
    return build(sim.dataset.pools)


def test_every_dimension_matches_the_truth(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=100)
    config = sim_config(sim)
    catalog = catalog_selecting(tmp_path, config, DIMENSIONS)
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0, run.stderr[-2000:]
    for stream in DIMENSIONS:
        records = run.records(stream)
        ids = collections.Counter(r["id"] for r in records)
        assert ids, stream
        assert max(ids.values()) == 1, f"{stream}: an entity came twice"
        truth = _truth(sim, stream)
        assert set(ids) == {e["id"] for e in truth}, stream
        assert sorted(records, key=str) == sorted(truth, key=str), stream
    assert sim.stats.requests["job_submit"] == 0
    assert sim.stats.requests["user_job_submit"] == 0
    assert sim.stats.requests["aggregates_query"] == 0


def test_listings_are_paged_through_the_client(make_sim, monkeypatch) -> None:
    sim = make_sim(conversations=100)
    tap = TapGenesysAnalytics(config=sim_config(sim), parse_env_config=False)
    stream = tap.streams["users"]
    assert isinstance(stream, DimensionStream)
    monkeypatch.setattr(type(stream), "page_size", 7)
    users = list(stream.get_records(None))
    assert sorted(u["id"] for u in users) == sorted(u["id"] for u in _truth(sim, "users"))
    assert sim.stats.requests["users"] == 9, "60 users, 7 a page"
    definitions = list(tap.streams["presence_definitions"].get_records(None))
    assert len(definitions) == len(_truth(sim, "presence_definitions"))
    assert sim.stats.requests["presence_definitions"] == 2, "active, then deactivated"


def test_users_and_presences_that_historical_data_names_are_all_listed(
    tmp_path: Path, make_sim
) -> None:
    # The API lists active users and active presence definitions by default; agents who left
    # and presences deactivated since still appear in conversations and user details.
    sim = make_sim(conversations=2000, days=7)
    listed = requests.get(
        f"{sim.url}/api/v2/users", params={"pageSize": 100}, headers=_bearer(sim), timeout=10
    ).json()["entities"]
    presences = requests.get(
        f"{sim.url}/api/v2/presence/definitions", headers=_bearer(sim), timeout=10
    ).json()["entities"]
    config = sim_config(sim, end_date="2024-01-08T00:00:00Z")
    streams = ["conversation_details", "users", "presence_definitions", "user_presence"]
    catalog = catalog_selecting(tmp_path, config, streams)
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0, run.stderr[-2000:]
    agents = {
        p["userId"]
        for r in run.records("conversation_details")
        for p in r["participants"]
        if p.get("userId")
    }
    gone = agents - {u["id"] for u in listed}
    assert gone, "some agents of the conversations are not in the default users listing"
    users = {r["id"]: r for r in run.records("users")}
    assert agents <= set(users), "every agent of the conversations is in the users table"
    assert {users[u]["state"] for u in gone} == {"inactive", "deleted"}
    used = {r["organizationPresenceId"] for r in run.records("user_presence")}
    unlisted = used - {p["id"] for p in presences}
    assert unlisted, "user details name presences the default listing leaves out"
    definitions = {r["id"]: r for r in run.records("presence_definitions")}
    assert used <= set(definitions)
    assert all(definitions[p]["deactivated"] for p in unlisted)
