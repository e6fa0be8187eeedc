"""The singer-sdk adapter (``streams/sdk.py``) still fits the SDK installed underneath it.

Each private name the adapter calls or overrides must exist with the signature it was written
for: an override whose name the SDK renamed would be silently skipped, and the tap would lose
its STATE after every page or its exit code on SIGTERM without any test of behaviour failing at
once. The fast RECORD path must write byte for byte what the SDK's own path writes, and the
SDK must validate against the tap's copy of the config schema without ranges. The real
path (CLI against the simulator) is covered elsewhere: a STATE per page in
``test_extract.py``, exit 128 + SIGTERM in ``test_tokens_and_shutdown.py``, pruning and maps
in ``test_output.py``.
"""

from __future__ import annotations

import copy
import datetime as dt
import inspect
import json
import signal
from collections.abc import Iterator
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import singer_sdk.streams.core
from singer_sdk import Stream, Tap
from singer_sdk.helpers import _util
from singer_sdk.plugin_base import PluginBase
from singer_sdk.singerlib import RecordMessage

from tap_genesys_analytics.config.settings import ConfigError
from tap_genesys_analytics.streams import sdk
from tap_genesys_analytics.streams.base import ChildStream
from tap_genesys_analytics.streams.sdk import CHECKED_AGAINST, AdaptedStream, AdaptedTap
from tap_genesys_analytics.tap import TapGenesysAnalytics

CONFIG = {
    "client_id": "adapter-test",
    "client_secret": "adapter-secret",
    "api_url": "http://127.0.0.1:9",
    "login_url": "http://127.0.0.1:9",
    "start_date": "2024-01-01T00:00:00Z",
    "end_date": "2024-01-02T00:00:00Z",
}
RECORD = {
    "conversationId": "0c3b7d8e-1f2a-4b5c-8d9e-0a1b2c3d4e5f",
    "conversationStart": "2024-01-01T08:00:00.000Z",
    "originatingDirection": "inbound",
    "participants": [{"participantId": "p1", "purpose": "customer", "sessions": []}],
}
FROZEN = dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone.utc)


def _parameters(function: Any) -> list[tuple[str, Any]]:
    return [(p.name, p.kind) for p in inspect.signature(function).parameters.values()]


