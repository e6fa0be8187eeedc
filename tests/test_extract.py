"""End to end: the tap's CLI against the simulator over loopback HTTP, compared with truth."""

from __future__ import annotations

import collections
import datetime as dt
import signal
import time
from pathlib import Path
from typing import Any

import ijson
import pytest

from tap_genesys_analytics.http.parsing import FAST_BACKEND
from tests.support import run_tap, run_tap_until, sdk_fields, sim_config, truth


def test_ijson_uses_the_c_backend() -> None:
    # Every throughput figure assumes yajl2_c; the pure-Python fallback is 15-25x slower.
    assert ijson.backend == FAST_BACKEND


def test_extracts_exactly_the_truth_with_state_after_every_page(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=4000)
    run = run_tap(tmp_path, sim_config(sim, page_size=250))
    assert run.returncode == 0, run.stderr
    ids = run.ids()
    assert len(ids) == len(set(ids)), "a conversation was emitted twice"
    assert set(ids) == truth(sim)
    pages = sum(sim.stats.result_pages.values())
    # One STATE per results page at least (plus chunk ends): never the SDK's 10,000-record cadence.
    assert len(run.states) >= pages
    final = run.last_state["bookmarks"]["conversation_details"]
    # Conversations still live at the clock are emitted as they are; the bookmark moves on to
    # the end, and the live ones older than the next run's lookback are kept for a refresh.
    live = truth(sim) - truth(sim, final_only=True)
    assert live, "the dataset has long conversations still live at its clock"
    assert all("conversationEnd" not in r for r in run.records() if r["conversationId"] in live)
    assert final["watermark"] == "2024-01-31T00:00:00.000Z"
    ds = sim.dataset
    horizon = dt.datetime(2024, 1, 28, tzinfo=dt.timezone.utc).timestamp() * 1000
    kept = {cid for cid in live if ds.core(ds.index_of(cid)).start_ms < horizon}
    assert set(final.get("open", {})) == kept
    assert "chunk" not in final
    assert "run" not in final


