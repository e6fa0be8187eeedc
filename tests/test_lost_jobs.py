"""A job that can no longer be read, through HTTP: each case first shows the API answered it.

A results page or a job status answering 404, a saved cursor answering 400: the window is
submitted again and read from its first page, so no record is lost, and none is emitted twice
within the run that recovers.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.support import TapRun, run_tap, run_tap_until, sim_config, truth


def _chunk(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The chunk position of the newest STATE in ``messages`` (empty if none)."""
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    if not states:
        return {}
    return states[-1]["bookmarks"].get("conversation_details", {}).get("chunk") or {}


def _exact(run: TapRun, sim: Any) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    ids = run.ids()
    assert len(ids) == len(set(ids)), "a conversation was emitted twice"
    assert set(ids) == truth(sim)


def _killed_mid_chunk(tmp_path: Path, sim: Any, config: dict[str, Any]) -> dict[str, Any]:
    """STATE of a run killed after three pages of its one 30-day chunk.

    The tap writes at most a pipe's buffer ahead of this reader, far less than the chunk's
    fifteen pages, so the saved position is always mid-chunk.
    """
    first = run_tap_until(
        tmp_path, config, lambda m: bool(_chunk(m).get("cursor")) and _chunk(m)["pages"] >= 3
    )
    state = first.last_state
    assert state is not None
    assert _chunk([{"type": "STATE", "value": state}]).get("cursor"), "saved mid-chunk"
    return state


def test_a_results_page_answering_404_submits_the_window_again(tmp_path: Path, make_sim) -> None:
    # The job is deleted (as purged) after two pages were read: the next page answers 404.
    sim = make_sim(conversations=1500)
    config = sim_config(sim, page_size=100, chunk_days=30, max_jobs_in_flight=1)
    deleted: list[str] = []

    def delete_after_two_pages(messages: list[dict[str, Any]]) -> bool:
        chunk = _chunk(messages)
        if not deleted and chunk.get("cursor") and chunk["pages"] >= 2:
            sim.delete_job(chunk["job_id"])
            deleted.append(chunk["job_id"])
        return False

    run = run_tap_until(tmp_path, config, delete_after_two_pages)
    assert deleted, "the job was deleted mid-read"
    assert sim.stats.statuses[404] == 1, "one results page answered 404"
    assert f"job {deleted[0]} is gone" in run.stderr
    assert "submitting the window again" in run.stderr
    assert sim.stats.requests["job_submit"] == 2
    _exact(run, sim)


def test_a_saved_cursor_answering_400_reads_the_window_again(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=1500)
    config = sim_config(sim, page_size=100, chunk_days=30, max_jobs_in_flight=1)
    state = _killed_mid_chunk(tmp_path, sim, config)
    chunk = state["bookmarks"]["conversation_details"]["chunk"]
    chunk["cursor"] = "bm90LWEtY3Vyc29yLW9mLXRoaXMtam9i"  # the API no longer takes it
    sim.reset_stats()
    second = run_tap(tmp_path, config, state=state)
    assert sim.stats.statuses[400] == 1, "the saved cursor was refused"
    assert f"job {chunk['job_id']} refused the cursor" in second.stderr
    assert "records before the saved cursor are emitted again" in second.stderr
    assert sim.stats.requests["job_submit"] == 1, "the window was submitted again"
    _exact(second, sim)


def test_a_saved_job_answering_404_is_submitted_again(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=1500)
    config = sim_config(sim, page_size=100, chunk_days=30, max_jobs_in_flight=1)
    state = _killed_mid_chunk(tmp_path, sim, config)
    chunk = state["bookmarks"]["conversation_details"]["chunk"]
    chunk["job_id"] = str(uuid.uuid4())  # purged, or from before an outage: the API has none
    sim.reset_stats()
    second = run_tap(tmp_path, config, state=state)
    assert sim.stats.statuses[404] == 1, "the saved job's status answered 404"
    assert f"job {chunk['job_id']} no longer exists" in second.stderr
    assert sim.stats.requests["job_submit"] == 1, "the window was submitted again"
    assert (chunk["job_id"], chunk["cursor"]) not in sim.stats.result_pages
    _exact(second, sim)
