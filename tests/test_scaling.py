"""Scaling out (README): many organisations, and a partitioned backfill run by Dagster.

Everything goes through the real path: ``meltano run`` of the project's extractors against
simulators over loopback HTTP into DuckDB, and Dagster (its own venv, ``.venv-dagster``)
materialising the backfill partitions in-process. Meltano keeps state in a file backend per test,
so each state ID is a directory the test can read while the runs go on.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from genesys_simulator import Simulator
from tests.support import (
    CLIENT_ID,
    CLIENT_SECRET,
    ROOT,
    require,
    start_sim,
    truth,
    wait_until,
)

MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
DAGSTER_PYTHON = ROOT / ".venv-dagster" / "bin" / "python"
DAGSTER = ROOT / ".venv-dagster" / "bin" / "dagster"
SCHEMA = "genesys"
ONLY_DETAILS = json.dumps(["conversation_details.*"])


@pytest.fixture(scope="module")
def meltano() -> Path:
    require(MELTANO.exists(), ".venv-meltano is missing: run scripts/setup.sh to install it")
    return MELTANO


@pytest.fixture(scope="module")
def dagster() -> Path:
    require(DAGSTER.exists(), ".venv-dagster is missing: run scripts/setup.sh to install it")
    return DAGSTER


def _base_env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
        "MELTANO_STATE_BACKEND_URI": (tmp / "state").as_uri(),
        "TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA": SCHEMA,
        # Set once on the base extractor: the organisations' extractors must inherit it.
        "TAP_GENESYS_ANALYTICS__SELECT": ONLY_DETAILS,
    }


def _tap_env(prefix: str, sim: Simulator, **settings: str) -> dict[str, str]:
    env = {
        f"{prefix}_CLIENT_ID": CLIENT_ID,
        f"{prefix}_CLIENT_SECRET": CLIENT_SECRET,
        f"{prefix}_API_URL": sim.url,
        f"{prefix}_LOGIN_URL": sim.url,
    }
    env.update({f"{prefix}_{k.upper()}": v for k, v in settings.items()})
    return env


def _rows(db: Path, columns: str, table: str = "conversation_details") -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"SELECT {columns} FROM {SCHEMA}.{table}").fetchall()  # noqa: S608
    finally:
        con.close()


def _tables(db: Path) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        query = "SELECT table_name FROM information_schema.tables WHERE table_schema = ?"
        return {r[0] for r in con.execute(query, [SCHEMA]).fetchall()}
    finally:
        con.close()


def _state(
    tmp: Path, state_id: str, parts: tuple[str, ...] = ("completed",)
) -> dict[str, Any] | None:
    """The ``conversation_details`` bookmark Meltano saved for ``state_id``, or None."""
    path = tmp / "state" / state_id / "state.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    for part in parts:
        bookmark = (saved.get(part) or {}).get("singer_state", {}).get("bookmarks", {})
        if "conversation_details" in bookmark:
            return dict(bookmark["conversation_details"])
    return None


def test_simulator_limits_each_token_on_its_own() -> None:
    """The benchmark's premise: with ``rate_limit_per_token`` each token has its own minute."""
    sim = start_sim(conversations=10, rate_limit_per_minute=3, rate_limit_per_token=True)
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    try:

        def token() -> str:
            req = urllib.request.Request(  # noqa: S310 - the loopback simulator
                f"{sim.url}/oauth/token",
                data=b"grant_type=client_credentials",
                headers={"Authorization": f"Basic {basic}"},
            )
            with urllib.request.urlopen(req) as resp:  # noqa: S310
                return str(json.load(resp)["access_token"])

        def status(bearer: str) -> int:
            req = urllib.request.Request(  # noqa: S310
                f"{sim.url}/api/v2/routing/queues", headers={"Authorization": f"Bearer {bearer}"}
            )
            try:
                with urllib.request.urlopen(req) as resp:  # noqa: S310
                    return int(resp.status)
            except urllib.error.HTTPError as err:
                return err.code

        first, second = token(), token()
        assert [status(first) for _ in range(4)] == [200, 200, 200, 429]
        assert sim.stats.rate_limited == 1
        assert [status(second) for _ in range(3)] == [200, 200, 200], (
            "a fresh token, a fresh minute"
        )
    finally:
        sim.stop()


