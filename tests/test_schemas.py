"""Sanity checks on the generated stream schemas in tap_genesys_analytics/schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tap_genesys_analytics.tap import TapGenesysAnalytics

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "tap_genesys_analytics" / "schemas"


def _primary_keys() -> dict[str, list[str]]:
    """Each stream's ``primary_keys`` as the tap declares them: the columns loaders key on."""
    tap = TapGenesysAnalytics(config={}, parse_env_config=False, validate_config=False)
    return {stream.name: list(stream.primary_keys or []) for stream in tap.discover_streams()}


KEY_FIELDS: dict[str, list[str]] = _primary_keys()

SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*.json"))


def load(stream: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{stream}.json").read_text(encoding="utf-8"))


def walk_properties(schema: dict[str, Any], path: str = ""):
    """Yield (path, property schema) for every property at any depth."""
    for name, sub in schema.get("properties", {}).items():
        yield f"{path}{name}", sub
        yield from walk_properties(sub, f"{path}{name}.")
    if isinstance(schema.get("items"), dict):
        yield from walk_properties(schema["items"], f"{path}items.")


def test_every_stream_has_exactly_one_file():
    assert {p.stem for p in SCHEMA_FILES} == set(KEY_FIELDS)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.stem)
def test_is_valid_draft7_object_schema(path: Path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["properties"]


def test_every_stream_has_a_key():
    assert all(KEY_FIELDS.values()), {s: k for s, k in KEY_FIELDS.items() if not k}


@pytest.mark.parametrize("stream", sorted(KEY_FIELDS))
def test_key_fields_present_and_non_null(stream: str):
    properties = load(stream)["properties"]
    for key in KEY_FIELDS[stream]:
        assert key in properties, f"{stream}.{key} missing"
        key_type = properties[key]["type"]
        assert key_type == "string", f"{stream}.{key} must be a non-null string"


#: Columns outside the key that the tap itself always fills (the API never leaves them out).
ALWAYS_WRITTEN = {
    f"{subject}_aggregates": {"interval_end"}
    for subject in ("conversation", "user", "flow", "evaluation", "survey")
}


@pytest.mark.parametrize("stream", sorted(KEY_FIELDS))
def test_other_properties_are_nullable(stream: str):
    keys = set(KEY_FIELDS[stream]) | ALWAYS_WRITTEN.get(stream, set())
    for path, sub in walk_properties(load(stream)):
        if path in keys:
            continue
        types = sub["type"]
        assert isinstance(types, list), f"{stream}.{path} is not nullable"
        assert "null" in types, f"{stream}.{path} is not nullable"


def test_conversation_details_timestamps_are_date_time():
    properties = load("conversation_details")["properties"]
    assert properties["conversationStart"]["format"] == "date-time"
    segment = properties["participants"]["items"]["properties"]["sessions"]["items"]
    segment_start = segment["properties"]["segments"]["items"]["properties"]["segmentStart"]
    assert segment_start["format"] == "date-time"


def test_conversation_details_accepts_a_job_record():
    record = {
        "conversationId": "c-1",
        "conversationStart": "2024-01-01T00:00:00.000Z",
        "conversationEnd": None,
        "divisionIds": ["d-1"],
        "participants": [
            {
                "participantId": "p-1",
                "purpose": "customer",
                "attributes": {"account": "42"},
                "sessions": [
                    {
                        "sessionId": "s-1",
                        "mediaType": "voice",
                        "flow": {"flowId": "f-1", "outcomes": [{"flowOutcome": "o"}]},
                        "metrics": [
                            {"name": "tTalk", "value": 1200, "emitDate": "2024-01-01T00:01:00.000Z"}
                        ],
                        "segments": [
                            {
                                "segmentStart": "2024-01-01T00:00:00.000Z",
                                "segmentType": "interact",
                                "properties": [{"property": "x", "value": "y"}],
                            }
                        ],
                    }
                ],
            }
        ],
    }
    validator = jsonschema.Draft7Validator(
        load("conversation_details"), format_checker=jsonschema.FormatChecker()
    )
    validator.validate(record)
    # The same record with a timestamp that is not RFC 3339 is refused: formats are checked.
    segment = record["participants"][0]["sessions"][0]["segments"][0]
    segment["segmentStart"] = "2024-01-01 00:00"
    with pytest.raises(jsonschema.ValidationError, match="date-time"):
        validator.validate(record)


def test_format_checking_is_live() -> None:
    # Without rfc3339-validator, FormatChecker skips "date-time" silently and every
    # format-checked validation here (test_output, test_core) would accept any string.
    checker = jsonschema.FormatChecker()
    assert "date-time" in checker.checkers
    assert checker.conforms("2024-01-01T00:00:00.000Z", "date-time")
    assert not checker.conforms("2024-01-01T00:01Z", "date-time")


def test_child_tables_stay_flat():
    participants = load("conversation_participants")["properties"]
    assert "sessions" not in participants
    assert participants["attributes"]["additionalProperties"]["type"] == ["string", "null"]
    sessions = load("conversation_sessions")["properties"]
    for nested in ("segments", "metrics"):
        assert nested not in sessions
    for kept in ("mediaEndpointStats", "proposedAgents", "agentGroups"):
        assert sessions[kept]["type"] == ["array", "null"], "a list without a table is a column"
    assert "outcomes" in sessions["flow"]["properties"]
    metrics = load("conversation_metrics")["properties"]
    assert {"name", "value", "emitDate"} <= set(metrics)
    for stream in ("conversation_participants", "conversation_sessions"):
        start = load(stream)["properties"]["conversationStart"]
        assert start["format"] == "date-time"


def test_aggregate_stats_are_numeric_columns():
    properties = load("conversation_aggregates")["properties"]
    for stat in ("max", "min", "count", "sum", "p95", "p99", "calculatedMetricValue"):
        assert properties[stat]["type"] == ["number", "null"]
    assert properties["group"]["additionalProperties"]["type"] == ["string", "null"]