def test_job_bodies_hold_only_fields_the_api_defines(tmp_path: Path, make_sim) -> None:
    # Every job body the tap sends is held against the SDK's AsyncConversationQuery (the
    # simulator's own list of accepted fields is the simulator's, not the API's).
    sim = make_sim(conversations=500)
    bodies: list[dict[str, Any]] = []
    submit = sim.jobs.submit_job

    def recording_submit(body: Any) -> Any:
        bodies.append(body)
        return submit(body)

    sim.jobs.submit_job = recording_submit
    config = sim_config(
        sim,
        conversation_filters=[
            {
                "type": "and",
                "predicates": [{"dimension": "originatingDirection", "value": "inbound"}],
            }
        ],
        segment_filters=[
            {"type": "or", "predicates": [{"dimension": "mediaType", "value": "voice"}]}
        ],
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    expected = truth(
        sim,
        conversation_filters=config["conversation_filters"],
        segment_filters=config["segment_filters"],
    )
    assert expected, "the filter should select something"
    assert set(run.ids()) == expected
    assert len(run.ids()) == len(expected)
    assert bodies, "job bodies were sent"
    assert all(set(body) <= sdk_fields("AsyncConversationQuery") for body in bodies), bodies
    assert all("conversationFilters" in body and "segmentFilters" in body for body in bodies)


def test_partial_days_are_exact(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=3000)
    config = sim_config(
        sim, start_date="2024-01-03T06:00:00Z", end_date="2024-01-09T18:30:00Z", chunk_days=2
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    low, high = (
        int(dt.datetime.fromisoformat(config[k].replace("Z", "+00:00")).timestamp() * 1000)
        for k in ("start_date", "end_date")
    )
    ds = sim.dataset
    expected = {
        cid
        for cid in truth(sim, "2024-01-03", "2024-01-10")
        if low <= ds.core(ds.index_of(cid)).start_ms < high
    }
    assert expected
    assert set(run.ids()) == expected
    assert len(run.ids()) == len(expected)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_mid_chunk_resumes_from_the_cursor(tmp_path: Path, make_sim, sig: int) -> None:
    sim = make_sim(conversations=3000)
    config = sim_config(sim, page_size=100, chunk_days=10)

    def mid_chunk(messages: list[dict]) -> bool:
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        chunk = (
            states[-1]["bookmarks"].get("conversation_details", {}).get("chunk") if states else None
        )
        return bool(chunk and chunk.get("cursor") and chunk.get("pages", 0) >= 3)

    first = run_tap_until(tmp_path, config, mid_chunk, sig=sig)
    assert first.returncode != 0
    state = first.last_state
    saved = state["bookmarks"]["conversation_details"]["chunk"]
    assert saved["cursor"], "the STATE in the middle of a chunk carries its cursor"

    sim.reset_stats()
    second = run_tap(tmp_path, config, state=state)
    assert second.returncode == 0, second.stderr
    assert "resuming chunk" in second.stderr
    # The resumed run started from the saved cursor: it never asked for the chunk's first page.
    assert (saved["job_id"], "") not in sim.stats.result_pages

    union = first.ids() + second.ids()
    assert set(union) == truth(sim)
    repeats = [k for k, n in collections.Counter(union).items() if n > 1]
    assert len(repeats) <= config["page_size"], "at most one page is emitted twice"


def test_resume_after_the_job_expired_submits_the_chunk_again(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=2000)
    config = sim_config(sim, page_size=400, chunk_days=30)

    def after_two_pages(messages: list[dict]) -> bool:
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        chunk = (
            states[-1]["bookmarks"].get("conversation_details", {}).get("chunk") if states else None
        )
        return bool(chunk and chunk.get("pages", 0) >= 2)

    first = run_tap_until(tmp_path, config, after_two_pages)
    # The saved job expires while no run is going; the resubmitted one lives normally, so
    # the test does not depend on how fast a loaded machine pages.
    assert sim.expire_jobs() > 0
    second = run_tap(tmp_path, config, state=first.last_state)
    assert sim.stats.faults["job_expired"] > 0, "the saved job had expired"
    assert second.returncode == 0, second.stderr
    assert "submitting the window again" in second.stderr
    assert set(second.ids()) == truth(sim)
    assert len(second.ids()) == len(set(second.ids()))


def test_tokens_that_live_two_seconds_are_rotated(tmp_path: Path, make_sim) -> None:
    # Ten 3-day chunks whose jobs each take 0.6 s, one at a time: the run lasts over 6 s, so
    # tokens announced to live 2 s must be renewed at least twice (each ~1.8 s, before they
    # run out). The server reports the lifetime but does not refuse late tokens: a renewal can
    # only come from the tap's own clock, and a slow machine (a longer run) renews more, never
    # meets a refusal.
    sim = make_sim(
        conversations=3000,
        token_ttl_seconds=2,
        token_expiry_enforced=False,
        job_latency_seconds=0.6,
    )
    config = sim_config(sim, page_size=200, chunk_days=3, max_jobs_in_flight=1)
    started = time.monotonic()
    run = run_tap(tmp_path, config)
    assert time.monotonic() - started > 6, "a lower bound: ten jobs of 0.6 s, one at a time"
    assert sim.stats.statuses[401] == 0
    assert sim.stats.requests["token"] >= 3, "a run longer than a token's life renews it"
    assert run.returncode == 0, run.stderr
    assert set(run.ids()) == truth(sim)
    assert len(run.ids()) == len(set(run.ids()))


@pytest.mark.parametrize("lookback_days", [0, 2])
def test_a_new_run_rereads_only_the_lookback(tmp_path: Path, make_sim, lookback_days: int) -> None:
    sim = make_sim(conversations=1000)
    config = sim_config(sim, lookback_days=lookback_days)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0
    watermark = first.last_state["bookmarks"]["conversation_details"]["watermark"]
    sim.reset_stats()
    second = run_tap(tmp_path, config, state=first.last_state)
    assert second.returncode == 0
    begin = dt.datetime.fromisoformat(watermark.replace("Z", "+00:00")) - dt.timedelta(
        days=lookback_days
    )
    starts = [r["conversationStart"] for r in second.records()]
    if lookback_days:
        assert starts, "the lookback window is read again"
    assert all(s >= begin.strftime("%Y-%m-%dT%H:%M:%S") for s in starts)
    assert len(second.ids()) == len(set(second.ids()))
    assert sim.stats.requests["job_submit"] <= 1 + lookback_days
