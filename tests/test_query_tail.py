"""The query tail: the days newer than the jobs' data availability, read by the details query.

A backfill (fixed ``end_date``) reads its last days by the query, paged by page number, and a
day ends only on a page without the ``conversations`` array. Nothing re-reads those days later,
so whatever the tail misses is lost for good.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

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
