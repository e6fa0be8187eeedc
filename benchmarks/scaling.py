"""Scaling out: wall time of a backfill in N parallel partitions against one run doing the window.

One simulator, strict per-token limiter on (``rate_limit_per_minute`` for each bearer token, as
Genesys limits each client-credentials token to 300 a minute); the tap paced at a realistic
``max_requests_per_minute`` below it. Small pages make the window cost many requests for few
records, so the run is bound by the token's budget, not by the CPU: what N partitions buy is N
tokens. Both cases go through the project's Dagster backfill (``orchestration/backfill.py``):
``meltano run`` per partition, each with its own state, into DuckDB; the loaded ids are checked
against the simulator's truth.

    flock /tmp/cpu-heavy.lock .venv/bin/python benchmarks/scaling.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import CLIENT_ID, CLIENT_SECRET, start_sim, truth  # noqa: E402

DAGSTER_PYTHON = ROOT / ".venv-dagster" / "bin" / "python"
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"


def backfill(
    sim_url: str, work: Path, args: argparse.Namespace, runs: int
) -> tuple[float, list[str]]:
    """Run the Dagster backfill of the window in ``runs`` partitions, all at once; time it."""
    days_per_run = -(-args.days // runs)
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DATABASE_URI": f"sqlite:///{work / 'meltano.db'}",
        "MELTANO_STATE_BACKEND_URI": (work / "state").as_uri(),
        "MELTANO_BIN": str(MELTANO),
        "TAP_GENESYS_ANALYTICS__SELECT": json.dumps(["conversation_details.*"]),
        "TAP_GENESYS_ANALYTICS_CLIENT_ID": CLIENT_ID,
        "TAP_GENESYS_ANALYTICS_CLIENT_SECRET": CLIENT_SECRET,
        "TAP_GENESYS_ANALYTICS_API_URL": sim_url,
        "TAP_GENESYS_ANALYTICS_LOGIN_URL": sim_url,
        "TAP_GENESYS_ANALYTICS_PAGE_SIZE": str(args.page_size),
        "TAP_GENESYS_ANALYTICS_CHUNK_DAYS": "7",
        "TAP_GENESYS_ANALYTICS_MAX_REQUESTS_PER_MINUTE": str(args.tap_rpm),
        "TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA": "genesys",
        "GENESYS_BACKFILL_START": args.start,
        "GENESYS_BACKFILL_END": args.end,
        "GENESYS_DAYS_PER_RUN": str(days_per_run),
        "GENESYS_RUN_DIR": str(work / "runs"),
    }
    started = time.monotonic()
    proc = subprocess.run(
        [str(DAGSTER_PYTHON), "-m", "orchestration.backfill", "--parallel", str(runs)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"backfill in {runs} partition(s) failed")
    ids: list[str] = []
    for db in sorted((work / "runs").glob("genesys-*.duckdb")):
        con = duckdb.connect(str(db), read_only=True)
        try:
            ids += [
                r[0]
                for r in con.execute(
                    "SELECT conversationid FROM genesys.conversation_details"
                ).fetchall()
            ]
        finally:
            con.close()
    return wall, ids


def main() -> int:
    """Time 1 and N partitions over the same window and simulator; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=6000)
    parser.add_argument("--start", default="2024-01-01")
    parser.add_argument("--end", default="2024-03-01")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--page-size", type=int, default=10)
    parser.add_argument("--sim-rpm", type=int, default=300, help="simulator limit per token")
    parser.add_argument("--tap-rpm", type=int, default=240, help="tap max_requests_per_minute")
    args = parser.parse_args()
    args.days = (dt.date.fromisoformat(args.end) - dt.date.fromisoformat(args.start)).days

    sim = start_sim(
        conversations=args.conversations,
        days=args.days,
        start=args.start,
        seed=41,
        job_latency_seconds=0.5,
        rate_limit_per_minute=args.sim_rpm,
        rate_limit_per_token=True,
    )
    expected = truth(sim, args.start, args.end)
    print(
        f"window {args.start}..{args.end} ({args.days} days), {len(expected)} conversations, "
        f"page_size {args.page_size}; simulator {args.sim_rpm}/min per token, "
        f"tap max_requests_per_minute {args.tap_rpm}"
    )
    results: dict[int, float] = {}
    try:
        for runs in (1, args.partitions):
            sim.reset_stats()
            with tempfile.TemporaryDirectory(prefix="genesys-scaling-") as tmp:
                wall, ids = backfill(sim.url, Path(tmp), args, runs)
            stats = sim.stats
            exact = set(ids) == expected and len(ids) == len(set(ids))
            requests = sum(stats.requests.values())
            print(
                f"{runs} partition(s): {wall:.1f} s wall, {requests} requests "
                f"({stats.requests['token']} tokens), peak {stats.max_requests_per_60s} "
                f"requests/60 s over all tokens, {stats.rate_limited} x 429, "
                f"{len(ids)} rows, equal to the truth: {exact}"
            )
            results[runs] = wall
    finally:
        sim.stop()
    print(f"speed-up of {args.partitions} partitions: {results[1] / results[args.partitions]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
