"""Tests of the Genesys Cloud API simulator, exercised over real HTTP."""

from __future__ import annotations

import base64
import collections
import gzip
import itertools
import json
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from genesys_simulator import Dataset, Faults, Simulator
from genesys_simulator.timeutil import iso, to_ms

UTC = timezone.utc
JOBS = "/api/v2/analytics/conversations/details/jobs"
QUERY = "/api/v2/analytics/conversations/details/query"
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return Dataset(seed=7, start=START, days=30, conversations=20_000)


@pytest.fixture(scope="module")
def sim_module(ds: Dataset) -> Iterator[Simulator]:
    with Simulator(ds, client_id="sim-client", client_secret="sim-secret", port=0) as sim:
        yield sim


@pytest.fixture
def sim(sim_module: Simulator) -> Iterator[Simulator]:
    sim_module.set_faults(**Faults(job_latency_seconds=0.05).to_dict())
    sim_module.now = sim_module.dataset.start + timedelta(days=31)
    sim_module.reset_stats()
    yield sim_module
    sim_module.set_faults(**Faults().to_dict())


def token(sim: Simulator) -> str:
    r = requests.post(
        f"{sim.url}/oauth/token",
        auth=("sim-client", "sim-secret"),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    assert r.status_code == 200
    return str(r.json()["access_token"])


@pytest.fixture
def api(sim: Simulator) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token(sim)}"
    return s


def submit(api: requests.Session, sim: Simulator, body: dict[str, Any]) -> str:
    r = api.post(sim.url + JOBS, json=body, timeout=10)
    assert r.status_code == 202, r.text
    return str(r.json()["jobId"])


def wait_done(api: requests.Session, sim: Simulator, job_id: str) -> dict[str, Any]:
    for _ in range(200):
        status: dict[str, Any] = api.get(f"{sim.url}{JOBS}/{job_id}", timeout=10).json()
        if status["state"] not in ("QUEUED", "PENDING"):
            return status
        time.sleep(0.02)
    raise AssertionError("job never finished")


def fetch_all(
    api: requests.Session, sim: Simulator, job_id: str, page_size: int = 500
) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"pageSize": page_size}
        if cursor:
            params["cursor"] = cursor
        r = api.get(f"{sim.url}{JOBS}/{job_id}/results", params=params, timeout=30)
        assert r.status_code == 200, r.text
        data = r.json()
        assert "dataAvailabilityDate" in data
        pages.append(data.get("conversations", []))
        cursor = data.get("cursor")
        if cursor is None:
            assert "cursor" not in data
            return pages


def run_job(api: requests.Session, sim: Simulator, body: dict[str, Any], **kw: Any) -> list[str]:
    job_id = submit(api, sim, body)
    assert wait_done(api, sim, job_id)["state"] == "FULFILLED"
    return [c["conversationId"] for page in fetch_all(api, sim, job_id, **kw) for c in page]


def assert_error_body(r: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"message", "code", "status", "contextId", "details", "errors"}
    assert body["status"] == status
    assert r.headers["ININ-Correlation-Id"] == body["contextId"]
    if code:
        assert body["code"] == code
    return body


# ---------------------------------------------------------------------------- OAuth


