"""Every stream through ``meltano run`` into DuckDB, PostgreSQL and CSV equals the truth.

Each loader runs as ``meltano.yml`` configures it (only the destination and, for DuckDB, the batch
size are overridden), with every stream selected. Then each table's key columns are read back and
compared, row for row, with what the simulator holds: the conversations that started in the window
and their participants, sessions, segments and metrics; the users details of each grid cell and
their presence and routing-status intervals; the aggregate rows of two named conversation
queries, one query of every other subject and the built-in flow queries; every entity of the ten
listings.

DuckDB runs with small batches (``BATCH``), so many batches start on a row that DuckDB's CSV
sniffer may take for a header. On 86a853e (``meltano.yml`` ran target-duckdb 0.8.0 itself) the
DuckDB case fails: ``conversation_aggregates`` stops the run on a NOT NULL constraint (its
``qualifier`` key is ``""``), and with that stream left out the first rows of batches are missing
(at batch 200: 2 participants, 29 metrics, 1 user detail, 42 presence and 125 routing-status
intervals, 1 skill; at the shipped 2,000, 24 rows). ``target-duckdb-exact`` makes it pass. The
final-STATE test fails on 86a853e too: its run ends on an exactly full batch.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from genesys_simulator import Simulator
from genesys_simulator import quality as quality_model
from genesys_simulator.directory import entities as entities_of
from genesys_simulator.flow_aggregates import flow_aggregate
from genesys_simulator.quality_aggregates import evaluation_aggregate, survey_aggregate
from genesys_simulator.user_aggregates import user_aggregate
from tap_genesys_analytics.config.aggregates import parse_aggregates
from tap_genesys_analytics.genesys import child_rows, quality, users
from tap_genesys_analytics.genesys.aggregates import builtin_queries
from tap_genesys_analytics.tap import TapGenesysAnalytics
from tap_genesys_analytics.windows import DateWindow
from tests.support import (
    POSTGRES_PYTHON,
    ROOT,
    meltano_env,
    postgres_reachable,
    require,
    run_meltano,
    run_postgres_script,
    start_sim,
    truth,
)
from tests.test_aggregate_subjects import _truth as subject_truth
from tests.test_aggregates import QUERIES, aggregate_truth
from tests.test_dimensions import DIMENSIONS
from tests.test_dimensions import _truth as dimension_truth
from tests.test_user_streams import user_truth

MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
START, END = "2024-01-01", "2024-01-15"
#: Small enough that many of the DuckDB loader's batches begin on a header-like row.
BATCH = 200
UTC = dt.timezone.utc
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")

Key = tuple[Any, ...]


def _key_properties() -> dict[str, list[str]]:
    """Every stream the tap discovers, with its key columns."""
    tap = TapGenesysAnalytics(config={}, parse_env_config=False, validate_config=False)
    return {stream.name: list(stream.primary_keys or []) for stream in tap.discover_streams()}


KEYS = _key_properties()


@pytest.fixture(scope="module")
def meltano() -> Path:
    require(MELTANO.exists(), ".venv-meltano is missing: run scripts/setup.sh to install it")
    return MELTANO


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    simulator = start_sim(conversations=500, days=14)
    try:
        yield simulator
    finally:
        simulator.stop()


def _normal(value: Any) -> Any:
    """One spelling per value: timestamps as aware UTC datetimes, everything else as text."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    text = str(value)
    if ISO.match(text):
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    return text


def _keys(stream: str, rows: Iterable[dict[str, Any]]) -> list[Key]:
    return [tuple(_normal(row.get(k)) for k in KEYS[stream]) for row in rows]


