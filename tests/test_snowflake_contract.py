"""The tables target-snowflake would create for every stream: columns, types and keys.

The loader ``meltano.yml`` installs (meltanolabs-target-snowflake) runs in its own venv against
fakesnow, a Snowflake emulator on DuckDB that ``scripts/setup.sh`` adds to that venv, fed the
SCHEMA messages the tap writes for every stream. It creates each table as it would on Snowflake;
the test then reads ``information_schema.columns`` and ``SHOW PRIMARY KEYS`` and compares them
with the tap's schemas. No RECORD is sent: loading goes through a stage (PUT of a file, then
COPY/MERGE from the stage), which needs a real account, so only the table contract is checked
here and nothing else is mocked.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tap_genesys_analytics.tap import TapGenesysAnalytics
from tests.selection import catalog_selecting
from tests.support import ROOT, require, run_tap, sim_config
from tests.test_aggregates import QUERIES

SNOWFLAKE_PYTHON = ROOT / ".meltano" / "loaders" / "target-snowflake" / "venv" / "bin" / "python"
SCHEMA = "TAP_GENESYS_ANALYTICS"

#: Runs in the loader's venv: the loader's own CLI under fakesnow, then what it created.
DRIVER = """
import json, sys
import fakesnow
config, messages, schema = sys.argv[1:4]
with fakesnow.patch():
    from target_snowflake.target import TargetSnowflake
    try:
        TargetSnowflake.cli(["--config", config, "--input", messages], standalone_mode=False)
    except SystemExit as exc:
        if exc.code:
            raise
    import snowflake.connector
    con = snowflake.connector.connect(
        account="fake", user="fake", password="fake", database="GENESYS", schema=schema
    )
    cur = con.cursor()
    cur.execute(
        "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale "
        "FROM information_schema.columns WHERE table_schema = %s",
        (schema,),
    )
    tables = {}
    for table, column, data_type, precision, scale in cur.fetchall():
        spelled = f"{data_type}({precision},{scale})" if data_type == "NUMBER" else data_type
        tables.setdefault(table, {"columns": {}, "keys": []})["columns"][column] = spelled
    for table in tables:
        cur.execute(f"SHOW PRIMARY KEYS IN TABLE {schema}.{table}")
        tables[table]["keys"] = sorted(row[4] for row in cur.fetchall())
    json.dump(tables, sys.stdout)
"""


def snowflake_type(prop: dict[str, Any]) -> str:
    """The Snowflake type a JSON schema property should get: VARIANT for anything nested."""
    types = prop.get("type", [])
    types = {types} if isinstance(types, str) else set(types)
    types.discard("null")
    if types & {"object", "array"} or not types or "anyOf" in prop:
        return "VARIANT"
    if types == {"string"}:
        return "TIMESTAMP_NTZ" if prop.get("format") == "date-time" else "TEXT"
    if types == {"integer"}:
        return "NUMBER(38,0)"
    if types == {"number"}:
        return "FLOAT"
    if types == {"boolean"}:
        return "BOOLEAN"
    return "VARIANT"


def _schema_messages(tmp: Path, make_sim: Any) -> list[dict[str, Any]]:
    """The SCHEMA messages of a run of the tap with every stream selected."""
    sim = make_sim(conversations=40, days=3)
    config = sim_config(sim, aggregates=QUERIES, end_date="2024-01-04T00:00:00Z")
    tap = TapGenesysAnalytics(config={}, parse_env_config=False, validate_config=False)
    streams = {stream.name for stream in tap.discover_streams()}
    catalog = catalog_selecting(tmp, config, streams)
    run = run_tap(tmp, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0, run.stderr[-2000:]
    schemas = [m for m in run.messages if m["type"] == "SCHEMA"]
    assert {m["stream"] for m in schemas} == streams, "every stream sent its SCHEMA"
    return schemas


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_every_stream_gets_the_table_contract_on_snowflake(tmp_path: Path, make_sim) -> None:
    require(SNOWFLAKE_PYTHON.exists(), "target-snowflake is not installed: run scripts/setup.sh")
    has_fakesnow = subprocess.run(
        [str(SNOWFLAKE_PYTHON), "-c", "import fakesnow"], capture_output=True, check=False
    )
    require(has_fakesnow.returncode == 0, "fakesnow is missing: run scripts/setup.sh")

    schemas = _schema_messages(tmp_path, make_sim)
    messages = tmp_path / "schemas.jsonl"
    messages.write_text("".join(json.dumps(m) + "\n" for m in schemas))
    # The settings meltano.yml gives the loader, plus placeholders for the connection.
    config = {
        "account": "fake",
        "user": "fake",
        "password": "fake",
        "database": "GENESYS",
        "default_target_schema": SCHEMA,
        "load_method": "upsert",
        "validate_records": False,
    }
    proc = subprocess.run(
        [
            str(SNOWFLAKE_PYTHON),
            "-c",
            DRIVER,
            str(_write(tmp_path / "snowflake.json", config)),
            str(messages),
            SCHEMA,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    tables = json.loads(proc.stdout)

    assert set(tables) == {m["stream"].upper() for m in schemas}, "one table per stream"
    problems = []
    for message in schemas:
        table = tables[message["stream"].upper()]
        properties = message["schema"]["properties"]
        want = {name.upper(): snowflake_type(prop) for name, prop in properties.items()}
        got = {c: t for c, t in table["columns"].items() if not c.startswith("_SDC_")}
        if got != want:
            diff = {c: (want.get(c), got.get(c)) for c in want.keys() | got.keys()}
            problems.append((message["stream"], {c: d for c, d in diff.items() if d[0] != d[1]}))
        keys = sorted(k.upper() for k in message["key_properties"])
        if table["keys"] != keys:
            problems.append((message["stream"], {"keys": (keys, table["keys"])}))
    assert not problems, problems
    # Every stream has a key: the loader's upsert MERGEs on it.
    assert all(tables[m["stream"].upper()]["keys"] for m in schemas)
    # The nested fields the warehouse must keep whole are VARIANT, not text.
    details = tables["CONVERSATION_DETAILS"]["columns"]
    assert details["PARTICIPANTS"] == "VARIANT"
    assert details["CONVERSATIONSTART"] == "TIMESTAMP_NTZ"
