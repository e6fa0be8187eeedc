"""What the tap writes is what loaders may trust: every record fits the schema sent before it.

The loaders in ``meltano.yml`` run with ``validate_records: false`` (README, Performance), and
the tap writes records without the SDK's per-record pruning and conformance when those would
not change them; these tests drive the CLI against the simulator to show both are sound.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import jsonschema

from tests.selection import catalog_selecting
from tests.support import run_tap, sim_config

#: A query of each subject without built-in queries, so that every stream writes records.
AGGREGATES = [
    {"name": "by_queue", "group_by": ["queueId"], "metrics": ["nOffered", "tHandle"]},
    {"name": "qa", "subject": "evaluations", "group_by": ["userId"], "metrics": ["nEvaluations"]},
    {"name": "nps", "subject": "surveys", "group_by": ["queueId"], "metrics": ["nSurveyResponses"]},
]


def test_every_record_of_every_stream_fits_the_schema_the_tap_sent(
    tmp_path: Path, make_sim
) -> None:
    sim = make_sim(conversations=400, days=10)
    config = sim_config(
        sim, end_date="2024-01-08T00:00:00Z", aggregates=AGGREGATES, aggregates_granularity="P1D"
    )
    discovered = json.loads(
        catalog_selecting(tmp_path, config, ["conversation_details"]).read_text()
    )
    every = [entry["tap_stream_id"] for entry in discovered["streams"]]
    catalog = catalog_selecting(tmp_path, config, every)
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0, run.stderr[-3000:]

    schemas: dict[str, dict[str, Any]] = {}
    counts: collections.Counter[str] = collections.Counter()
    for message in run.messages:
        if message["type"] == "SCHEMA":
            schemas[message["stream"]] = message["schema"]
        elif message["type"] == "RECORD":
            stream = message["stream"]
            assert stream in schemas, f"a {stream} RECORD before its SCHEMA"
            validator = jsonschema.Draft7Validator(
                schemas[stream], format_checker=jsonschema.FormatChecker()
            )
            errors = sorted(validator.iter_errors(message["record"]), key=str)
            assert not errors, f"{stream}: {errors[0]}"
            declared = set(schemas[stream].get("properties", {}))
            assert set(message["record"]) <= declared, f"{stream}: a property outside the schema"
            counts[stream] += 1
    # The condition happened: every stream wrote records, so every schema was checked.
    assert set(counts) == set(every), f"streams without records: {set(every) - set(counts)}"


def test_deselected_properties_and_stream_maps_still_apply(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=300, days=5)
    config = sim_config(sim, end_date="2024-01-04T00:00:00Z")
    plain = run_tap(tmp_path, config)
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert all("originatingDirection" in r for r in plain.records())

    catalog_path = catalog_selecting(tmp_path, config, ["conversation_details"])
    catalog = json.loads(catalog_path.read_text())
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == ["properties", "originatingDirection"]:
                item["metadata"]["selected"] = False
    catalog_path.write_text(json.dumps(catalog))
    pruned = run_tap(tmp_path, config, args=("--catalog", str(catalog_path)))
    assert pruned.returncode == 0, pruned.stderr[-3000:]
    assert pruned.records(), "records were written"
    assert not any("originatingDirection" in r for r in pruned.records())
    without = [{k: v for k, v in r.items() if k != "originatingDirection"} for r in plain.records()]
    assert pruned.records() == without

    mapped_config = {
        **config,
        "stream_maps": {"conversation_details": {"direction": "originatingDirection"}},
    }
    mapped = run_tap(tmp_path, mapped_config)
    assert mapped.returncode == 0, mapped.stderr[-3000:]
    records = mapped.records()
    assert records
    assert all(r["direction"] == r["originatingDirection"] for r in records)