def expected_keys(sim: Simulator) -> dict[str, collections.Counter[Key]]:
    """The simulator's truth for every stream, as keys (each once)."""
    ds = sim.dataset
    conversations = [ds.conversation(ds.index_of(cid), sim.now) for cid in truth(sim, START, END)]
    rows: dict[str, list[dict[str, Any]]] = {
        "conversation_details": conversations,
        "conversation_participants": [],
        "conversation_sessions": [],
        "conversation_segments": [],
        "conversation_metrics": [],
    }
    for conversation in conversations:
        rows["conversation_participants"] += child_rows.participants(conversation)
        rows["conversation_sessions"] += child_rows.sessions(conversation)
        rows["conversation_segments"] += child_rows.segments(conversation)
        rows["conversation_metrics"] += child_rows.metrics(conversation)
    details = user_truth(sim, START, END)
    rows["user_details"] = details
    rows["user_presence"] = [r for d in details for r in users.presence_rows(d)]
    rows["user_routing_status"] = [r for d in details for r in users.routing_status_rows(d)]
    rows["conversation_aggregates"] = list(aggregate_truth(sim, START, END).values())
    rows.update(other_aggregates_truth(sim))
    for stream in ("flows", "flow_outcomes", "flow_milestones"):
        rows[stream] = entities_of(ds.pools, stream)
    for stream in DIMENSIONS:
        rows[stream] = dimension_truth(sim, stream)
    rows.update(quality_truth(sim, conversations))
    assert set(rows) == set(KEYS), "the truth covers every stream the tap discovers"
    # Each key once: a status spanning two grid cells is served whole to both cells' jobs, and
    # a loaded table holds it once (the tap writes each key once per run).
    return {stream: collections.Counter(set(_keys(stream, r))) for stream, r in rows.items()}


def aggregate_queries(sim: Simulator) -> list[dict[str, Any]]:
    """The conversation queries of ``test_aggregates`` and one daily query per other subject.

    The users query names ten users: the loaders are under test here, not the batching, and
    every user of the pool would make thousands of rows that only slow the loaders down.
    """
    some_users = [user["id"] for user in sim.dataset.pools.users[:10]]
    return [
        *QUERIES,
        {
            "name": "agent_status",
            "subject": "users",
            "group_by": ["userId"],
            "metrics": ["tSystemPresence", "tOrganizationPresence", "tAgentRoutingStatus"],
            "granularity": "P1D",
            "filter": {
                "type": "or",
                "predicates": [{"dimension": "userId", "value": u} for u in some_users],
            },
        },
        {
            "name": "qa_daily",
            "subject": "evaluations",
            "group_by": ["userId"],
            "metrics": ["nEvaluations", "oTotalScore"],
            "granularity": "P1D",
        },
        {
            "name": "nps_daily",
            "subject": "surveys",
            "group_by": ["queueId"],
            "metrics": ["nSurveyNpsResponses", "oSurveyTotalScore"],
            "granularity": "P1D",
        },
    ]


def other_aggregates_truth(sim: Simulator) -> dict[str, list[dict[str, Any]]]:
    """Users, evaluations and surveys queries and the built-in flow queries, whole range at once."""
    window = DateWindow(
        dt.datetime.fromisoformat(START).replace(tzinfo=UTC),
        dt.datetime.fromisoformat(END).replace(tzinfo=UTC),
    )
    queries = parse_aggregates(aggregate_queries(sim))
    rows: dict[str, list[dict[str, Any]]] = {}
    for stream, subject, compute in (
        ("user_aggregates", "users", user_aggregate),
        ("evaluation_aggregates", "evaluations", evaluation_aggregate),
        ("survey_aggregates", "surveys", survey_aggregate),
    ):
        mine = tuple(q for q in queries if q.subject == subject)
        rows[stream] = list(subject_truth(sim, compute, mine, window).values())
    flows = builtin_queries("flows", "P1D", "UTC")
    rows["flow_aggregates"] = list(subject_truth(sim, flow_aggregate, flows, window).values())
    return rows


