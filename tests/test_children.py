"""Conversation child tables: filled from the same pages, selectable on their own."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


#: The child table of each level of a conversation, and the fields of that level whose items
#: are rows of another child table (so not columns of this one).
LEVELS = {
    "conversation_participants": (("participants",), {"sessions"}),
    "conversation_sessions": (("participants", "sessions"), {"segments", "metrics"}),
    "conversation_segments": (("participants", "sessions", "segments"), set()),
    "conversation_metrics": (("participants", "sessions", "metrics"), set()),
}


def _level_schema(schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """The item properties at ``path`` of the nested ``conversation_details`` schema."""
    properties: dict[str, Any] = schema["properties"]
    for key in path:
        properties = properties[key]["items"]["properties"]
    return properties


def _served_items(record: dict[str, Any], path: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    items: list[dict[str, Any]] = [record]
    for key in path:
        items = [child for item in items for child in item.get(key) or ()]
    yield from items


def test_every_field_of_a_level_is_a_column_of_its_table(tmp_path: Path, make_sim) -> None:
    """A warehouse that loads only the child tables sees every field the API serves.

    Two sources of "every field": the official SDK's models (AnalyticsParticipant, Session,
    Segment, SessionMetric), which ``conversation_details``'s schema is generated from
    (``scripts/generate_schemas.py --check``), and what the simulator serves at each level.
    Fails on 86a853e: ``mediaEndpointStats``, ``proposedAgents`` and ``agentGroups`` were
    neither a table nor a session column.
    """
    sim = make_sim(conversations=400)
    config = sim_config(sim)
    catalog = catalog_selecting(tmp_path, config, {"conversation_details", *CHILDREN})
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0, run.stderr[-2000:]
    schemas = {m["stream"]: m["schema"] for m in run.messages if m["type"] == "SCHEMA"}
    details = run.records("conversation_details")
    assert details
    served_anywhere: set[str] = set()
    for stream, (path, flattened) in LEVELS.items():
        columns = set(schemas[stream]["properties"])
        model_fields = set(_level_schema(schemas["conversation_details"], path)) - flattened
        assert model_fields <= columns, f"{stream}: model fields without a column"
        served = {k for r in details for item in _served_items(r, path) for k in item} - flattened
        assert served <= columns, f"{stream}: served fields without a column"
        in_rows = {k for row in run.records(stream) for k in row}
        assert served <= in_rows, f"{stream}: served fields missing from its rows"
        served_anywhere |= served
    # The simulator serves the session lists that are no table of their own.
    assert {"mediaEndpointStats", "proposedAgents", "agentGroups", "flow"} <= served_anywhere