@pytest.fixture
def tap() -> Iterator[TapGenesysAnalytics]:
    """A tap built in this process; the signal handlers it installs are put back after."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield TapGenesysAnalytics(config=CONFIG, parse_env_config=False)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _lines(captured: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


def test_the_sdk_is_the_release_the_adapter_was_checked_against() -> None:
    installed = metadata.version("singer-sdk")
    assert installed.split(".")[:2] == CHECKED_AGAINST.split(".")[:2], (
        f"singer-sdk {installed} is installed, the adapter was checked against {CHECKED_AGAINST}: "
        "read each private use listed in streams/sdk.py in the new release, then update "
        "CHECKED_AGAINST"
    )


@pytest.mark.parametrize(
    ("base", "name", "parameters"),
    [
        (Stream, "_write_record_message", ["self", "record"]),
        (Stream, "_write_schema_message", ["self"]),
        (Stream, "_write_state_message", ["self"]),
        (Tap, "_handle_termination", ["self", "signum", "frame"]),
    ],
)
def test_each_private_method_exists_with_the_signature_used(
    base: type, name: str, parameters: list[str]
) -> None:
    method = getattr(base, name, None)
    assert callable(method), f"{base.__name__}.{name} is gone from singer-sdk"
    assert [p for p, _ in _parameters(method)] == parameters
    assert all(kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for _, kind in _parameters(method))


@pytest.mark.parametrize(
    ("adapter", "base", "name"),
    [
        (AdaptedStream, Stream, "_write_record_message"),
        (AdaptedTap, Tap, "_handle_termination"),
    ],
)
def test_each_override_replaces_an_sdk_method_of_the_same_shape(
    adapter: type, base: type, name: str
) -> None:
    ours = adapter.__dict__[name]
    assert getattr(base, name) is not ours
    assert [p for p, _ in _parameters(ours)] == [p for p, _ in _parameters(getattr(base, name))]


def test_the_fast_path_uses_the_sdk_clock_and_message_fields() -> None:
    assert sdk.utc_now is _util.utc_now, "the fast path stamps records with the SDK's clock"
    now = _util.utc_now()
    assert now.tzinfo is not None
    assert now.utcoffset() == dt.timedelta(0)
    fields = set(inspect.signature(RecordMessage).parameters)
    assert {"stream", "record", "version", "time_extracted"} <= fields


def test_private_attributes_the_adapter_reads_exist(tap: TapGenesysAnalytics) -> None:
    stream = tap.streams["conversation_details"]
    assert stream._tap is tap
    assert hasattr(stream, "_stream_version")
    assert isinstance(stream.state_manager.is_flushed, bool)


def test_the_sdk_installs_the_termination_override_as_its_signal_handler(
    tap: TapGenesysAnalytics,
) -> None:
    # The exit status itself (128 + SIGTERM, STATE first) is asserted over the CLI elsewhere;
    # here: the SDK still routes both signals to the method the adapter overrides.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    PluginBase._setup_signal_handlers(tap)
    assert signal.getsignal(signal.SIGTERM) == tap._handle_termination
    assert signal.getsignal(signal.SIGINT) == tap._handle_termination


def test_fast_path_writes_what_the_sdk_path_writes(
    tap: TapGenesysAnalytics, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch
) -> None:
    monkeypatch.setattr(singer_sdk.streams.core, "utc_now", lambda: FROZEN)
    monkeypatch.setattr(sdk, "utc_now", lambda: FROZEN)
    stream = tap.streams["conversation_details"]
    assert stream._plain_records(), "the fast path is taken for this catalog"
    capsysbinary.readouterr()

    stream.state_manager.is_flushed = True
    stream.write_record(copy.deepcopy(RECORD))
    fast = capsysbinary.readouterr().out
    assert stream.state_manager.is_flushed is False
    stream.state_manager.is_flushed = True
    Stream._write_record_message(stream, copy.deepcopy(RECORD))
    sdk_path = capsysbinary.readouterr().out
    assert stream.state_manager.is_flushed is False

    assert fast
    assert fast == sdk_path
    (message,) = _lines(fast)
    assert message["type"] == "RECORD"
    assert message["record"] == RECORD


def test_a_mapped_stream_takes_the_sdk_path(tap: TapGenesysAnalytics) -> None:
    mapped = TapGenesysAnalytics(
        config={**CONFIG, "stream_maps": {"conversation_details": {"direction": "'x'"}}},
        parse_env_config=False,
    )
    assert tap.streams["conversation_details"]._plain_records()
    assert not mapped.streams["conversation_details"]._plain_records()


def test_save_state_writes_the_edited_state_though_the_sdk_thinks_it_flushed(
    tap: TapGenesysAnalytics, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    stream = tap.streams["conversation_details"]
    capsysbinary.readouterr()
    stream.state_manager.is_flushed = True
    stream.stream_state["chunk"] = {"cursor": "after-page-1", "pages": 1}
    stream.save_state()
    (message,) = _lines(capsysbinary.readouterr().out)
    assert message["type"] == "STATE"
    saved = message["value"]["bookmarks"]["conversation_details"]["chunk"]
    assert saved == {"cursor": "after-page-1", "pages": 1}


def test_a_child_table_writes_its_schema_then_its_rows(
    tap: TapGenesysAnalytics, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    catalog = tap.catalog_dict
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == "conversation_participants":
            for item in entry["metadata"]:
                if item["breadcrumb"] == []:
                    item["metadata"]["selected"] = True
    selected = TapGenesysAnalytics(config=CONFIG, catalog=catalog, parse_env_config=False)
    child = selected.streams["conversation_participants"]
    assert isinstance(child, ChildStream)
    assert child.selected
    assert child._plain_records(), "every property is selected: the fast path"
    capsysbinary.readouterr()
    child.start()
    child.emit_rows(copy.deepcopy(RECORD))
    schema, row = _lines(capsysbinary.readouterr().out)
    assert schema["type"] == "SCHEMA"
    assert schema["stream"] == "conversation_participants"
    assert schema["schema"] == child.schema
    assert row["type"] == "RECORD"
    assert row["record"]["participantId"] == "p1"


def test_ranges_are_shown_by_the_schema_and_checked_by_the_settings(tmp_path: Path) -> None:
    # The CLI reads a config file with Decimal numbers; values exactly at fractional bounds pass.
    at_bounds = {**CONFIG, "job_poll_max_seconds": 0.05, "connect_timeout": 0.1}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(at_bounds))
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        config = _util.read_json_file(path)
        assert isinstance(config["job_poll_max_seconds"], Decimal)
        tap = TapGenesysAnalytics(config=config, parse_env_config=False)
        assert tap.settings.job_poll_max_seconds == 0.05
        assert TapGenesysAnalytics.config_jsonschema["properties"]["chunk_days"]["minimum"] == 1
        assert "minimum" not in tap.config_jsonschema["properties"]["chunk_days"]
        path.write_text(json.dumps({**CONFIG, "chunk_days": 0}))
        with pytest.raises(ConfigError, match=r"chunk_days must be from 1 to 31, got 0\."):
            TapGenesysAnalytics(config=_util.read_json_file(path), parse_env_config=False)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
