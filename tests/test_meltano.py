"""End to end through Meltano: ``meltano run tap-genesys-analytics <loader>`` against the simulator.

Every test here needs ``.venv-meltano`` and the plugins under ``.meltano/`` (``scripts/setup.sh``
installs both); the ``meltano`` fixture skips the module's tests when Meltano is not installed,
and fails them in CI (``CI=true``). Loaders upsert on the key, so a duplicate check on a loaded
table cannot fail: duplicates are checked on the tap's Singer output (test_extract, test_children,
test_resilience), where they can appear.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from genesys_simulator import Dataset, Faults, Simulator
from genesys_simulator.unknown import UNKNOWN_FIELD
from tap_genesys_analytics.tap import TapGenesysAnalytics
from tests.support import POSTGRES_PYTHON, postgres_reachable, require, run_postgres_script

ROOT = Path(__file__).resolve().parents[1]
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"

START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 1, 31, tzinfo=UTC)
CONVERSATIONS = 3000
SIM_CLIENT_ID = "sim-client"
SIM_CLIENT_SECRET = "sim-secret"
DUCKDB_SCHEMA = "tap_genesys_analytics"
DUCKDB_IDS = "SELECT conversationId FROM tap_genesys_analytics.conversation_details"


@pytest.fixture(scope="session")
def meltano() -> Path:
    """The project's Meltano executable; skips when it is not installed (fails in CI)."""
    require(MELTANO.exists(), f"{MELTANO.relative_to(ROOT)} is missing: run scripts/setup.sh")
    return MELTANO


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    return Dataset(seed=1, start=START, days=30, conversations=CONVERSATIONS)


@pytest.fixture(scope="session")
def simulator(dataset: Dataset) -> Iterator[Simulator]:
    sim = Simulator(
        dataset, client_id=SIM_CLIENT_ID, client_secret=SIM_CLIENT_SECRET, port=0
    ).start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture(scope="session")
def truth(dataset: Dataset) -> set[str]:
    return set(dataset.truth_ids(START, END))


def run_meltano(
    meltano: Path, simulator: Simulator, state_dir: Path, loader: str, extra_env: dict[str, str]
) -> None:
    """Run the pipeline with the extractor aimed at ``simulator``; fail with Meltano's log."""
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_STATE_BACKEND_URI": state_dir.as_uri(),
        "TAP_GENESYS_ANALYTICS_API_URL": simulator.url,
        "TAP_GENESYS_ANALYTICS_LOGIN_URL": simulator.url,
        "TAP_GENESYS_ANALYTICS_CLIENT_ID": SIM_CLIENT_ID,
        "TAP_GENESYS_ANALYTICS_CLIENT_SECRET": SIM_CLIENT_SECRET,
        "TAP_GENESYS_ANALYTICS_START_DATE": START.isoformat(),
        "TAP_GENESYS_ANALYTICS_END_DATE": END.isoformat(),
        **extra_env,
    }
    proc = subprocess.run(
        [str(meltano), "run", "--full-refresh", "tap-genesys-analytics", loader],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    log = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, f"meltano run exited {proc.returncode}:\n{log}"


def test_meltano_run_into_duckdb_loads_exactly_the_truth(
    meltano: Path, simulator: Simulator, truth: set[str], tmp_path: Path
) -> None:
    db = tmp_path / "genesys.duckdb"
    run_meltano(
        meltano,
        simulator,
        tmp_path / "state",
        "target-duckdb",
        {"TARGET_DUCKDB_FILEPATH": str(db), "TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA": DUCKDB_SCHEMA},
    )

    con = duckdb.connect(str(db), read_only=True)
    try:
        ids = [row[0] for row in con.execute(DUCKDB_IDS).fetchall()]
        tables = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                [DUCKDB_SCHEMA],
            ).fetchall()
        }
    finally:
        con.close()

    assert tables == {"conversation_details"}, "meltano.yml selects one stream by default"
    assert len(truth) > 0
    assert set(ids) == truth


