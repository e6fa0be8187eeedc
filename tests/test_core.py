"""singer-sdk's standard tap tests, against the simulator over loopback HTTP.

``get_tap_test_class`` builds the tap at collection time, so the simulator starts at import
and stops when the session ends.
"""

from __future__ import annotations

import atexit
import json
from pathlib import Path

import jsonschema
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_genesys_analytics.streams.base import load_schema
from tap_genesys_analytics.tap import TapGenesysAnalytics
from tests.support import run_tap, sim_config, start_sim, truth

SIM = start_sim(conversations=600, days=30)
atexit.register(SIM.stop)

CONFIG = sim_config(
    SIM,
    start_date="2024-01-01T00:00:00Z",
    end_date="2024-01-15T00:00:00Z",
    aggregates=[{"name": "by_queue", "group_by": ["queueId"], "metrics": ["nOffered", "tHandle"]}],
)


def _select_every_stream() -> dict:
    # Only conversation_details is selected by default; the standard tests cover every stream.
    catalog = TapGenesysAnalytics(config=CONFIG, parse_env_config=False).catalog_dict
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = True
    return catalog


TestTapGenesysAnalytics = get_tap_test_class(
    tap_class=TapGenesysAnalytics,
    config=CONFIG,
    parse_env_config=False,
    catalog=_select_every_stream(),
    suite_config=SuiteConfig(max_records_limit=None),
)


def test_only_conversation_details_is_selected_by_default() -> None:
    tap = TapGenesysAnalytics(config=CONFIG, parse_env_config=False)
    selected = {name for name, stream in tap.streams.items() if stream.selected}
    assert selected == {"conversation_details"}


def test_records_match_the_schema(tmp_path: Path) -> None:
    # Per-record type conformance is off for speed (README, implementation notes): this proves
    # that what the API sends already fits the schema, format checks included.
    run = run_tap(tmp_path, sim_config(SIM, end_date="2024-01-08T00:00:00Z"))
    assert run.returncode == 0, run.stderr[-2000:]
    schema = load_schema("conversation_details")
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    records = run.records()
    assert records
    for record in records:
        errors = sorted(validator.iter_errors(record), key=str)
        assert not errors, f"{record['conversationId']}: {errors[0]}"
    # Every property the API sent is in the schema (conformance would otherwise drop nothing).
    declared = set(schema["properties"])
    assert {key for record in records for key in record} <= declared


def test_records_are_output_as_parsed(tmp_path: Path) -> None:
    # JSON in, JSON out: the emitted record is the API's record, numbers exact.
    run = run_tap(tmp_path, sim_config(SIM, end_date="2024-01-03T00:00:00Z"))
    assert run.returncode == 0
    ds = SIM.dataset
    for record in run.records()[:50]:
        expected = ds.conversation(ds.index_of(record["conversationId"]), now=SIM.now)
        assert json.loads(json.dumps(record)) == json.loads(json.dumps(expected))
    assert set(run.ids()) == truth(SIM, "2024-01-01", "2024-01-03")
