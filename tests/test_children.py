"""Conversation child tables: filled from the same pages, selectable on their own."""

from __future__ import annotations

import collections
from pathlib import Path

from tap_genesys_analytics.genesys import child_rows as children
from tests.selection import catalog_selecting
from tests.support import run_tap, sim_config, truth

CHILDREN = {
    "conversation_participants": (children.participants, ("conversationId", "participantId")),
    "conversation_sessions": (children.sessions, ("conversationId", "participantId", "sessionId")),
    "conversation_segments": (
        children.segments,
        ("conversationId", "participantId", "sessionId", "segmentStart", "segmentType"),
    ),
    "conversation_metrics": (
        children.metrics,
        ("conversationId", "participantId", "sessionId", "name", "emitDate"),
    ),
}


def test_only_child_streams_selected_downloads_each_page_once(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=1500)
    config = sim_config(sim, page_size=250)
    catalog = catalog_selecting(tmp_path, config, set(CHILDREN))
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0, run.stderr[-2000:]

    assert run.records("conversation_details") == [], "the parent is not written"
    pages = sim.stats.result_pages
    assert pages
    assert max(pages.values()) == 1, "every job page was fetched exactly once"

    ds = sim.dataset
    expected_ids = truth(sim)
    for stream, (builder, keys) in CHILDREN.items():
        rows = run.records(stream)
        assert {r["conversationId"] for r in rows} == expected_ids, stream
        keyed = collections.Counter(tuple(r.get(k) for k in keys) for r in rows)
        assert max(keyed.values()) == 1, f"{stream}: a key was emitted twice"
        expected_rows = sum(
            1 for cid in expected_ids for _ in builder(ds.conversation(ds.index_of(cid), sim.now))
        )
        assert len(rows) == expected_rows, stream
    messages = [m for m in run.messages if m["type"] in {"SCHEMA", "RECORD"}]
    first_seen: dict[str, str] = {}
    for message in messages:
        first_seen.setdefault(message["stream"], message["type"])
    assert set(first_seen.values()) == {"SCHEMA"}, "each stream's SCHEMA precedes its records"


def test_child_rows_carry_conversation_start(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=300)
    config = sim_config(sim)
    catalog = catalog_selecting(tmp_path, config, {"conversation_details", *CHILDREN})
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0
    starts = {r["conversationId"]: r["conversationStart"] for r in run.records()}
    for stream in CHILDREN:
        rows = run.records(stream)
        assert rows
        assert all(starts[r["conversationId"]] == r["conversationStart"] for r in rows)