def _selected_by_meltano(meltano: Path, tmp_path: Path) -> set[str]:
    """The streams Meltano marks selected in the catalog it hands the tap."""
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "TAP_GENESYS_ANALYTICS_CLIENT_ID": SIM_CLIENT_ID,
        "TAP_GENESYS_ANALYTICS_CLIENT_SECRET": SIM_CLIENT_SECRET,
        "TAP_GENESYS_ANALYTICS_START_DATE": START.isoformat(),
    }
    env.pop("TAP_GENESYS_ANALYTICS__SELECT", None)
    proc = subprocess.run(
        [str(meltano), "invoke", "--dump=catalog", "tap-genesys-analytics"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    catalog = json.loads(proc.stdout)
    assert len(catalog["streams"]) > 1, "the catalog lists every stream"
    selected = set()
    for entry in catalog["streams"]:
        top = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
        if top.get("selected"):
            selected.add(entry["tap_stream_id"])
    return selected


def test_meltano_hands_the_tap_the_selection_the_readme_describes(
    meltano: Path, tmp_path: Path
) -> None:
    readme = (ROOT / "README.md").read_text()
    assert "`meltano.yml` selects `conversation_details` only" in readme
    assert _selected_by_meltano(meltano, tmp_path) == {"conversation_details"}


def test_the_readme_shows_a_select_line_with_its_permission_for_every_other_stream() -> None:
    readme = (ROOT / "README.md").read_text()
    lines = dict(
        re.findall(r'^meltano select tap-genesys-analytics (\w+) "\*"\s+# (.+)$', readme, re.M)
    )
    tap = TapGenesysAnalytics(config={}, parse_env_config=False, validate_config=False)
    streams = {stream.name for stream in tap.discover_streams()}
    assert set(lines) == streams - {"conversation_details"}
    for stream, permission in lines.items():
        if stream.endswith("_aggregates"):
            subject = stream.removesuffix("_aggregates")
            assert permission.startswith(f"analytics:{subject}Aggregate:view"), stream
        elif stream.startswith("flow"):
            assert permission.startswith("architect:flow"), stream
        elif stream.startswith("conversation_"):
            assert permission == "analytics:conversationDetail:view", stream
        elif stream.startswith("user_"):
            assert permission == "analytics:userDetail:view", stream


POSTGRES_IDS = """
import json, os, sys
import psycopg
from psycopg import sql
schema = sys.argv[1]
conn = psycopg.connect(
    host=os.environ.get("TARGET_POSTGRES_HOST", "127.0.0.1"),
    port=int(os.environ.get("TARGET_POSTGRES_PORT", "5432")),
    user=os.environ.get("TARGET_POSTGRES_USER", "postgres"),
    password=os.environ["TARGET_POSTGRES_PASSWORD"],
    dbname=os.environ.get("TARGET_POSTGRES_DATABASE", "postgres"),
    autocommit=True,
)
with conn:
    if sys.argv[2] == "drop":
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    else:
        out = {}
        for table, key in (
            ("conversation_details", ["conversationId"]),
            ("conversation_participants", ["conversationId", "participantId"]),
            (
                "conversation_segments",
                ["conversationId", "participantId", "sessionId", "segmentStart", "segmentType"],
            ),
        ):
            rows = conn.execute(
                sql.SQL("SELECT {} FROM {}.{}").format(
                    sql.SQL(", ").join(sql.Identifier(k) for k in key),
                    sql.Identifier(schema),
                    sql.Identifier(table),
                )
            ).fetchall()
            out[table] = [list(map(str, r)) for r in rows]
        json.dump(out, sys.stdout)
"""


def _postgres(schema: str, action: str) -> str:
    return run_postgres_script(POSTGRES_IDS, schema, action, timeout=120)


def test_meltano_run_into_postgres_loads_exactly_the_truth(
    meltano: Path, simulator: Simulator, truth: set[str], tmp_path: Path
) -> None:
    require(
        "TARGET_POSTGRES_PASSWORD" in os.environ and postgres_reachable(),
        "no PostgreSQL: scripts/test.sh starts one and sets TARGET_POSTGRES_*",
    )
    require(POSTGRES_PYTHON.exists(), "target-postgres is not installed: run scripts/setup.sh")
    schema = f"pytest_genesys_{uuid.uuid4().hex[:8]}"
    try:
        run_meltano(
            meltano,
            simulator,
            tmp_path / "state",
            "target-postgres",
            {
                "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
                "TAP_GENESYS_ANALYTICS__SELECT": json.dumps(
                    [
                        "conversation_details.*",
                        "conversation_participants.*",
                        "conversation_segments.*",
                    ]
                ),
            },
        )
        tables = json.loads(_postgres(schema, "select"))
    finally:
        _postgres(schema, "drop")

    ids = [row[0] for row in tables["conversation_details"]]
    assert set(ids) == truth
    for table in ("conversation_participants", "conversation_segments"):
        keys = [tuple(row) for row in tables[table]]
        assert keys, table
        assert {k[0] for k in keys} == truth, table


UNKNOWN_STREAMS = ("conversation_details", "conversation_sessions", "conversation_metrics")
POSTGRES_UNKNOWN = """
import json, os, sys
import psycopg
from psycopg import sql
schema = sys.argv[1]
conn = psycopg.connect(
    host=os.environ.get("TARGET_POSTGRES_HOST", "127.0.0.1"),
    port=int(os.environ.get("TARGET_POSTGRES_PORT", "5432")),
    user=os.environ.get("TARGET_POSTGRES_USER", "postgres"),
    password=os.environ["TARGET_POSTGRES_PASSWORD"],
    dbname=os.environ.get("TARGET_POSTGRES_DATABASE", "postgres"),
    autocommit=True,
)
with conn:
    if sys.argv[2] == "drop":
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    else:
        out = {}
        for table in sys.argv[3:]:
            columns = [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = %s AND table_name = %s",
                    [schema, table],
                ).fetchall()
            ]
            rows = conn.execute(
                sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            ).fetchall()
            out[table] = {"columns": columns, "rows": [[str(v) for v in r] for r in rows]}
        json.dump(out, sys.stdout)
"""


@pytest.fixture(scope="module")
def unknown_fields_simulator() -> Iterator[Simulator]:
    """A small organisation whose every served object carries a field no schema declares."""
    dataset = Dataset(seed=3, start=START, days=30, conversations=300)
    sim = Simulator(
        dataset,
        client_id=SIM_CLIENT_ID,
        client_secret=SIM_CLIENT_SECRET,
        faults=Faults(unknown_fields=True, job_latency_seconds=0.05),
        port=0,
    ).start()
    try:
        yield sim
    finally:
        sim.stop()


def _loaded(loader: str, tmp_path: Path) -> dict[str, Any]:
    """How to aim ``loader`` (env), read its tables back (columns, rows as text) and clean up."""
    select = {"TAP_GENESYS_ANALYTICS__SELECT": json.dumps([f"{s}.*" for s in UNKNOWN_STREAMS])}
    if loader == "target-duckdb":
        db = tmp_path / "genesys.duckdb"
        return {
            "env": {
                **select,
                "TARGET_DUCKDB_FILEPATH": str(db),
                "TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA": DUCKDB_SCHEMA,
            },
            "read": lambda: _duckdb_tables(db),
        }
    if loader == "target-csv":
        folder = tmp_path / "csv"
        return {
            "env": {**select, "TARGET_CSV_OUTPUT_PATH": str(folder)},
            "read": lambda: _csv_tables(folder),
        }
    schema = f"pytest_unknown_{uuid.uuid4().hex[:8]}"
    return {
        "env": {**select, "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema},
        "read": lambda: json.loads(_run_postgres(POSTGRES_UNKNOWN, schema, "select")),
        "cleanup": lambda: _run_postgres(POSTGRES_UNKNOWN, schema, "drop"),
    }


def _duckdb_tables(db: Path) -> dict[str, Any]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table in UNKNOWN_STREAMS:
            cursor = con.execute(f"SELECT * FROM {DUCKDB_SCHEMA}.{table}")  # noqa: S608
            columns = [d[0] for d in cursor.description]
            out[table] = {
                "columns": columns,
                "rows": [[str(v) for v in r] for r in cursor.fetchall()],
            }
        return out
    finally:
        con.close()


def _csv_tables(folder: Path) -> dict[str, Any]:
    out = {}
    for table in UNKNOWN_STREAMS:
        with (folder / f"{table}.csv").open(newline="") as fp:
            reader = csv.reader(fp)
            columns = next(reader)
            out[table] = {"columns": columns, "rows": list(reader)}
    return out


def _run_postgres(script: str, *args: str) -> str:
    return run_postgres_script(script, *args, *UNKNOWN_STREAMS, timeout=120)


@pytest.mark.parametrize("loader", ["target-duckdb", "target-csv", "target-postgres"])
def test_every_loader_survives_fields_the_api_adds_later(
    meltano: Path, unknown_fields_simulator: Simulator, tmp_path: Path, loader: str
) -> None:
    """Each configured loader loads a run in which every served object has an unknown field.

    Top-level unknown fields never reach the loader (the tap leaves them out); nested ones
    arrive inside JSON columns and are kept there. On 86a853e target-csv stopped the run.
    """
    if loader == "target-postgres":
        require(
            "TARGET_POSTGRES_PASSWORD" in os.environ and postgres_reachable(),
            "no PostgreSQL: scripts/test.sh starts one and sets TARGET_POSTGRES_*",
        )
        require(POSTGRES_PYTHON.exists(), "target-postgres is not installed: run scripts/setup.sh")
    sim = unknown_fields_simulator
    before = sim.stats.faults["unknown_field"]
    plan = _loaded(loader, tmp_path)
    try:
        run_meltano(meltano, sim, tmp_path / "state", loader, plan["env"])
        tables = plan["read"]()
    finally:
        if "cleanup" in plan:
            plan["cleanup"]()
    assert sim.stats.faults["unknown_field"] > before, "the unknown field was served"

    truth = set(sim.dataset.truth_ids(START, END))
    details = tables["conversation_details"]
    # Loaders differ in case (target-duckdb folds column names to lower case).
    columns = {table: [c.lower() for c in tables[table]["columns"]] for table in UNKNOWN_STREAMS}
    id_column = columns["conversation_details"].index("conversationid")
    assert {row[id_column] for row in details["rows"]} == truth
    for table in UNKNOWN_STREAMS:
        assert tables[table]["rows"], table
        assert UNKNOWN_FIELD.lower() not in columns[table], f"{table}: an undeclared column"
    participants = columns["conversation_details"].index("participants")
    assert all(UNKNOWN_FIELD in row[participants] for row in details["rows"]), (
        "nested unknown fields stay in the JSON column"
    )


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