def test_two_organizations_into_duckdb_each_equal_to_its_truth(
    meltano: Path, tmp_path: Path
) -> None:
    org_a = start_sim(conversations=300, seed=21)
    org_b = start_sim(conversations=200, seed=22)
    try:
        env = {
            **_base_env(tmp_path),
            **_tap_env("TAP_GENESYS_ORG_A", org_a),
            **_tap_env("TAP_GENESYS_ORG_B", org_b),
            "TARGET_DUCKDB_FILEPATH": str(tmp_path / "orgs.duckdb"),
        }
        proc = subprocess.run(
            [str(meltano), "run", "all-organizations"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
        assert org_a.stats.records_served > 0
        assert org_b.stats.records_served > 0

        rows = _rows(tmp_path / "orgs.duckdb", "organization, conversationid")
        by_org: dict[str, list[str]] = {}
        for organization, cid in rows:
            by_org.setdefault(organization, []).append(cid)
        assert set(by_org) == {"org-a", "org-b"}
        assert set(by_org["org-a"]) == truth(org_a)
        assert set(by_org["org-b"]) == truth(org_b)
        assert len(rows) == len(set(rows)), "no row twice"
        assert _tables(tmp_path / "orgs.duckdb") == {"conversation_details"}, "select inherited"

        con = duckdb.connect(str(tmp_path / "orgs.duckdb"), read_only=True)
        try:
            (key,) = con.execute(
                "SELECT constraint_column_names FROM duckdb_constraints() "
                "WHERE table_name = 'conversation_details' AND constraint_type = 'PRIMARY KEY'"
            ).fetchone() or (None,)
        finally:
            con.close()
        assert key == ["organization", "conversationid"], "equal ids of two orgs stay two rows"

        for org, sim in (("a", org_a), ("b", org_b)):
            bookmark = _state(tmp_path, f"dev:tap-genesys-org-{org}-to-target-duckdb")
            assert bookmark is not None, f"org-{org} keeps its own state"
            assert bookmark["watermark"] <= "2024-01-31T00:00:00.000Z"
            assert "run" not in bookmark
            assert sim.stats.requests["token"] >= 1
    finally:
        org_a.stop()
        org_b.stop()


# 64 days of data: a 60-day backfill [2024-01-01, 2024-03-01) in 4 runs of 15 days, then nightly.
BACKFILL = ("2024-01-01", "2024-03-01")
RUNS = [
    ("2024-01-01", "2024-01-16"),
    ("2024-01-16", "2024-01-31"),
    ("2024-01-31", "2024-02-15"),
    ("2024-02-15", "2024-03-01"),
]
NIGHTLY_END = "2024-03-05"


def _assert_own_bookmark(bookmark: dict[str, Any], start: str, end: str) -> None:
    """The bookmark belongs to the run over ``[start, end)`` and reached its last chunk.

    Finished means no ``run`` and the watermark at ``end``. target-duckdb (jwills) passes on
    the tap's final STATE only when rows are still buffered, so a run whose last batch came out
    exactly full keeps the STATE of its last page: ``run`` still names its own range, and the
    next run of that state ID re-reads only the last chunk.
    """
    if "run" in bookmark:
        assert bookmark["run"]["start"] >= f"{start}T00:00:00.000Z"
        assert bookmark["run"]["end"] == f"{end}T00:00:00.000Z"
        assert f"{start}T" <= bookmark["watermark"] < f"{end}T"
    else:
        assert bookmark["watermark"] == f"{end}T00:00:00.000Z"


def _suffix(start: str, end: str) -> str:
    return f"backfill-{start.replace('-', '')}-{end.replace('-', '')}"


@pytest.fixture
def backfill_sim() -> Iterator[Simulator]:
    sim = start_sim(conversations=1280, days=64, seed=31, job_latency_seconds=0.3)
    try:
        yield sim
    finally:
        sim.stop()


def test_dagster_backfill_in_partitions_killed_retried_then_nightly(
    meltano: Path, dagster: Path, backfill_sim: Simulator, tmp_path: Path
) -> None:
    """A partition killed mid-way is retried by Dagster from its saved bookmark.

    The kill point is fixed by ``hold_jobs_interval``, not by polling a moving run: the first
    partition stalls on its held job (counter ``job_held``) with its STATE saved, and only then
    is it killed, so the outcome does not depend on the machine's speed.
    """
    sim = backfill_sim
    run_dir = tmp_path / "dagster"
    env = {
        **_base_env(tmp_path),
        **_tap_env(
            "TAP_GENESYS_ANALYTICS",
            sim,
            page_size="20",
            chunk_days="3",
            max_requests_per_minute="300",
        ),
        # The loader confirms STATE after each batch: small batches, progress saved often.
        "TARGET_DUCKDB_BATCH_SIZE_ROWS": "40",
        "GENESYS_BACKFILL_START": BACKFILL[0],
        "GENESYS_BACKFILL_END": BACKFILL[1],
        "GENESYS_DAYS_PER_RUN": "15",
        "GENESYS_RUN_DIR": str(run_dir),
        "MELTANO_BIN": str(meltano),
    }
    # The first run's jobs from its third chunk on stay PENDING until the test lifts the hold:
    # that run stalls at a known day whatever the second run, in parallel, is doing.
    victim = _suffix(*RUNS[0])
    held_from = "2024-01-07T00:00:00.000Z"
    sim.set_faults(hold_jobs_interval=f"{held_from}/{RUNS[0][1]}T00:00:00.000Z")
    driver = subprocess.Popen(
        [str(DAGSTER_PYTHON), "-m", "orchestration.backfill", "--parallel", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "dagster.log").open("wb"),
        text=True,
    )
    state_id = f"dev:tap-genesys-analytics-to-target-duckdb:{victim}"

    def stalled_with_progress_saved() -> bool:
        """The first run waits on its held job and the loader confirmed its second chunk."""
        assert driver.poll() is None, "the backfill ended while its first run was held"
        bookmark = _state(tmp_path, state_id, ("partial", "completed"))
        return (
            sim.stats.faults["job_held"] >= 1
            and bookmark is not None
            and "run" in bookmark
            and bookmark["watermark"] >= "2024-01-04T00:00:00.000Z"
        )

    try:
        wait_until(stalled_with_progress_saved, timeout=300)  # a hang guard
    except BaseException:
        driver.kill()
        driver.communicate(timeout=60)
        raise
    bookmark = _state(tmp_path, state_id, ("partial", "completed"))
    assert bookmark is not None
    killed_at = bookmark["watermark"]
    assert killed_at <= held_from, "the run is stalled before its held chunk"
    # Kill the first run's Meltano (its whole process group: meltano, tap, target) where it
    # waits, then lift the hold so Dagster's retry can finish the range.
    os.killpg(int((run_dir / f"{victim}.pid").read_text()), signal.SIGKILL)
    sim.set_faults(hold_jobs_interval=None)
    out, _ = driver.communicate(timeout=600)
    log = (tmp_path / "dagster.log").read_text(errors="replace")[-5000:]
    assert driver.returncode == 0, log
    reports = {r["first"]: r for r in map(json.loads, out.splitlines())}
    assert sorted(reports) == ["2024-01-01", "2024-01-16", "2024-01-31", "2024-02-15"]

    # The kill happened, Dagster retried, and the retry resumed from the saved bookmark.
    first = reports["2024-01-01"]["attempts"]
    assert first[0]["ok"] is False, "the first attempt failed"
    (done,) = [a for a in first if a["ok"]]
    assert done["attempt"] >= 1, "Dagster's RetryPolicy ran it again"
    assert killed_at <= done["resumed_at"] <= held_from, "the retry resumed from the saved state"
    assert 0 < done["records"] < len(truth(sim, *RUNS[0])), "the retry read only the rest"

    # The union of the four runs' tables is the window's truth, no row twice, each run's rows
    # inside its own range, each run's state its own and finished at its end.
    union: list[str] = []
    for start, end in RUNS:
        rows = _rows(
            run_dir / f"genesys-{_suffix(start, end)}.duckdb", "conversationid, conversationstart"
        )
        assert {cid for cid, _ in rows} == truth(sim, start, end), (start, end)
        assert all(start <= started.date().isoformat() < end for _, started in rows)
        union += [cid for cid, _ in rows]
        bookmark = _state(
            tmp_path, f"dev:tap-genesys-analytics-to-target-duckdb:{_suffix(start, end)}"
        )
        assert bookmark is not None
        _assert_own_bookmark(bookmark, start, end)
    assert set(union) == truth(sim, *BACKFILL)
    assert len(union) == len(set(union)), "no record twice"

    # The nightly job takes over at the backfill's end, with the pipeline's own state.
    nightly_db = tmp_path / "nightly.duckdb"
    nightly = subprocess.run(
        [
            str(dagster),
            "job",
            "execute",
            "-f",
            "orchestration/definitions.py",
            "-j",
            "genesys_nightly",
        ],
        cwd=ROOT,
        env={
            **env,
            "TAP_GENESYS_ANALYTICS_END_DATE": f"{NIGHTLY_END}T00:00:00Z",
            "TARGET_DUCKDB_FILEPATH": str(nightly_db),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert nightly.returncode == 0, (nightly.stdout + nightly.stderr)[-5000:]
    rows = _rows(nightly_db, "conversationid, conversationstart")
    assert rows, "the nightly run loaded the days after the backfill"
    assert {cid for cid, _ in rows} == truth(sim, BACKFILL[1], NIGHTLY_END)
    assert min(started for _, started in rows).date().isoformat() >= BACKFILL[1]
    bookmark = _state(tmp_path, "dev:tap-genesys-analytics-to-target-duckdb")
    assert bookmark is not None
    _assert_own_bookmark(bookmark, BACKFILL[1], NIGHTLY_END)
