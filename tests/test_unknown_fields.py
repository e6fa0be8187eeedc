"""Fields the API adds after the schemas were generated: the run and its output survive them.

The tap leaves out a top-level field its schema does not declare (named once in a warning);
a field added inside a nested object or list stays in that JSON value. The loaders' side is
in ``test_meltano.py`` (``test_every_loader_survives_fields_the_api_adds_later``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genesys_simulator.unknown import UNKNOWN_FIELD
from tests.selection import catalog_selecting
from tests.support import run_tap, sim_config, truth

STREAMS = (
    "conversation_details",
    "conversation_participants",
    "conversation_sessions",
    "conversation_segments",
    "conversation_metrics",
    "user_details",
    "user_presence",
    "user_routing_status",
)


def _nested_unknown(value: Any) -> bool:
    if isinstance(value, dict):
        return UNKNOWN_FIELD in value or any(map(_nested_unknown, value.values()))
    if isinstance(value, list):
        return any(map(_nested_unknown, value))
    return False


def test_a_field_the_schema_does_not_declare_is_never_a_column(tmp_path: Path, make_sim) -> None:
    """Every object the simulator serves carries a field no schema declares.

    Fails on 86a853e: records carried it as an undeclared top-level property.
    """
    sim = make_sim(conversations=300, unknown_fields=True)
    config = sim_config(sim, end_date="2024-01-15T00:00:00Z")
    catalog = catalog_selecting(tmp_path, config, STREAMS)
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert sim.stats.faults["unknown_field"] > 0, "the simulator served the unknown field"
    assert run.returncode == 0, run.stderr[-2000:]

    schemas = {m["stream"]: m["schema"] for m in run.messages if m["type"] == "SCHEMA"}
    for stream in STREAMS:
        rows = run.records(stream)
        assert rows, stream
        declared = set(schemas[stream]["properties"])
        undeclared = {k for row in rows for k in row} - declared
        assert not undeclared, f"{stream}: undeclared columns {sorted(undeclared)}"
    # Nested levels keep it inside their JSON values (participants, sessions, segments, …).
    details = run.records("conversation_details")
    assert {r["conversationId"] for r in details} == truth(sim, end="2024-01-15")
    assert all(_nested_unknown(r["participants"]) for r in details)
    assert any(
        _nested_unknown(r.get("mediaEndpointStats")) for r in run.records("conversation_sessions")
    )
    warnings = [ln for ln in run.stderr.splitlines() if UNKNOWN_FIELD in ln and "WARNING" in ln]
    assert len(warnings) == len(STREAMS), "named once per stream"
