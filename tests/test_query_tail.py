"""The query tail: the days newer than the jobs' data availability, read by the details query.

A backfill (fixed ``end_date``) reads its last days by the query, paged by page number, and a
day ends only on a page without the ``conversations`` array. Nothing re-reads those days later,
so whatever the tail misses is lost for good.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.support import run_tap, sim_config, truth

UTC = dt.timezone.utc
END = dt.datetime(2024, 1, 31, tzinfo=UTC)
#: Jobs hold the days before 28 January; the details query reads 28, 29 and 30 January.
LAG_SECONDS = 3 * 86400


def _query_chunk(state: dict[str, Any]) -> dict[str, Any] | None:
    chunk = state["bookmarks"]["conversation_details"].get("chunk")
    return chunk if chunk and chunk.get("source") == "query" else None


def test_the_query_tail_resumes_at_the_page_after_the_saved_one(tmp_path: Path, make_sim) -> None:
    """A STATE saved on a query page resumes at the next page of that day.

    Fails on 86a853e: a resumed run planned its query days from ``query_from``, not from its
    watermark, so it read the finished day before it again, which replaced the saved page.
    """
    sim = make_sim(conversations=390, days=30, availability_lag_seconds=LAG_SECONDS)
    sim.now = END
    config = sim_config(sim, end_date="2024-01-31T00:00:00Z", query_page_size=5)
    whole = run_tap(tmp_path, config)
    assert whole.returncode == 0, whole.stderr[-2000:]
    # A STATE the tap wrote after page 2 of 29 January, as if it had stopped right there.
    saved = next(
        s
        for s in whole.states
        if (c := _query_chunk(s)) and c["interval"].startswith("2024-01-29") and c["page"] == 2
    )
    day_ids = [
        r["conversationId"] for r in whole.records() if r["conversationStart"][:10] == "2024-01-29"
    ]
    assert len(day_ids) > 10, "29 January holds more than two pages of 5"

    sim.reset_stats()
    resumed = run_tap(tmp_path, config, state=saved)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    interval = _query_chunk(saved)["interval"]  # type: ignore[index]
    assert f"resuming query {interval} at page 3" in resumed.stderr
    assert sim.stats.requests["job_submit"] == 0, "the jobs' days were done before the stop"
    ids = resumed.ids()
    assert len(ids) == len(set(ids)), "emitted twice within a run"
    # The first record after the resume is the first of page 3 (pages of 5, oldest first).
    assert ids[0] == day_ids[10]
    # The pages before the saved one hold records a loader already has, but the run read them
    # again (a day's count starts over on resume), so nothing of the resumed day is missing.
    assert set(ids) == truth(sim, "2024-01-29", "2024-01-31")
    bookmark = resumed.last_state["bookmarks"]["conversation_details"]  # type: ignore[index]
    assert bookmark["watermark"] == "2024-01-31T00:00:00.000Z"
    assert "chunk" not in bookmark
    assert "run" not in bookmark


@pytest.mark.parametrize(
    ("switches", "fired"),
    [
        # Every day's totalHits is 1 to 3 below the truth, the same on every request.
        ({}, ["approximate_total"]),
        # Drawn anew (0 to 3 below) on each request, and the query's index holds a fifth of
        # the records twice, dropped page by page: pages come short mid-stream.
        (
            {"overcount_varies": True, "query_repeat_share": 0.2},
            ["approximate_total", "total_varied", "query_short_page"],
        ),
    ],
    ids=["below", "varying-and-short-pages"],
)
def test_a_backfill_tail_with_low_counts_emits_every_conversation(
    tmp_path: Path, make_sim, switches: dict[str, Any], fired: list[str]
) -> None:
    """Neither ``totalHits`` nor a short page ends a day: only a page without conversations.

    Fails on 86a853e (exit 0 with 30 of the tail's 39 conversations, "below", and 21 of 39,
    "varying-and-short-pages"): it stopped a day at the first page shorter than ``pageSize`` or
    once ``pageNumber * pageSize`` reached the (here too low) ``totalHits``, and the count
    check then found the day complete. Nothing re-reads a backfill's tail: the loss was final.
    """
    sim = make_sim(
        conversations=390,
        days=30,
        availability_lag_seconds=LAG_SECONDS,
        overcount_day_share=1.0,
        overcount_max=-3,
        **switches,
    )
    sim.now = END
    config = sim_config(sim, end_date="2024-01-31T00:00:00Z", query_page_size=5)
    run = run_tap(tmp_path, config)
    for name in fired:
        assert sim.stats.faults[name] > 0, f"the fault {name} fired"
    assert sim.stats.requests["details_query"] > 0, "the tail came from the query"
    assert run.returncode == 0, run.stderr[-3000:]
    ids = run.ids()
    assert len(ids) == len(set(ids)), "emitted twice within a run"
    tail = truth(sim, "2024-01-28", "2024-01-31")
    assert len(tail) == 39
    assert tail <= set(ids), "the whole tail"
    assert set(ids) == truth(sim, "2024-01-01", "2024-01-31"), "and every other conversation"
    assert "more than the API's approximate count" in run.stderr
