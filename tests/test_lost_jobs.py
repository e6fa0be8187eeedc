"""A job that can no longer be read, through HTTP: each case first shows the API answered it.

A results page or a job status answering 404, a saved cursor answering 400: the window is
submitted again and read from its first page, so no record is lost, and none is emitted twice
within the run that recovers.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support import TapRun, run_tap, run_tap_until, sim_config, truth, wait_until


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
            sim.jobs.delete_job(chunk["job_id"])
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


def test_a_cancelled_job_is_submitted_again(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=1500, job_cancel_once=True)
    run = run_tap(tmp_path, sim_config(sim, page_size=200, chunk_days=10))
    assert sim.stats.faults["job_cancelled"] == 3, "the first job of each chunk was cancelled"
    assert run.stderr.count("ended CANCELLED") == 3
    assert "submitting the window again" in run.stderr
    _exact(run, sim)


def test_cancelled_past_the_attempts_is_one_clear_line(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=1500, job_cancel_once=True)
    run = run_tap(tmp_path, sim_config(sim, page_size=200, chunk_days=30, job_max_attempts=1))
    assert sim.stats.faults["job_cancelled"] == 1
    assert run.returncode == 1
    line = run.error_line
    assert "gave up after 1 job submissions" in line
    assert "ended CANCELLED" in line
    assert "Traceback" not in run.stderr
    assert run.records() == [], "nothing of the cancelled chunk was emitted"


# -- a chunk saved while its count was being checked ------------------------------------------


def _killed_while_split(tmp_path: Path, sim: Any, config: dict[str, Any]) -> dict[str, Any]:
    """STATE of a run stopped while it read a short chunk again in halves.

    Only the chunk's own job finishes (``complete_jobs_max=1``): the first half's job stays
    pending, so the run waits there, its last STATE in phase ``split``, until it is killed.
    """

    def waiting_on_a_half(messages: list[dict[str, Any]]) -> bool:
        if _chunk(messages).get("phase") != "split":
            return False
        # The STATE is out when the half's job is submitted; the run then polls that job
        # and writes nothing more until it finishes, which it never does.
        wait_until(lambda: sim.stats.faults["job_held"] >= 1, timeout=300)  # a hang guard
        return True

    first = run_tap_until(tmp_path, config, waiting_on_a_half)
    assert sim.stats.faults["truncated"] >= 1, "the chunk's job came back short"
    assert sim.stats.faults["job_held"] >= 1, "the first half's job was held"
    state = first.last_state
    assert state is not None
    assert state["bookmarks"]["conversation_details"]["chunk"]["phase"] == "split"
    return state


@pytest.mark.parametrize(
    ("phase", "said"),
    [
        ("split", "while being read again in pieces after a short count"),
        ("verify", "after its last page, before its count was checked"),
    ],
)
def test_a_chunk_saved_while_checked_is_read_again_whole(
    tmp_path: Path, make_sim, phase: str, said: str
) -> None:
    # 4 days of ~50 conversations, and no job returns more than 150: the chunk's count is
    # short, so it is read again in halves. Killed there, the next run reads the chunk again
    # from its first page (and its halves again), and says so. "verify" is the same STATE a
    # moment earlier: every page read, the count not yet checked.
    sim = make_sim(conversations=1500, truncate_jobs_over=150, complete_jobs_max=1)
    config = sim_config(
        sim, page_size=50, chunk_days=4, end_date="2024-01-05T00:00:00Z", max_jobs_in_flight=1
    )
    state = _killed_while_split(tmp_path, sim, config)
    state["bookmarks"]["conversation_details"]["chunk"]["phase"] = phase
    sim.set_faults(complete_jobs_max=None)
    sim.reset_stats()
    second = run_tap(tmp_path, config, state=state)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"was interrupted {said}; submitting it again and reading it from its first page" in (
        second.stderr
    )
    assert sim.stats.faults["truncated"] >= 1, "the whole chunk's job was short again"
    assert "reading it again as" in second.stderr, "and it was read again in halves"
    ids = second.ids()
    assert len(ids) == len(set(ids))
    assert set(ids) == truth(sim, "2024-01-01", "2024-01-05")