def quality_truth(
    sim: Simulator, conversations: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """The quality streams' truth: headers from the conversations, items changed in the window.

    An evaluation or survey with an event in ``[START, END)`` is read by id as it stands at the
    simulator's clock (a deleted one as its tombstone); forms are every version published by then.
    """
    ds, now = sim.dataset, sim.now_ms
    lo = int(dt.datetime.fromisoformat(START).replace(tzinfo=UTC).timestamp() * 1000)
    hi = int(dt.datetime.fromisoformat(END).replace(tzinfo=UTC).timestamp() * 1000)
    rows: dict[str, list[dict[str, Any]]] = {
        "conversation_evaluations": [
            {**e, "conversationId": c["conversationId"]}
            for c in conversations
            for e in c.get("evaluations", ())
        ],
        "conversation_surveys": [
            {**v, "conversationId": c["conversationId"]}
            for c in conversations
            for v in c.get("surveys", ())
        ],
        "evaluation_forms": [f for f in ds.quality_forms[0] if f["publishedAt"] <= now],
        "survey_forms": [f for f in ds.quality_forms[1] if f["publishedAt"] <= now],
        "evaluations": [],
        "evaluation_question_group_scores": [],
        "evaluation_question_scores": [],
        "surveys": [],
        "survey_question_scores": [],
    }
    for plan in ds.quality_items(lo, hi):
        for item in plan.evaluations:
            evaluation = quality_model.evaluation_at(item, now)
            if evaluation is None or not any(lo <= e.t < hi for e in item.events):
                continue
            rows["evaluations"].append(evaluation)
            if not evaluation["deleted"]:
                rows["evaluation_question_group_scores"] += quality.evaluation_group_rows(
                    evaluation
                )
                rows["evaluation_question_scores"] += quality.evaluation_question_rows(evaluation)
        for item in plan.surveys:
            survey = quality_model.survey_at(item, now)
            if survey is None or not any(lo <= e.t < hi for e in item.events):
                continue
            rows["surveys"].append(survey)
            rows["survey_question_scores"] += quality.survey_question_rows(survey)
    return rows


def _env(sim: Simulator, tmp: Path, **extra: str) -> dict[str, str]:
    """Every stream selected, with the aggregates queries, unless ``extra`` says otherwise."""
    every_stream = {
        "TAP_GENESYS_ANALYTICS_AGGREGATES": json.dumps(aggregate_queries(sim)),
        "TAP_GENESYS_ANALYTICS_AGGREGATES_GRANULARITY": "P1D",
        "TAP_GENESYS_ANALYTICS__SELECT": json.dumps([f"{stream}.*" for stream in KEYS]),
    }
    return meltano_env(sim, tmp, f"{START}T00:00:00Z", f"{END}T00:00:00Z", **(every_stream | extra))


def _run(meltano: Path, loader: str, env: dict[str, str]) -> None:
    """``meltano run`` on the test's own system database (no state yet: a first run).

    Not ``--full-refresh``: Meltano then merges each STATE into the one before, so keys the tap
    drops from its bookmark at the end (its mid-run position) would stay in the saved state.
    """
    proc = run_meltano(meltano, "run", "tap-genesys-analytics", loader, env=env, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]


def _read_duckdb(path: Path, schema: str) -> dict[str, list[Key]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for stream, keys in KEYS.items():
            columns = ", ".join(f'"{k}"' for k in keys)
            query = f'SELECT {columns} FROM "{schema}"."{stream}"'  # noqa: S608 - fixed names
            out[stream] = [tuple(map(_normal, row)) for row in con.execute(query).fetchall()]
        return out
    finally:
        con.close()


POSTGRES_KEYS = """
import json, os, sys
import psycopg
from psycopg import sql
schema, action = sys.argv[1], sys.argv[2]
conn = psycopg.connect(
    host=os.environ.get("TARGET_POSTGRES_HOST", "127.0.0.1"),
    port=int(os.environ.get("TARGET_POSTGRES_PORT", "5432")),
    user=os.environ.get("TARGET_POSTGRES_USER", "postgres"),
    password=os.environ["TARGET_POSTGRES_PASSWORD"],
    dbname=os.environ.get("TARGET_POSTGRES_DATABASE", "postgres"),
    autocommit=True,
)
with conn:
    if action == "drop":
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    else:
        out = {}
        for table, keys in json.loads(action).items():
            query = sql.SQL("SELECT {} FROM {}.{}").format(
                sql.SQL(", ").join(sql.Identifier(k) for k in keys),
                sql.Identifier(schema),
                sql.Identifier(table),
            )
            out[table] = conn.execute(query).fetchall()
        json.dump(out, sys.stdout, default=lambda v: v.isoformat())
"""


def _postgres(schema: str, action: str) -> str:
    return run_postgres_script(POSTGRES_KEYS, schema, action)


def _read_csv(folder: Path) -> dict[str, list[Key]]:
    out = {}
    for stream in KEYS:
        with (folder / f"{stream}.csv").open(newline="") as handle:
            out[stream] = _keys(stream, csv.DictReader(handle))
    return out


def load(meltano: Path, sim: Simulator, tmp: Path, loader: str) -> dict[str, list[Key]]:
    """Run ``meltano run`` into ``loader`` with every stream; each table's keys, as loaded."""
    if loader == "target-duckdb":
        db = tmp / "out.duckdb"
        env = _env(
            sim,
            tmp,
            TARGET_DUCKDB_FILEPATH=str(db),
            TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA="genesys",
            TARGET_DUCKDB_BATCH_SIZE_ROWS=str(BATCH),
        )
        _run(meltano, loader, env)
        return _read_duckdb(db, "genesys")
    if loader == "target-csv":
        _run(meltano, loader, _env(sim, tmp, TARGET_CSV_OUTPUT_PATH=str(tmp / "csv")))
        return _read_csv(tmp / "csv")
    require(
        "TARGET_POSTGRES_PASSWORD" in os.environ and postgres_reachable(),
        "no PostgreSQL: scripts/test.sh starts one and sets TARGET_POSTGRES_*",
    )
    require(POSTGRES_PYTHON.exists(), "target-postgres is not installed: run scripts/setup.sh")
    schema = f"pytest_loaders_{uuid.uuid4().hex[:8]}"
    try:
        _run(meltano, loader, _env(sim, tmp, TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA=schema))
        tables = json.loads(_postgres(schema, json.dumps(KEYS)))
    finally:
        _postgres(schema, "drop")
    return {stream: [tuple(map(_normal, row)) for row in rows] for stream, rows in tables.items()}


@pytest.mark.parametrize("loader", ["target-duckdb", "target-postgres", "target-csv"])
def test_every_stream_loads_exactly_the_truth(
    meltano: Path, sim: Simulator, tmp_path: Path, loader: str
) -> None:
    expected = expected_keys(sim)
    assert all(expected.values()), "every stream has rows in the truth"
    loaded = {
        stream: collections.Counter(keys)
        for stream, keys in load(meltano, sim, tmp_path, loader).items()
    }

    differences = {
        stream: {
            "rows": sum(loaded[stream].values()),
            "truth": sum(want.values()),
            "missing": sorted(map(str, want - loaded[stream]))[:5],
            "unexpected": sorted(map(str, loaded[stream] - want))[:5],
        }
        for stream, want in expected.items()
        if loaded.get(stream) != want
    }
    assert not differences, f"{loader} differs from the truth: {json.dumps(differences, indent=1)}"


def test_duckdb_passes_on_the_last_state_when_the_records_end_on_a_full_batch(
    meltano: Path, sim: Simulator, tmp_path: Path
) -> None:
    """Meltano keeps the tap's final STATE, not the one of the last full batch's flush.

    Fails on 86a853e: target-duckdb 0.8.0 passed on the STATE of its last flush, which came
    before the tap's last page was bookmarked, so the next run would re-read a chunk.
    """
    conversations = len(truth(sim, START, END))
    assert conversations % 2 == 0
    env = _env(
        sim,
        tmp_path,
        TAP_GENESYS_ANALYTICS__SELECT=json.dumps(["conversation_details.*"]),
        TARGET_DUCKDB_FILEPATH=str(tmp_path / "out.duckdb"),
        TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA="genesys",
        # Two full batches and nothing left over when the records end.
        TARGET_DUCKDB_BATCH_SIZE_ROWS=str(conversations // 2),
    )
    _run(meltano, "target-duckdb", env)
    assert len(_read_duckdb_ids(tmp_path / "out.duckdb")) == conversations

    saved = run_meltano(
        meltano, "state", "get", "dev:tap-genesys-analytics-to-target-duckdb", env=env, timeout=300
    )
    assert saved.returncode == 0, saved.stderr[-3000:]
    bookmark = json.loads(saved.stdout)["singer_state"]["bookmarks"]["conversation_details"]
    assert "run" not in bookmark, f"a mid-run position was kept: {bookmark}"
    assert bookmark["watermark"] == f"{END}T00:00:00.000Z"


def _read_duckdb_ids(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        query = "SELECT conversationId FROM genesys.conversation_details"
        return [row[0] for row in con.execute(query).fetchall()]
    finally:
        con.close()
