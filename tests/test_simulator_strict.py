"""A simulator as strict as the API (issue 18), and what the tap makes of it, over HTTP.

Each behaviour is the simulator's default where the real API always does it, else a switch in
``Faults``; every test first asserts the simulator's counter that shows the behaviour fired.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import requests

from genesys_simulator import Simulator
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