def test_token_flow_and_401s(sim: Simulator) -> None:
    ok = requests.post(
        f"{sim.url}/oauth/token",
        auth=("sim-client", "sim-secret"),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    body = ok.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86400
    bad = requests.post(
        f"{sim.url}/oauth/token",
        auth=("sim-client", "nope"),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_client"
    grant = requests.post(
        f"{sim.url}/oauth/token",
        auth=("sim-client", "sim-secret"),
        data={"grant_type": "password"},
        timeout=10,
    )
    assert grant.status_code == 400
    url = f"{sim.url}{JOBS}/availability"
    assert_error_body(requests.get(url, timeout=10), 401, "bad.credentials")
    garbage = {"Authorization": "Bearer not-a-token"}
    assert_error_body(requests.get(url, headers=garbage, timeout=10), 401, "bad.credentials")
    good = {"Authorization": f"Bearer {body['access_token']}"}
    r = requests.get(url, headers=good, timeout=10)
    assert r.status_code == 200
    for name in ("inin-ratelimit-count", "inin-ratelimit-allowed", "inin-ratelimit-reset"):
        assert name in r.headers


def test_expired_token_is_rejected(sim: Simulator) -> None:
    sim.set_faults(token_ttl_seconds=1)
    r = requests.post(
        f"{sim.url}/oauth/token",
        auth=("sim-client", "sim-secret"),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    assert r.json()["expires_in"] == 1
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    # A lower bound only: however slow the machine, the token is past its second of life.
    time.sleep(1.05)
    url = f"{sim.url}{JOBS}/availability"
    assert_error_body(requests.get(url, headers=headers, timeout=10), 401, "bad.credentials")


def test_token_max_uses_expires_a_token_at_a_counted_request(sim: Simulator) -> None:
    sim.set_faults(token_max_uses=2)
    headers = {"Authorization": f"Bearer {token(sim)}"}
    url = f"{sim.url}{JOBS}/availability"
    assert [requests.get(url, headers=headers, timeout=10).status_code for _ in range(2)] == [
        200,
        200,
    ]
    body = assert_error_body(requests.get(url, headers=headers, timeout=10), 401)
    assert body["message"] == "Authentication token has expired."
    assert sim.stats.faults["token_expired"] == 1


def test_an_unenforced_lifetime_counts_late_uses(sim: Simulator) -> None:
    sim.set_faults(token_ttl_seconds=1, token_expiry_enforced=False)
    headers = {"Authorization": f"Bearer {token(sim)}"}
    time.sleep(1.05)  # a lower bound: the token is past its announced second
    url = f"{sim.url}{JOBS}/availability"
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    assert sim.stats.faults["token_used_past_expiry"] == 1
    assert sim.stats.faults["token_expired"] == 0


# ---------------------------------------------------------------------------- jobs


def test_job_lifecycle(sim: Simulator, api: requests.Session) -> None:
    # A job that takes an hour is still queued whenever the test looks: no race with its end.
    sim.set_faults(job_latency_seconds=3600)
    slow = submit(api, sim, {"interval": "2024-01-05T00:00:00.000Z/2024-01-05T01:00:00.000Z"})
    status = api.get(f"{sim.url}{JOBS}/{slow}", timeout=10).json()
    assert status["state"] == "QUEUED"
    assert "completionDate" not in status
    assert_error_body(api.get(f"{sim.url}{JOBS}/{slow}/results", timeout=10), 400)
    assert api.delete(f"{sim.url}{JOBS}/{slow}", timeout=10).status_code == 204
    assert_error_body(api.get(f"{sim.url}{JOBS}/{slow}", timeout=10), 404)
    sim.set_faults(job_latency_seconds=0.05)
    job_id = submit(api, sim, {"interval": "2024-01-05T00:00:00.000Z/2024-01-05T01:00:00.000Z"})
    done = wait_done(api, sim, job_id)
    assert done["state"] == "FULFILLED"
    assert {"submissionDate", "completionDate", "expirationDate"} <= set(done)
    assert api.get(f"{sim.url}{JOBS}/{job_id}/results", timeout=10).status_code == 200
    assert api.delete(f"{sim.url}{JOBS}/{job_id}", timeout=10).status_code == 204
    assert_error_body(api.get(f"{sim.url}{JOBS}/{job_id}", timeout=10), 404)
    assert_error_body(api.get(f"{sim.url}{JOBS}/{job_id}/results", timeout=10), 404)
    assert_error_body(api.get(f"{sim.url}{JOBS}/no-such-job", timeout=10), 404)
    avail = api.get(f"{sim.url}{JOBS}/availability", timeout=10).json()
    assert avail == {"dataAvailabilityDate": iso(to_ms(sim.now))}
    stats = sim.stats
    assert stats.requests["job_submit"] == 2
    assert stats.requests["job_delete"] == 2
    assert stats.requests["availability"] == 1


def test_cursor_paging_matches_truth_with_start_day_semantics(
    sim: Simulator, api: requests.Session, ds: Dataset
) -> None:
    # Ends exactly at midnight, so Jan 12 is not touched; Jan 10 is touched from 05:00.
    body = {
        "interval": "2024-01-10T05:00:00.000Z/2024-01-12T00:00:00.000Z",
        "startOfDayIntervalMatching": True,
    }
    job_id = submit(api, sim, body)
    wait_done(api, sim, job_id)
    pages = fetch_all(api, sim, job_id, page_size=500)
    ids = [c["conversationId"] for page in pages for c in page]
    truth = list(ds.truth_ids(datetime(2024, 1, 10, tzinfo=UTC), datetime(2024, 1, 12, tzinfo=UTC)))
    assert ids == truth
    assert len(ids) == ds.count(
        datetime(2024, 1, 10, tzinfo=UTC), datetime(2024, 1, 12, tzinfo=UTC)
    )
    assert all(len(p) == 500 for p in pages[:-1])
    starts = [c["conversationStart"] for page in pages for c in page]
    assert starts == sorted(starts)
    result_pages = sim.stats.result_pages
    assert len(result_pages) == len(pages)
    assert set(result_pages.values()) == {1}
    record = pages[0][0]
    assert any("attributes" in p for p in record["participants"])


def test_job_lifetime_overlap_semantics(sim: Simulator, api: requests.Session, ds: Dataset) -> None:
    a, b = datetime(2024, 1, 10, 5, tzinfo=UTC), datetime(2024, 1, 10, 9, tzinfo=UTC)
    ids = run_job(api, sim, {"interval": f"{iso(to_ms(a))}/{iso(to_ms(b))}"}, page_size=1000)
    now_ms = to_ms(sim.now)
    expected = []
    for i in range(ds.index_at(to_ms(a) - 2 * 86_400_000), ds.index_at(to_ms(b))):
        core = ds.core(i)
        if core.start_ms < to_ms(b) and min(core.end_ms, now_ms) > to_ms(a):
            expected.append(core.conversation_id)
    assert ids == expected
    assert len(ids) > ds.count(a, b)  # includes conversations still running at 05:00


def test_job_and_truth_apply_the_same_filters(
    sim: Simulator, api: requests.Session, ds: Dataset
) -> None:
    conv_filters = [
        {"type": "and", "predicates": [{"dimension": "originatingDirection", "value": "inbound"}]}
    ]
    queue_id = ds.pools.queues[0]["id"]
    seg_filters = [
        {
            "type": "or",
            "clauses": [
                {"type": "and", "predicates": [{"dimension": "mediaType", "value": "email"}]},
                {"type": "and", "predicates": [{"dimension": "queueId", "value": queue_id}]},
            ],
        }
    ]
    body = {
        "interval": "2024-01-03T00:00:00.000Z/2024-01-04T00:00:00.000Z",
        "startOfDayIntervalMatching": True,
        "conversationFilters": conv_filters,
        "segmentFilters": seg_filters,
    }
    ids = run_job(api, sim, body, page_size=100)
    day, nxt = datetime(2024, 1, 3, tzinfo=UTC), datetime(2024, 1, 4, tzinfo=UTC)
    truth = list(ds.truth_ids(day, nxt, sim.now, conv_filters, seg_filters))
    assert ids == truth
    assert 0 < len(ids) < ds.count(day, nxt)
    r = api.post(
        sim.url + QUERY,
        json={
            "interval": body["interval"],
            "conversationFilters": conv_filters,
            "segmentFilters": seg_filters,
            "paging": {"pageSize": 100, "pageNumber": 1},
        },
        timeout=30,
    )
    assert r.json()["totalHits"] == len(truth)


def test_job_limit_and_descending_order(sim: Simulator, api: requests.Session, ds: Dataset) -> None:
    interval = "2024-01-03T00:00:00.000Z/2024-01-04T00:00:00.000Z"
    ids = run_job(
        api,
        sim,
        {"interval": interval, "startOfDayIntervalMatching": True, "limit": 150, "order": "desc"},
        page_size=100,
    )
    truth = list(ds.truth_ids(datetime(2024, 1, 3, tzinfo=UTC), datetime(2024, 1, 4, tzinfo=UTC)))
    assert ids == truth[::-1][:150]


def test_unknown_body_fields_and_bad_intervals(sim: Simulator, api: requests.Session) -> None:
    interval = "2024-01-03T00:00:00.000Z/2024-01-04T00:00:00.000Z"
    for extra in ("paging", "viewId", "aggregations"):
        r = api.post(sim.url + JOBS, json={"interval": interval, extra: {}}, timeout=10)
        assert extra in assert_error_body(r, 400, "bad.request")["message"]
    for extra in ("limit", "startOfDayIntervalMatching", "pageSize"):
        r = api.post(sim.url + QUERY, json={"interval": interval, extra: 1}, timeout=10)
        assert extra in assert_error_body(r, 400, "bad.request")["message"]
    for bad in ("yesterday", "2024-01-04T00:00:00Z/2024-01-03T00:00:00Z", 5):
        assert_error_body(api.post(sim.url + JOBS, json={"interval": bad}, timeout=10), 400)
        assert_error_body(api.post(sim.url + QUERY, json={"interval": bad}, timeout=10), 400)
    bad_filter = {"interval": interval, "segmentFilters": [{"type": "xor", "predicates": []}]}
    assert_error_body(api.post(sim.url + JOBS, json=bad_filter, timeout=10), 400)
    assert_error_body(api.post(sim.url + JOBS, data="{not json", timeout=10), 400)


def test_results_page_size_caps_and_bad_cursor(sim: Simulator, api: requests.Session) -> None:
    job_id = submit(api, sim, {"interval": "2024-01-05T00:00:00.000Z/2024-01-06T00:00:00.000Z"})
    wait_done(api, sim, job_id)
    url = f"{sim.url}{JOBS}/{job_id}/results"
    default = api.get(url, timeout=10).json()
    assert len(default["conversations"]) == 100
    assert api.get(url, params={"pageSize": 1000}, timeout=30).status_code == 200
    assert_error_body(api.get(url, params={"pageSize": 1001}, timeout=10), 400)
    sim.set_faults(max_results_page_size=50)
    assert_error_body(api.get(url, params={"pageSize": 51}, timeout=10), 400)
    assert_error_body(api.get(url, params={"cursor": "garbage!!"}, timeout=10), 400)
    forged = base64.urlsafe_b64encode(b'{"s":"x","p":1,"r":0,"n":1}').decode()
    assert_error_body(api.get(url, params={"cursor": forged}, timeout=10), 400)


# ---------------------------------------------------------------------------- query


def test_query_paging_caps_and_total_hits(
    sim: Simulator, api: requests.Session, ds: Dataset
) -> None:
    interval = "2024-01-07T10:00:00.000Z/2024-01-07T11:00:00.000Z"
    day, nxt = datetime(2024, 1, 7, tzinfo=UTC), datetime(2024, 1, 8, tzinfo=UTC)
    truth = list(ds.truth_ids(day, nxt))
    r = api.post(sim.url + QUERY, json={"interval": interval}, timeout=10)
    data = r.json()
    assert data["totalHits"] == len(truth)
    assert [c["conversationId"] for c in data["conversations"]] == truth[:25]
    assert all("attributes" not in p for c in data["conversations"] for p in c["participants"])
    got: list[str] = []
    page = 1
    while True:
        body = {"interval": interval, "paging": {"pageSize": 100, "pageNumber": page}}
        data = api.post(sim.url + QUERY, json=body, timeout=10).json()
        if "conversations" not in data:
            break
        got += [c["conversationId"] for c in data["conversations"]]
        page += 1
    assert got == truth
    too_big = {"interval": interval, "paging": {"pageSize": 101, "pageNumber": 1}}
    assert_error_body(api.post(sim.url + QUERY, json=too_big, timeout=10), 400)
    too_deep = {"interval": interval, "paging": {"pageSize": 100, "pageNumber": 1001}}
    msg = assert_error_body(api.post(sim.url + QUERY, json=too_deep, timeout=10), 400)["message"]
    assert msg == "Pagination may not exceed 100000 results."
    eight_days = "2024-01-01T00:00:00.000Z/2024-01-09T00:00:00.000Z"
    assert_error_body(api.post(sim.url + QUERY, json={"interval": eight_days}, timeout=10), 400)
    flt = [
        {"type": "and", "predicates": [{"dimension": "originatingDirection", "value": "outbound"}]}
    ]
    ok = api.post(
        sim.url + QUERY, json={"interval": eight_days, "conversationFilters": flt}, timeout=30
    )
    assert ok.status_code == 200
    long_iv = "2024-01-01T00:00:00.000Z/2024-02-02T00:00:00.000Z"
    r = api.post(
        sim.url + QUERY, json={"interval": long_iv, "conversationFilters": flt}, timeout=10
    )
    assert_error_body(r, 400)


def test_query_only_sees_started_conversations(
    sim: Simulator, api: requests.Session, ds: Dataset
) -> None:
    sim.now = datetime(2024, 1, 7, 10, 30, tzinfo=UTC)
    interval = "2024-01-07T10:00:00.000Z/2024-01-07T11:00:00.000Z"
    data = api.post(sim.url + QUERY, json={"interval": interval}, timeout=10).json()
    expected = ds.count(datetime(2024, 1, 7, tzinfo=UTC), datetime(2024, 1, 8, tzinfo=UTC), sim.now)
    assert data["totalHits"] == expected
    truth = list(
        ds.truth_ids(datetime(2024, 1, 7, tzinfo=UTC), datetime(2024, 1, 8, tzinfo=UTC), sim.now)
    )
    assert len(truth) == expected
    # The latest conversations are still live: no conversationEnd yet.
    last = ds.conversation(ds.index_at(to_ms(sim.now)) - 1, sim.now)
    assert "conversationEnd" not in last


# ---------------------------------------------------------------------------- data


def test_live_long_conversations_and_late_corrections(ds: Dataset) -> None:
    longs = [i for i in range(3000) if ds.core(i).long]
    corrected = [i for i in range(3000) if ds.core(i).corrected]
    assert 10 <= len(longs) <= 60
    assert 100 <= len(corrected) <= 220
    core = ds.core(longs[0])
    mid = datetime.fromtimestamp((core.start_ms + core.end_ms) / 2000, tz=UTC)
    live = ds.conversation(core.index, mid)
    assert "conversationEnd" not in live
    later = ds.conversation(core.index, mid + timedelta(days=3))
    assert "conversationEnd" in later
    assert later["conversationId"] == live["conversationId"]
    c = ds.core(corrected[0])
    before = ds.conversation(
        c.index, datetime.fromtimestamp(c.start_ms / 1000, UTC) + timedelta(days=1)
    )
    after = ds.conversation(
        c.index, datetime.fromtimestamp(c.start_ms / 1000, UTC) + timedelta(days=3)
    )
    assert before != after
    assert len(after.get("surveys", [])) == len(before.get("surveys", [])) + 1

    def settled(record: dict) -> dict:
        # Evaluations and surveys keep changing for weeks (test_quality); the rest is final.
        return {k: v for k, v in record.items() if k not in ("evaluations", "surveys")}

    assert settled(ds.conversation(c.index)) == settled(after)


def test_record_shape(ds: Dataset) -> None:
    sizes = []
    media = set()
    for i in range(300):
        rec = ds.conversation(i)
        sizes.append(len(json.dumps(rec)))
        assert rec["conversationStart"].endswith("Z")
        assert len(rec["conversationStart"]) == 24
        assert rec["originatingDirection"] in ("inbound", "outbound")
        for p in rec["participants"]:
            assert p["purpose"] in ("customer", "ivr", "acd", "agent", "external")
            if p["purpose"] == "agent":
                assert p["userId"] in {u["id"] for u in ds.pools.users}
            for s in p["sessions"]:
                media.add(s["mediaType"])
                for m in s.get("metrics", []):
                    assert isinstance(m["value"], int)
                for seg in s["segments"]:
                    assert "segmentType" in seg
        text = json.dumps(rec)
        assert "null" not in text
        assert "[]" not in text
    assert 3500 < sum(sizes) / len(sizes) < 6500
    assert media == {"voice", "chat", "email", "message", "callback"}


def test_data_is_deterministic(ds: Dataset) -> None:
    other = Dataset(seed=7, start=START, days=30, conversations=20_000)
    for i in (0, 1, 777, 19_999):
        assert other.conversation(i) == ds.conversation(i)
    different = Dataset(seed=8, start=START, days=30, conversations=20_000)
    assert different.conversation(5)["conversationId"] != ds.conversation(5)["conversationId"]
    starts = [ds.start_of(i) for i in range(0, 20_000, 97)]
    assert starts == sorted(starts)


def _count_generation(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """Count every conversation the simulator derives (``core``) or renders (``record``).

    Work is measured in conversations touched, not seconds, so the bound holds on any machine.
    """
    calls: collections.Counter[str] = collections.Counter()
    for name in ("core", "record"):
        original = getattr(Dataset, name)

        def counted(self: Dataset, *args: Any, _name: str = name, _f: Any = original, **kw: Any):
            calls[_name] += 1
            return _f(self, *args, **kw)

        monkeypatch.setattr(Dataset, name, counted)
    return calls


def test_size_costs_neither_memory_nor_work(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_generation(monkeypatch)
    tracemalloc.start()
    big = Dataset(seed=1, start=START, days=365, conversations=10_000_000)
    rec = big.conversation(9_999_999)
    n = big.count(START, START + timedelta(days=1))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2_000_000
    assert rec["conversationId"]
    assert 27_000 < n < 28_000
    # Ten million conversations: building, counting a day and rendering one touch one each.
    assert calls["record"] == 1
    assert calls["core"] <= 2


def test_page_of_1000_renders_only_its_records(
    sim: Simulator, api: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = submit(api, sim, {"interval": "2024-01-02T00:00:00.000Z/2024-01-04T00:00:00.000Z"})
    wait_done(api, sim, job_id)
    calls = _count_generation(monkeypatch)
    r = api.get(f"{sim.url}{JOBS}/{job_id}/results", params={"pageSize": 1000}, timeout=30)
    assert len(r.json()["conversations"]) == 1000
    # The page costs its own records and a look at the next one, not the job's ~1,300.
    assert 1000 <= calls["record"] <= 1001
    assert r.headers["Content-Encoding"] == "gzip"
    assert int(r.headers["Content-Length"]) < len(r.content)
    plain = api.get(
        f"{sim.url}{JOBS}/{job_id}/results",
        params={"pageSize": 10},
        headers={"Accept-Encoding": "identity"},
        timeout=30,
    )
    assert "Content-Encoding" not in plain.headers
    assert int(plain.headers["Content-Length"]) == len(plain.content)


# ---------------------------------------------------------------------------- faults


def test_fault_error_rate(sim: Simulator, api: requests.Session) -> None:
    url = f"{sim.url}{JOBS}/availability"
    sim.set_faults(error_rate=1.0, error_statuses=(503,))
    assert_error_body(api.get(url, timeout=10), 503)
    sim.set_faults(error_statuses=(429,))
    r = api.get(url, timeout=10)
    body = assert_error_body(r, 429, "too.many.requests.retry.after")
    assert r.headers["Retry-After"] == "1"
    assert body["message"] == "Rate limit exceeded the maximum. Retry the request in [1] seconds"
    sim.set_faults(error_rate=0.3, error_statuses=(500, 502))
    statuses = {api.get(url, timeout=10).status_code for _ in range(40)}
    assert statuses == {200, 500, 502}


def test_fault_cut_body(sim: Simulator, api: requests.Session) -> None:
    job_id = submit(api, sim, {"interval": "2024-01-05T00:00:00.000Z/2024-01-06T00:00:00.000Z"})
    wait_done(api, sim, job_id)
    sim.set_faults(cut_body_rate=1.0)
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(
            f"{sim.url}{JOBS}/{job_id}/results",
            headers=api.headers,
            params={"pageSize": 200},
            timeout=10,
        ).json()
    sim.set_faults(cut_body_rate=0.0)
    assert api.get(f"{sim.url}{JOBS}/{job_id}/results", timeout=10).status_code == 200


def test_fault_bad_json(sim: Simulator, api: requests.Session) -> None:
    job_id = submit(api, sim, {"interval": "2024-01-05T00:00:00.000Z/2024-01-06T00:00:00.000Z"})
    wait_done(api, sim, job_id)
    sim.set_faults(bad_json_rate=1.0)
    url = f"{sim.url}{JOBS}/{job_id}/results"
    first, second = api.get(url, timeout=10), api.get(url, timeout=10)
    assert first.status_code == second.status_code == 200
    with pytest.raises(requests.exceptions.JSONDecodeError):
        first.json()
    assert "conversations" not in second.json()


def test_fault_job_fail_once(sim: Simulator, api: requests.Session) -> None:
    sim.set_faults(job_fail_once=True)
    body = {"interval": "2024-01-08T00:00:00.000Z/2024-01-08T02:00:00.000Z"}
    failed = wait_done(api, sim, submit(api, sim, body))
    assert failed["state"] == "FAILED"
    assert failed["errorMessage"]
    assert wait_done(api, sim, submit(api, sim, body))["state"] == "FULFILLED"


def test_fault_job_expiry(sim: Simulator, api: requests.Session) -> None:
    # Expiry at 0 s: the job is expired as soon as it is done, whenever the test looks.
    sim.set_faults(job_expire_seconds=0)
    job_id = submit(api, sim, {"interval": "2024-01-08T00:00:00.000Z/2024-01-08T02:00:00.000Z"})
    status = wait_done(api, sim, job_id)
    assert status["state"] == "EXPIRED"
    assert status["expirationDate"] == status["completionDate"]
    assert_error_body(api.get(f"{sim.url}{JOBS}/{job_id}/results", timeout=10), 404)
    assert sim.stats.faults["job_expired"] >= 2


def test_expire_jobs_ends_a_fulfilled_job(sim: Simulator, api: requests.Session) -> None:
    job_id = submit(api, sim, {"interval": "2024-01-08T00:00:00.000Z/2024-01-08T02:00:00.000Z"})
    assert wait_done(api, sim, job_id)["state"] == "FULFILLED"
    assert sim.expire_jobs() >= 1
    assert api.get(f"{sim.url}{JOBS}/{job_id}", timeout=10).json()["state"] == "EXPIRED"
    assert_error_body(api.get(f"{sim.url}{JOBS}/{job_id}/results", timeout=10), 404)


def test_complete_jobs_max_holds_later_jobs_until_lifted(
    sim: Simulator, api: requests.Session
) -> None:
    sim.set_faults(complete_jobs_max=1)
    body = {"interval": "2024-01-08T00:00:00.000Z/2024-01-08T02:00:00.000Z"}
    first, second = submit(api, sim, body), submit(api, sim, body)
    assert wait_done(api, sim, first)["state"] == "FULFILLED"
    for _ in range(3):  # however long it is polled, the held job does not finish
        assert api.get(f"{sim.url}{JOBS}/{second}", timeout=10).json()["state"] == "PENDING"
    assert_error_body(api.get(f"{sim.url}{JOBS}/{second}/results", timeout=10), 400)
    assert sim.stats.faults["job_held"] == 3
    sim.set_faults(complete_jobs_max=None)
    assert wait_done(api, sim, second)["state"] == "FULFILLED"


def test_hold_jobs_interval_holds_the_jobs_that_start_inside_it(
    sim: Simulator, api: requests.Session
) -> None:
    sim.set_faults(hold_jobs_interval="2024-01-08T00:00:00.000Z/2024-01-09T00:00:00.000Z")
    inside = submit(api, sim, {"interval": "2024-01-08T02:00:00.000Z/2024-01-10T00:00:00.000Z"})
    before = submit(api, sim, {"interval": "2024-01-07T00:00:00.000Z/2024-01-08T12:00:00.000Z"})
    after = submit(api, sim, {"interval": "2024-01-09T00:00:00.000Z/2024-01-10T00:00:00.000Z"})
    # Whatever the order of submission, only the job starting inside the interval is held.
    assert wait_done(api, sim, before)["state"] == "FULFILLED"
    assert wait_done(api, sim, after)["state"] == "FULFILLED"
    for _ in range(3):  # however long it is polled, the held job does not finish
        assert api.get(f"{sim.url}{JOBS}/{inside}", timeout=10).json()["state"] == "PENDING"
    assert sim.stats.faults["job_held"] == 3
    sim.set_faults(hold_jobs_interval=None)
    assert wait_done(api, sim, inside)["state"] == "FULFILLED"


def test_fault_job_cancel_once(sim: Simulator, api: requests.Session) -> None:
    sim.set_faults(job_cancel_once=True)
    body = {"interval": "2024-01-08T00:00:00.000Z/2024-01-08T02:00:00.000Z"}
    cancelled = wait_done(api, sim, submit(api, sim, body))
    assert cancelled["state"] == "CANCELLED"
    assert cancelled["errorMessage"]
    assert "completionDate" in cancelled
    assert sim.stats.faults["job_cancelled"] == 1
    assert wait_done(api, sim, submit(api, sim, body))["state"] == "FULFILLED"


def test_fault_repeat_records(sim: Simulator, api: requests.Session, ds: Dataset) -> None:
    sim.set_faults(repeat_records=5)
    body = {
        "interval": "2024-01-09T00:00:00.000Z/2024-01-10T00:00:00.000Z",
        "startOfDayIntervalMatching": True,
    }
    job_id = submit(api, sim, body)
    wait_done(api, sim, job_id)
    pages = [[c["conversationId"] for c in p] for p in fetch_all(api, sim, job_id, page_size=100)]
    assert len(pages) > 2
    for prev, page in itertools.pairwise(pages):
        assert page[:5] == prev[-5:]
    flat = [i for p in pages for i in p]
    truth = list(ds.truth_ids(datetime(2024, 1, 9, tzinfo=UTC), datetime(2024, 1, 10, tzinfo=UTC)))
    assert list(dict.fromkeys(flat)) == truth
    assert len(flat) > len(truth)


def test_fault_truncate_jobs(sim: Simulator, api: requests.Session, ds: Dataset) -> None:
    sim.set_faults(truncate_jobs_over=120)
    interval = "2024-01-09T00:00:00.000Z/2024-01-10T00:00:00.000Z"
    ids = run_job(
        api, sim, {"interval": interval, "startOfDayIntervalMatching": True}, page_size=50
    )
    truth = list(ds.truth_ids(datetime(2024, 1, 9, tzinfo=UTC), datetime(2024, 1, 10, tzinfo=UTC)))
    assert ids == truth[:120]
    data = api.post(sim.url + QUERY, json={"interval": interval}, timeout=10).json()
    assert data["totalHits"] == len(truth)


def test_fault_rate_limit(sim: Simulator, api: requests.Session) -> None:
    sim.set_faults(rate_limit_per_minute=3)
    url = f"{sim.url}{JOBS}/availability"
    codes = [api.get(url, timeout=10) for _ in range(5)]
    assert [r.status_code for r in codes] == [200, 200, 200, 429, 429]
    body = assert_error_body(codes[3], 429, "too.many.requests.retry.after")
    wait = int(codes[3].headers["Retry-After"])
    assert 1 <= wait <= 60
    assert (
        body["message"] == f"Rate limit exceeded the maximum. Retry the request in [{wait}] seconds"
    )
    assert codes[0].headers["inin-ratelimit-allowed"] == "3"
    stats = sim.stats
    assert stats.rate_limited == 2
    assert stats.max_requests_per_60s >= 5
    assert stats.statuses[429] == 2
    sim.set_faults(rate_limit_per_minute=None)
    sim.reset_stats()
    time.sleep(0)  # the limiter window persists, but no limit is enforced any more
    assert api.get(url, timeout=10).status_code == 200


def test_fault_availability_lag(sim: Simulator, api: requests.Session, ds: Dataset) -> None:
    sim.now = datetime(2024, 1, 12, 12, tzinfo=UTC)
    sim.set_faults(availability_lag_seconds=6 * 3600)
    avail = api.get(f"{sim.url}{JOBS}/availability", timeout=10).json()["dataAvailabilityDate"]
    assert avail == "2024-01-12T06:00:00.000Z"
    body = {
        "interval": "2024-01-12T00:00:00.000Z/2024-01-13T00:00:00.000Z",
        "startOfDayIntervalMatching": True,
    }
    ids = run_job(api, sim, body, page_size=1000)
    cutoff = datetime(2024, 1, 12, 6, tzinfo=UTC)
    assert ids == list(ds.truth_ids(datetime(2024, 1, 12, tzinfo=UTC), cutoff))


def test_fault_page_cache(sim: Simulator, api: requests.Session) -> None:
    sim.set_faults(page_cache_bytes=50_000_000)
    body = {"interval": "2024-01-15T00:00:00.000Z/2024-01-16T00:00:00.000Z"}
    first = run_job(api, sim, body, page_size=300)
    second = run_job(api, sim, body, page_size=300)
    assert first == second
    assert sim.stats.records_served == 2 * len(first)


# ---------------------------------------------------------------------------- control plane, CLI


def test_control_endpoints(sim: Simulator, api: requests.Session, ds: Dataset) -> None:
    api.get(f"{sim.url}{JOBS}/availability", timeout=10)
    stats = requests.get(f"{sim.url}/_sim/stats", timeout=10).json()
    assert stats["requests"]["availability"] == 1
    r = requests.post(f"{sim.url}/_sim/faults", json={"error_rate": 0.5}, timeout=10)
    assert r.json()["error_rate"] == 0.5
    assert sim.faults.error_rate == 0.5
    assert requests.post(f"{sim.url}/_sim/faults", json={"nope": 1}, timeout=10).status_code == 400
    text = requests.get(
        f"{sim.url}/_sim/truth",
        params={"start": "2024-01-03T00:00:00Z", "end": "2024-01-03T06:00:00Z"},
        timeout=10,
    ).text
    day = datetime(2024, 1, 3, tzinfo=UTC)
    assert text.split() == list(ds.truth_ids(day, day + timedelta(hours=6)))


def test_cli_serves_until_sigterm() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genesys_simulator",
            "--port",
            "0",
            "--conversations",
            "1000",
            "--days",
            "5",
            "--faults",
            '{"job_latency_seconds": 0}',
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("Genesys simulator on http://127.0.0.1:")
        assert line.endswith("(client_id=sim-client)")
        url = line.split()[3]
        r = requests.post(
            f"{url}/oauth/token",
            auth=("sim-client", "sim-secret"),
            data={"grant_type": "client_credentials"},
            timeout=10,
        )
        assert r.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_gzip_roundtrip_of_cached_page(sim: Simulator, api: requests.Session) -> None:
    sim.set_faults(page_cache_bytes=10_000_000)
    job_id = submit(api, sim, {"interval": "2024-01-16T00:00:00.000Z/2024-01-16T01:00:00.000Z"})
    wait_done(api, sim, job_id)
    raw = api.get(f"{sim.url}{JOBS}/{job_id}/results", stream=True, timeout=10).raw.read(
        decode_content=False
    )
    assert json.loads(gzip.decompress(raw))["conversations"]


# ------------------------------------------------------------------ users, aggregates, directory

USER_JOBS = "/api/v2/analytics/users/details/jobs"
AGGREGATES = "/api/v2/analytics/conversations/aggregates/query"


def fetch_user_details(
    api: requests.Session, sim: Simulator, body: dict[str, Any], page_size: int = 25
) -> list[dict[str, Any]]:
    r = api.post(sim.url + USER_JOBS, json=body, timeout=10)
    assert r.status_code == 202, r.text
    job_id = r.json()["jobId"]
    for _ in range(200):
        state = api.get(f"{sim.url}{USER_JOBS}/{job_id}", timeout=10).json()["state"]
        if state == "FULFILLED":
            break
        time.sleep(0.02)
    details: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"pageSize": page_size, **({"cursor": cursor} if cursor else {})}
        data = api.get(f"{sim.url}{USER_JOBS}/{job_id}/results", params=params, timeout=10).json()
        assert "dataAvailabilityDate" in data
        details += data.get("userDetails", [])
        cursor = data.get("cursor")
        if not cursor:
            break
    assert api.delete(f"{sim.url}{USER_JOBS}/{job_id}", timeout=10).status_code == 204
    assert api.get(f"{sim.url}{USER_JOBS}/{job_id}", timeout=10).status_code == 404
    return details


def test_user_details_job(sim: Simulator, api: requests.Session, ds: Dataset) -> None:
    body = {"interval": "2024-01-10T00:00:00.000Z/2024-01-11T00:00:00.000Z"}
    details = fetch_user_details(api, sim, body)
    assert [d["userId"] for d in details] == [u["id"] for u in ds.pools.users]
    presence_ids = {p["id"] for p in ds.pools.presences}
    for detail in details:
        assert detail["primaryPresence"]
        assert detail["routingStatus"]
        for item in detail["primaryPresence"]:
            assert item["organizationPresenceId"] in presence_ids
            assert item["startTime"] < "2024-01-11T00:00:00.000Z"
            assert item["endTime"] > "2024-01-10T00:00:00.000Z"
        statuses = {i["routingStatus"] for i in detail["routingStatus"]}
        assert statuses <= {"OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING"}
    assert details == fetch_user_details(api, sim, body, page_size=7)
    on_queue = fetch_user_details(
        api,
        sim,
        {
            **body,
            "presenceFilters": [
                {"type": "or", "predicates": [{"dimension": "systemPresence", "value": "ON_QUEUE"}]}
            ],
        },
    )
    assert on_queue
    assert {i["systemPresence"] for d in on_queue for i in d.get("primaryPresence", [])} == {
        "ON_QUEUE"
    }
    bad = api.post(
        sim.url + USER_JOBS, json={**body, "startOfDayIntervalMatching": True}, timeout=10
    )
    assert_error_body(bad, 400)
    assert_error_body(api.get(f"{sim.url}{JOBS}/{'0' * 8}", timeout=10), 404)
    assert api.get(f"{sim.url}{USER_JOBS}/availability", timeout=10).status_code == 200


def test_user_details_are_live_at_the_clock(sim: Simulator, api: requests.Session) -> None:
    sim.now = datetime(2024, 1, 10, 12, tzinfo=UTC)
    data = api.post(
        sim.url + "/api/v2/analytics/users/details/query",
        json={
            "interval": "2024-01-10T00:00:00.000Z/2024-01-11T00:00:00.000Z",
            "paging": {"pageSize": 100, "pageNumber": 1},
        },
        timeout=10,
    ).json()
    assert data["totalHits"] == 60
    for detail in data["userDetails"]:
        last = detail["primaryPresence"][-1]
        assert last["startTime"] <= "2024-01-10T12:00:00.000Z"
        assert "endTime" not in last


USERS_QUERY = "/api/v2/analytics/users/details/query"


def _users_query(
    api: requests.Session, sim: Simulator, interval: str, page: int, size: int = 25, **kw: Any
) -> requests.Response:
    body = {"interval": interval, "paging": {"pageSize": size, "pageNumber": page}, **kw}
    return api.post(sim.url + USERS_QUERY, json=body, timeout=30)


def test_users_query_counts_and_pages_user_days(
    sim: Simulator, api: requests.Session, ds: Dataset
) -> None:
    interval = "2024-01-10T00:00:00.000Z/2024-01-13T00:00:00.000Z"
    users = len(ds.pools.users)
    pages: list[dict[str, Any]] = []
    while True:
        data = _users_query(api, sim, interval, len(pages) + 1).json()
        assert data["totalHits"] == 3 * users, "one status record per user and day"
        if "userDetails" not in data:
            break  # the page after the last: the API leaves the empty array out
        pages.append(data)
    assert len(pages) == 3 * users // 25 + 1
    items = [d for page in pages for d in page["userDetails"]]
    assert all(len(page["userDetails"]) < 25 for page in pages), "a user's days are merged"
    assert {d["userId"] for d in items} == {u["id"] for u in ds.pools.users}
    assert len(items) > users, "a user whose days straddle two pages is on both"

    # The pieces of a user's timeline on the pages add up to the job's detail of the user; a
    # status that runs across the days two pages split is whole on both.
    job = {d["userId"]: d for d in fetch_user_details(api, sim, {"interval": interval})}
    merged: dict[str, dict[str, Any]] = {}
    for item in items:
        for status in item["primaryPresence"]:
            merged.setdefault(item["userId"], {})[status["startTime"]] = status
    assert {user: list(by_start.values()) for user, by_start in merged.items()} == {
        user: detail["primaryPresence"] for user, detail in job.items()
    }


def test_user_statuses_are_served_whole_to_every_job_they_overlap(
    sim: Simulator, api: requests.Session
) -> None:
    """A status is one record per change, never clipped to the interval asked for."""
    monday = "2024-01-08T00:00:00.000Z"
    friday = fetch_user_details(api, sim, {"interval": f"2024-01-05T00:00:00.000Z/{monday}"})
    before = sim.stats.faults["status_in_two_jobs"]
    week = fetch_user_details(api, sim, {"interval": f"{monday}/2024-01-15T00:00:00.000Z"})
    statuses = {
        (d["userId"], s["startTime"]): s for d in week for s in d.get("primaryPresence", ())
    }
    across = [
        s
        for d in friday
        for s in d.get("primaryPresence", ())
        if s["endTime"] > monday and (d["userId"], s["startTime"]) in statuses
    ]
    assert across, "statuses running over the weekend are in both jobs"
    assert all(s["startTime"] < monday for s in across)
    for d in friday:
        for s in d.get("primaryPresence", ()):
            if (d["userId"], s["startTime"]) in statuses:
                assert statuses[d["userId"], s["startTime"]] == s, "the same status, whole"
    assert sim.stats.faults["status_in_two_jobs"] - before >= len(across)
    starts = [s["startTime"] for d in week for s in d["primaryPresence"]]
    assert min(starts) < "2024-01-06", "one OFFLINE record can span a whole weekend"


def test_users_query_interval_limits(sim: Simulator, api: requests.Session, ds: Dataset) -> None:
    week = "2024-01-01T00:00:00.000Z/2024-01-08T00:00:00.000Z"
    assert _users_query(api, sim, week, 1).status_code == 200
    over = _users_query(api, sim, "2024-01-01T00:00:00.000Z/2024-01-08T00:00:00.001Z", 1)
    assert "7 days without filters" in assert_error_body(over, 400)["message"]
    one_user = {
        "userFilters": [
            {
                "type": "or",
                "predicates": [{"dimension": "userId", "value": ds.pools.users[0]["id"]}],
            }
        ]
    }
    month = "2024-01-01T00:00:00.000Z/2024-02-01T00:00:00.000Z"
    filtered = _users_query(api, sim, month, 1, **one_user)
    assert filtered.status_code == 200, filtered.text
    assert filtered.json()["totalHits"] == 31
    longer = _users_query(
        api, sim, "2024-01-01T00:00:00.000Z/2024-02-02T00:00:00.000Z", 1, **one_user
    )
    assert "31 days when filters are used" in assert_error_body(longer, 400)["message"]


def test_user_job_without_records_has_no_user_details_key(
    sim: Simulator, api: requests.Session
) -> None:
    body = {
        "interval": "2024-01-10T00:00:00.000Z/2024-01-11T00:00:00.000Z",
        "userFilters": [{"type": "or", "predicates": [{"dimension": "userId", "value": "nobody"}]}],
    }
    r = api.post(sim.url + USER_JOBS, json=body, timeout=10)
    job_id = r.json()["jobId"]
    for _ in range(200):
        if api.get(f"{sim.url}{USER_JOBS}/{job_id}", timeout=10).json()["state"] == "FULFILLED":
            break
        time.sleep(0.02)
    page = api.get(f"{sim.url}{USER_JOBS}/{job_id}/results", timeout=10).json()
    assert "userDetails" not in page
    assert "cursor" not in page
    assert "dataAvailabilityDate" in page


def test_some_agents_have_left_and_are_still_in_user_details(
    sim: Simulator, api: requests.Session, ds: Dataset
) -> None:
    inactive = {u["id"] for u in ds.pools.users if u["state"] == "inactive"}
    assert 0 < len(inactive) < len(ds.pools.users)
    assert {u["state"] for u in ds.pools.users} == {"active", "inactive"}
    body = {"interval": "2024-01-10T00:00:00.000Z/2024-01-11T00:00:00.000Z"}
    assert inactive <= {d["userId"] for d in fetch_user_details(api, sim, body)}


def test_aggregates_agree_with_details(sim: Simulator, api: requests.Session, ds: Dataset) -> None:
    interval = "2024-01-10T00:00:00.000Z/2024-01-11T00:00:00.000Z"
    body = {
        "interval": interval,
        "granularity": "PT6H",
        "groupBy": ["queueId"],
        "metrics": ["nOffered", "tHandle"],
        "filter": {"type": "and", "predicates": [{"dimension": "mediaType", "value": "voice"}]},
    }
    r = api.post(sim.url + AGGREGATES, json=body, timeout=30)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    offered: dict[str, int] = {}
    for result in results:
        assert set(result["group"]) == {"queueId"}
        for bucket in result["data"]:
            start, _end = bucket["interval"].split("/")
            assert start.endswith(
                ("T00:00:00.000Z", "T06:00:00.000Z", "T12:00:00.000Z", "T18:00:00.000Z")
            )
            for m in bucket["metrics"]:
                if m["metric"] == "nOffered":
                    offered[result["group"]["queueId"]] = (
                        offered.get(result["group"]["queueId"], 0) + m["stats"]["count"]
                    )
                else:
                    assert set(m["stats"]) == {"max", "min", "count", "sum"}
    expected: dict[str, int] = {}
    a, b = to_ms(datetime(2024, 1, 10, tzinfo=UTC)), to_ms(datetime(2024, 1, 11, tzinfo=UTC))
    for i in range(ds.index_at(a - 2 * 86_400_000), ds.index_at(b)):
        rec = ds.conversation(i, sim.now, attributes=False)
        for p in rec.get("participants", []):
            for s in p["sessions"]:
                for m in s.get("metrics", []):
                    emitted = iso(a) <= m["emitDate"] < iso(b)
                    if m["name"] == "nOffered" and emitted and s["mediaType"] == "voice":
                        q = s["segments"][0]["queueId"]
                        expected[q] = expected.get(q, 0) + m["value"]
    assert offered == expected
    assert set(offered) <= {q["id"] for q in ds.pools.queues}
    for bad in (
        {**body, "metrics": ["nBogus"]},
        {**body, "granularity": "P1M"},
        {**body, "viewId": "x"},
        {**body, "interval": "nope"},
    ):
        assert_error_body(api.post(sim.url + AGGREGATES, json=bad, timeout=10), 400)


def list_all(
    api: requests.Session, sim: Simulator, path: str, page_size: int, **filters: str
) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    page = 1
    while True:
        data = api.get(
            sim.url + path,
            params={"pageSize": page_size, "pageNumber": page, **filters},
            timeout=10,
        ).json()
        assert data["pageSize"] == page_size
        assert data["pageNumber"] == page
        entities += data["entities"]
        if page >= data["pageCount"]:
            assert "nextUri" not in data
            assert data["total"] == len(entities)
            return entities
        shown = "".join(f"&{k}={v}" for k, v in filters.items())
        assert data["nextUri"] == f"{path}?pageSize={page_size}&pageNumber={page + 1}{shown}"
        page += 1


def test_directory_listings_match_conversation_ids(
    sim: Simulator, api: requests.Session, ds: Dataset
) -> None:
    queues = {e["id"] for e in list_all(api, sim, "/api/v2/routing/queues", 5)}
    users = {e["id"] for e in list_all(api, sim, "/api/v2/users", 25, state="any")}
    codes = {e["id"] for e in list_all(api, sim, "/api/v2/routing/wrapupcodes", 4)}
    divisions = {e["id"] for e in list_all(api, sim, "/api/v2/authorization/divisions", 2)}
    assert len(list_all(api, sim, "/api/v2/routing/skills", 3)) == len(ds.pools.skills)
    assert len(list_all(api, sim, "/api/v2/groups", 25)) == len(ds.pools.groups)
    presences = api.get(sim.url + "/api/v2/presence/definitions", timeout=10).json()
    assert presences["total"] == len(presences["entities"]) == 8
    assert not any(p["deactivated"] for p in presences["entities"])
    off = api.get(
        sim.url + "/api/v2/presence/definitions", params={"deactivated": "TRUE"}, timeout=10
    ).json()
    assert {p["systemPresence"] for p in off["entities"]} == {"Meeting", "Training"}
    assert all(p["deactivated"] for p in off["entities"])
    by_state = {
        state: {
            e["id"]
            for e in list_all(api, sim, "/api/v2/users", 25, state=state)
            if e["state"] == state
        }
        for state in ("active", "inactive", "deleted")
    }
    assert [len(by_state[k]) for k in ("active", "inactive", "deleted")] == [52, 5, 3]
    assert {e["id"] for e in list_all(api, sim, "/api/v2/users", 25)} == by_state["active"]
    assert (len(queues), len(users), len(codes), len(divisions)) == (12, 60, 15, 3)
    for i in range(0, 2000, 7):
        rec = ds.conversation(i)
        assert set(rec["divisionIds"]) <= divisions
        for p in rec["participants"]:
            if "userId" in p:
                assert p["userId"] in users
            for s in p["sessions"]:
                for seg in s["segments"]:
                    assert seg.get("queueId", next(iter(queues))) in queues
                    code = seg.get("wrapUpCode", next(iter(codes)))
                    # System codes (ININ-WRAP-UP-TIMEOUT) are not listed, as in the real API.
                    assert code in codes or code.startswith("ININ-")
    bad_state = api.get(sim.url + "/api/v2/users", params={"state": "gone"}, timeout=10)
    assert_error_body(bad_state, 400)
    default = api.get(sim.url + "/api/v2/users", timeout=10).json()
    assert default["pageSize"] == 25
    assert len(default["entities"]) == 25
    too_big = api.get(sim.url + "/api/v2/users", params={"pageSize": 501}, timeout=10)
    assert_error_body(too_big, 400)


def test_conversation_details_by_id(sim: Simulator, api: requests.Session, ds: Dataset) -> None:
    ids = [ds.conversation_id(i) for i in (3, 500, 19_999)]
    assert [ds.index_of(c) for c in ids] == [3, 500, 19_999]
    one = api.get(f"{sim.url}/api/v2/analytics/conversations/{ids[1]}/details", timeout=10)
    assert one.json() == ds.conversation(500, sim.now, attributes=False)
    many = api.get(
        f"{sim.url}/api/v2/analytics/conversations/details",
        params={"id": ",".join([*ids, "00000000-0000-4000-a000-000000000000"])},
        timeout=10,
    ).json()
    assert [c["conversationId"] for c in many["conversations"]] == ids
    forged = ("f" if ids[0][0] != "f" else "e") + ids[0][1:]
    missing = api.get(f"{sim.url}/api/v2/analytics/conversations/{forged}/details", timeout=10)
    assert_error_body(missing, 404, "not.found")
    sim.now = datetime(2024, 1, 2, tzinfo=UTC)
    future = api.get(f"{sim.url}/api/v2/analytics/conversations/{ids[2]}/details", timeout=10)
    assert_error_body(future, 404)


# -- switches for what a real organisation serves ------------------------------------------------

BY_IDS = "/api/v2/analytics/conversations/details"


def test_fault_empty_page_after_cursor(sim: Simulator, api: requests.Session) -> None:
    job_id = submit(api, sim, {"interval": "2024-01-05T00:00:00.000Z/2024-01-05T02:00:00.000Z"})
    wait_done(api, sim, job_id)
    sim.set_faults(empty_page_after_cursor=True)
    url = f"{sim.url}{JOBS}/{job_id}/results"
    pages = [api.get(url, params={"pageSize": 1000}, timeout=10).json()]
    while "cursor" in pages[-1]:
        pages.append(api.get(url, params={"cursor": pages[-1]["cursor"]}, timeout=10).json())
    assert sim.stats.faults["empty_page"] == 1
    assert len(pages) == 2
    assert pages[0]["conversations"]
    assert set(pages[1]) == {"dataAvailabilityDate"}, "the last page is the envelope alone"


def test_fault_by_id_cap_and_unknown_ids(sim: Simulator, api: requests.Session) -> None:
    ids = list(sim.dataset.truth_ids(START, START + timedelta(days=1), now=sim.now))[:5]
    sim.set_faults(by_id_max_ids=4)
    too_many = api.get(sim.url + BY_IDS, params={"id": ",".join(ids)}, timeout=10)
    assert sim.stats.faults["by_id_too_many"] == 1
    assert too_many.status_code == 400
    purged = "00000000-0000-4000-8000-000000000000"
    left_out = api.get(sim.url + BY_IDS, params={"id": f"{ids[0]},{purged}"}, timeout=10)
    assert left_out.status_code == 200
    assert [c["conversationId"] for c in left_out.json()["conversations"]] == ids[:1]
    sim.set_faults(by_id_unknown_404=True)
    refused = api.get(sim.url + BY_IDS, params={"id": f"{ids[0]},{purged}"}, timeout=10)
    assert sim.stats.faults["by_id_unknown"] == 1
    assert refused.status_code == 404
    one = api.get(f"{sim.url}/api/v2/analytics/conversations/{purged}/details", timeout=10)
    assert one.status_code == 404


def test_fault_url_too_long(sim: Simulator, api: requests.Session) -> None:
    ids = list(sim.dataset.truth_ids(START, START + timedelta(days=1), now=sim.now))[:30]
    sim.set_faults(max_url_length=600)
    long = api.get(sim.url + BY_IDS, params={"id": ",".join(ids)}, timeout=10)
    assert sim.stats.faults["url_too_long"] == 1
    assert long.status_code == 414
    assert api.get(sim.url + BY_IDS, params={"id": ",".join(ids[:5])}, timeout=10).ok


def test_fault_renewed_token_refused_once(sim: Simulator) -> None:
    token(sim)  # a token issued before: the next one is a renewal
    sim.set_faults(renewed_token_refusals=1)
    headers = {"Authorization": f"Bearer {token(sim)}"}
    url = sim.url + "/api/v2/analytics/conversations/details/jobs/availability"
    assert requests.get(url, headers=headers, timeout=10).status_code == 401
    assert sim.stats.faults["transient_401"] == 1
    assert requests.get(url, headers=headers, timeout=10).status_code == 200, "still valid"
    again = {"Authorization": f"Bearer {token(sim)}"}
    assert requests.get(url, headers=again, timeout=10).status_code == 200, "refused once only"


def test_fault_scripted_login_and_api_errors(sim: Simulator, api: requests.Session) -> None:
    sim.set_faults(login_errors=(429, 500), api_errors=(503,), retry_after_seconds=7)
    login = sim.url + "/oauth/token"
    form = {"grant_type": "client_credentials"}
    first = requests.post(login, auth=("sim-client", "sim-secret"), data=form, timeout=10)
    second = requests.post(login, auth=("sim-client", "sim-secret"), data=form, timeout=10)
    assert sim.stats.faults["login_error"] == 2
    assert (first.status_code, first.headers.get("Retry-After")) == (429, "7")
    assert (second.status_code, second.headers.get("Retry-After")) == (500, None)
    assert token(sim)
    url = sim.url + "/api/v2/analytics/conversations/details/jobs/availability"
    refused = api.get(url, timeout=10)
    assert sim.stats.faults["scripted_error"] == 1
    assert (refused.status_code, refused.headers.get("Retry-After")) == (503, "7")
    assert api.get(url, timeout=10).status_code == 200
