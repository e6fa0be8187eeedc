"""The simulator's details query and by-id endpoint behave as the real API's do (fact sheet §1, §2).

``totalHits`` is approximate and varies between requests, query pages can be short mid-stream,
the by-id endpoints serve conversations without participant ``attributes``, and jobs select by
``conversationId`` filters and carry the attributes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests

from tests.support import CLIENT_ID, CLIENT_SECRET, day

QUERY = "/api/v2/analytics/conversations/details/query"
JOBS = "/api/v2/analytics/conversations/details/jobs"
DAY_INTERVAL = "2024-01-05T00:00:00.000Z/2024-01-06T00:00:00.000Z"


def _session(sim: Any) -> requests.Session:
    token = requests.post(
        f"{sim.url}/oauth/token",
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "client_credentials"},
        timeout=10,
    ).json()["access_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _query(api: requests.Session, sim: Any, page_number: int, size: int) -> dict[str, Any]:
    body = {"interval": DAY_INTERVAL, "paging": {"pageSize": size, "pageNumber": page_number}}
    r = api.post(sim.url + QUERY, json=body, timeout=10)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def _day_truth(sim: Any) -> list[str]:
    return list(sim.dataset.truth_ids(day("2024-01-05"), day("2024-01-06"), now=sim.now))


def test_query_pages_come_short_mid_stream_without_losing_a_record(make_sim) -> None:
    sim = make_sim(conversations=900, days=30, query_repeat_share=0.3)
    api = _session(sim)
    truth = _day_truth(sim)
    pages: list[list[str]] = []
    page_number = 1
    while True:
        data = _query(api, sim, page_number, 5)
        if "conversations" not in data:
            break
        pages.append([c["conversationId"] for c in data["conversations"]])
        page_number += 1
    assert sim.stats.faults["query_short_page"] > 0
    assert any(len(p) < 5 for p in pages[:-1]), "a page before the last one is short"
    served = [cid for p in pages for cid in p]
    assert sorted(set(served)) == sorted(truth), "yet every record is served"
    assert all(len(p) == len(set(p)) for p in pages), "no repeat within a page"


def test_total_hits_varies_between_requests_and_can_be_below_the_truth(make_sim) -> None:
    sim = make_sim(
        conversations=900,
        days=30,
        overcount_day_share=1.0,
        overcount_max=-3,
        overcount_varies=True,
    )
    api = _session(sim)
    truth = len(_day_truth(sim))
    totals = [_query(api, sim, 1, 5)["totalHits"] for _ in range(12)]
    assert sim.stats.faults["total_varied"] > 0
    assert len(set(totals)) > 1, "the same query, different counts"
    assert min(totals) < truth
    assert all(truth - 3 <= total <= truth for total in totals)
    sim.set_faults(overcount_varies=False)
    fixed = {_query(api, sim, 1, 5)["totalHits"] for _ in range(4)}
    assert len(fixed) == 1, "without the switch a day's count is steady"
    assert fixed.pop() < truth


def test_by_id_serves_no_attributes_and_a_job_selects_ids_with_them(make_sim) -> None:
    sim = make_sim(conversations=900, days=30, job_latency_seconds=0)  # ready when submitted
    sim.now = dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc)
    api = _session(sim)
    ds = sim.dataset
    wanted = [
        ds.conversation_id(i)
        for i in range(ds.index_at(int(day("2024-01-05").timestamp() * 1000)), 900)
        if any("attributes" in p for p in ds.conversation(i, sim.now)["participants"])
    ][:3]
    assert len(wanted) == 3
    many = api.get(
        f"{sim.url}/api/v2/analytics/conversations/details",
        params={"id": ",".join(wanted)},
        timeout=10,
    ).json()["conversations"]
    one = api.get(f"{sim.url}/api/v2/analytics/conversations/{wanted[0]}/details", timeout=10)
    for record in [*many, one.json()]:
        assert all("attributes" not in p for p in record["participants"]), "by id: none"
    body = {
        "interval": "2024-01-01T00:00:00.000Z/2024-01-31T00:00:00.000Z",
        "startOfDayIntervalMatching": True,
        "conversationFilters": [
            {
                "type": "or",
                "predicates": [
                    {"type": "dimension", "dimension": "conversationId", "value": cid}
                    for cid in wanted
                ],
            }
        ],
    }
    submitted = api.post(sim.url + JOBS, json=body, timeout=10)
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["jobId"]
    state = api.get(f"{sim.url}{JOBS}/{job_id}", timeout=10).json()["state"]
    assert state == "FULFILLED"
    results = api.get(f"{sim.url}{JOBS}/{job_id}/results", timeout=10).json()
    records = results["conversations"]
    assert sorted(r["conversationId"] for r in records) == sorted(wanted), "exactly those ids"
    for record in records:
        assert record == ds.conversation(ds.index_of(record["conversationId"]), sim.now)
        assert any("attributes" in p for p in record["participants"]), "a job: with them"
