"""Through Meltano: interrupted runs recovered by Meltano's own state, connection test, CSV.

Each test uses its own Meltano system database (``MELTANO_DATABASE_URI``), so the default
``systemdb`` state backend carries the position between runs exactly as in production.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pytest

from genesys_simulator import Simulator
from tests.support import ROOT, meltano_env, require, run_meltano, start_sim, truth, wait_until

MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
STATE_ID = "dev:tap-genesys-analytics-to-target-duckdb"


@pytest.fixture(scope="module")
def meltano() -> Path:
    require(MELTANO.exists(), ".venv-meltano is missing: run scripts/setup.sh to install it")
    return MELTANO


def _env(sim: Simulator, tmp: Path, **extra: str) -> dict[str, str]:
    duckdb_out = {
        "TARGET_DUCKDB_FILEPATH": str(tmp / "out.duckdb"),
        "TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA": "genesys",
    }
    return meltano_env(
        sim, tmp, "2024-01-01T00:00:00Z", "2024-01-31T00:00:00Z", **(duckdb_out | extra)
    )


def _table_ids(db: Path, table: str = "conversation_details") -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        query = f"SELECT conversationid FROM genesys.{table}"  # noqa: S608 - a fixed name
        return [r[0] for r in con.execute(query).fetchall()]
    finally:
        con.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_interrupted_meltano_run_resumes_from_meltanos_state(
    meltano: Path, tmp_path: Path, sig: int
) -> None:
    # Only the first four jobs finish: the run stalls at the fifth chunk until it is killed,
    # so the kill lands mid-range however fast or slow the machine is.
    sim = start_sim(conversations=3000, job_latency_seconds=0.2, complete_jobs_max=4)
    try:
        env = _env(
            sim,
            tmp_path,
            TAP_GENESYS_ANALYTICS_PAGE_SIZE="100",
            TAP_GENESYS_ANALYTICS_MAX_REQUESTS_PER_MINUTE="120",
            TAP_GENESYS_ANALYTICS_CHUNK_DAYS="3",
            # The target confirms a STATE only after loading a batch: small batches let
            # Meltano record progress while the run is still going. Not a divisor of the
            # 300-conversation chunks (target-duckdb 0.8.0 itself dropped the final STATE when
            # its last batch ended exactly with the records; tests/test_loaders.py checks that).
            TARGET_DUCKDB_BATCH_SIZE_ROWS="293",
        )
        proc = subprocess.Popen(
            [str(meltano), "run", "tap-genesys-analytics", "target-duckdb"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        # The tap waits on the held job; the loader confirms the batches before it. Nothing
        # moves after that, so polling for both cannot miss the moment (timeouts: hang guards).
        wait_until(lambda: sim.stats.faults["job_held"] >= 1, timeout=300)

        def confirmed() -> dict[str, Any] | None:
            saved = run_meltano(meltano, "state", "get", STATE_ID, env=env)
            if saved.returncode != 0:
                return None
            bookmark = json.loads(saved.stdout)["singer_state"]["bookmarks"]
            position = bookmark.get("conversation_details", {})
            return position if position.get("watermark", "") > "2024-01-01T00:00:00.000Z" else None

        wait_until(lambda: confirmed() is not None, timeout=300)
        os.killpg(proc.pid, sig)
        proc.wait(timeout=120)
        assert sim.stats.requests["job_submit"] < 10, "the run was stopped mid-way"
        position = confirmed()
        assert position is not None
        assert "run" in position, "Meltano kept the position of the interrupted run"
        watermark = position["watermark"]
        assert "2024-01-01T00:00:00.000Z" < watermark < "2024-01-31T00:00:00.000Z"

        # After SIGKILL Meltano still sees its own run as active; --force is its documented way
        # on (README, "Interrupted runs"). The position still comes from Meltano's state.
        sim.set_faults(complete_jobs_max=None)
        sim.reset_stats()
        force = ("--force",) if sig == signal.SIGKILL else ()
        again = run_meltano(
            meltano, "run", *force, "tap-genesys-analytics", "target-duckdb", env=env
        )
        assert again.returncode == 0, again.stderr[-4000:]

        # The second run resumed: its log says it started at the saved watermark, and it read
        # fewer records than the window holds (a restart from start_date would read them all,
        # and an upserting loader would make the table look the same).
        log = again.stdout + again.stderr
        assert f"resuming an interrupted run at {watermark}" in log, log[-4000:]
        everything = truth(sim)
        served = sim.stats.records_served
        assert 0 < served < len(everything), (served, len(everything))
        chunk = position.get("chunk") or {}
        if chunk.get("cursor"):
            assert (chunk["job_id"], "") not in sim.stats.result_pages, "no page 1 again"

        # Loaders upsert: duplicates are checked on the tap's own output elsewhere
        # (test_extract's kill-and-resume test counts what both runs emitted).
        assert set(_table_ids(tmp_path / "out.duckdb")) == everything

        final = json.loads(run_meltano(meltano, "state", "get", STATE_ID, env=env).stdout)
        bookmark = final["singer_state"]["bookmarks"]["conversation_details"]
        assert "run" not in bookmark
        assert bookmark["watermark"] <= "2024-01-31T00:00:00.000Z"
    finally:
        sim.stop()


def test_meltano_connection_test(meltano: Path, tmp_path: Path) -> None:
    sim = start_sim(conversations=200)
    try:
        ok = run_meltano(
            meltano, "config", "test", "tap-genesys-analytics", env=_env(sim, tmp_path)
        )
        assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
        bad_env = _env(sim, tmp_path, TAP_GENESYS_ANALYTICS_CLIENT_SECRET="wrong-secret")
        sim.reset_stats()
        bad = run_meltano(meltano, "config", "test", "tap-genesys-analytics", env=bad_env)
        assert bad.returncode != 0
        assert "check client_id and client_secret" in bad.stdout + bad.stderr
        assert sim.stats.requests["token"] >= 1, "the login was refused"
        api_calls = sum(sim.stats.requests.values()) - sim.stats.requests["token"]
        assert api_calls == 0, "fails on the login, before any API request (no job)"
    finally:
        sim.stop()


def test_csv_with_flattening_and_hashed_pii(meltano: Path, tmp_path: Path) -> None:
    sim = start_sim(conversations=300)
    # Phone numbers sit in ani/dnis and again in the address fields: hash all of them.
    pii = ["ani", "dnis", "addressFrom", "addressTo", "addressOther", "addressSelf", "remote"]
    maps = {
        "conversation_sessions": {
            f: f"md5(record['{f}']) if record.get('{f}') else None" for f in pii
        }
    }
    env = _env(
        sim,
        tmp_path,
        TAP_GENESYS_ANALYTICS_STREAM_MAPS=json.dumps(maps),
        TAP_GENESYS_ANALYTICS__SELECT=json.dumps(
            ["conversation_details.*", "conversation_sessions.*"]
        ),
        TAP_GENESYS_ANALYTICS_FLATTENING_ENABLED="true",
        TAP_GENESYS_ANALYTICS_FLATTENING_MAX_DEPTH="1",
        TARGET_CSV_OUTPUT_PATH=str(tmp_path / "csv"),
    )
    try:
        run = run_meltano(
            meltano, "run", "--full-refresh", "tap-genesys-analytics", "target-csv", env=env
        )
        assert run.returncode == 0, run.stderr[-4000:]
        with (tmp_path / "csv" / "conversation_details.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        assert {r["conversationId"] for r in rows} == truth(sim)
        assert "participants" in rows[0], "nested lists are flattened to JSON text at depth 1"
        with (tmp_path / "csv" / "conversation_sessions.csv").open() as handle:
            sessions = list(csv.DictReader(handle))
        assert "flow__flowId" in sessions[0], "the nested flow object is flattened to columns"
        assert "flow" not in sessions[0]
        ds = sim.dataset
        raw = {}
        for cid in {s["conversationId"] for s in sessions}:
            for p in ds.conversation(ds.index_of(cid), sim.now)["participants"]:
                for s in p.get("sessions", []):
                    raw[s["sessionId"]] = s
        hashed = [s for s in sessions if s.get("ani")]
        assert hashed
        for row in hashed:
            original = raw[row["sessionId"]]["ani"]
            assert row["ani"] == hashlib.md5(original.encode()).hexdigest()  # noqa: S324
            assert original not in json.dumps(row)
    finally:
        sim.stop()
