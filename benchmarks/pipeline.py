"""Pipeline benchmark: ``meltano run tap-genesys-analytics <loader>`` against the simulator.

What a user runs is the tap *and* a loader. In one invocation this starts the simulator (rate
limit off, gzip on, pages pre-rendered by an untimed warm-up run), runs the tap alone into
/dev/null, then each loader through ``meltano run`` with the loader settings of ``meltano.yml``.
It prints records/s end to end (rows found in the destination / wall time of ``meltano run``,
Meltano's own start-up included) and the peak RSS of each process (VmHWM, sampled from /proc),
and checks that the destination holds exactly the records the tap emitted.

    bash benchmarks/pipeline.sh                       # starts PostgreSQL if needed (as root)
    .venv/bin/python benchmarks/pipeline.py --conversations 20000 --loaders target-duckdb
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench

ROOT = bench.ROOT
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
LOADER_PYTHON = {
    "target-postgres": ROOT / ".meltano/loaders/target-postgres/venv/bin/python",
    "target-duckdb": ROOT / ".meltano/loaders/target-duckdb/venv/bin/python",
}
SCHEMA_PREFIX = "bench_genesys_"

COUNT_POSTGRES = """
import os, sys
import psycopg
from psycopg import sql
conn = psycopg.connect(host=os.environ.get("TARGET_POSTGRES_HOST", "127.0.0.1"),
    port=int(os.environ.get("TARGET_POSTGRES_PORT", "5432")),
    user=os.environ.get("TARGET_POSTGRES_USER", "postgres"),
    password=os.environ.get("TARGET_POSTGRES_PASSWORD", "postgres"),
    dbname=os.environ.get("TARGET_POSTGRES_DATABASE", "postgres"), autocommit=True)
schema = sys.argv[1]
with conn:
    if sys.argv[2] == "drop":
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    else:
        q = sql.SQL('SELECT count(*), count(DISTINCT "conversationId") FROM {}.{}')
        table = sql.Identifier("conversation_details")
        print(*conn.execute(q.format(sql.Identifier(schema), table)).fetchone())
"""

COUNT_DUCKDB = """
import sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
q = ("SELECT count(*), count(DISTINCT conversationId) "
     "FROM tap_genesys_analytics.conversation_details")
print(*con.execute(q).fetchone())
"""


class PeakRSS:
    """Samples the peak RSS (VmHWM) of a process and all its descendants, by role."""

    def __init__(self, root_pid: int) -> None:
        self.root = root_pid
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        """Stop sampling; peak MB per role (meltano, tap, the loader)."""
        self._stop.set()
        self._thread.join()
        return self.peaks

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid, role in self._tree():
                peak = _vm_hwm_mb(pid)
                if peak is not None:
                    self.peaks[role] = max(self.peaks.get(role, 0.0), peak)
            self._stop.wait(0.05)

    def _tree(self) -> list[tuple[int, str]]:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        found = []
        for pid in parents:
            node = pid
            while node in parents and node != self.root:
                node = parents[node]
            if node == self.root:
                found.append((pid, _role(pid)))
        return found


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _role(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "other"
    for name in ("target-postgres", "target-duckdb", "target-jsonl", "target-csv"):
        if f"bin/{name}" in cmd:
            return name
    if "bin/tap-genesys-analytics" in cmd:
        return "tap"
    if "meltano" in cmd:
        return "meltano"
    return "other"


def meltano_env(url: str, config: dict[str, Any], state: Path, extra: dict[str, str]) -> dict:
    """The extractor aimed at the simulator through Meltano's environment variables."""
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_STATE_BACKEND_URI": state.as_uri(),
        "TAP_GENESYS_ANALYTICS_API_URL": url,
        "TAP_GENESYS_ANALYTICS_LOGIN_URL": url,
        "TAP_GENESYS_ANALYTICS_CLIENT_ID": bench.CLIENT_ID,
        "TAP_GENESYS_ANALYTICS_CLIENT_SECRET": bench.CLIENT_SECRET,
        "TAP_GENESYS_ANALYTICS_START_DATE": config["start_date"],
        "TAP_GENESYS_ANALYTICS_END_DATE": config["end_date"],
        "TAP_GENESYS_ANALYTICS_MAX_REQUESTS_PER_MINUTE": str(config["max_requests_per_minute"]),
        "TAP_GENESYS_ANALYTICS_LOOKBACK_DAYS": "0",
        "TAP_GENESYS_ANALYTICS__SELECT": json.dumps(["conversation_details.*"]),
    }
    env.update(extra)
    return env


def run_pipeline(loader: str, env: dict[str, str], work: Path) -> dict[str, Any]:
    """One ``meltano run``; wall time and per-process peaks."""
    log = work / f"{loader}.log"
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(MELTANO), "run", "--full-refresh", "tap-genesys-analytics", loader],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        sampler = PeakRSS(proc.pid)
        code = proc.wait()
        wall = time.perf_counter() - started
        peaks = sampler.stop()
    if code != 0:
        sys.stderr.write(log.read_text(errors="replace")[-4000:])
        msg = f"meltano run ... {loader} exited {code}"
        raise RuntimeError(msg)
    return {"wall": wall, "peaks": peaks}


def count_rows(loader: str, target: str) -> tuple[int, int]:
    """(rows, distinct conversationIds) in the destination."""
    script = COUNT_POSTGRES if loader == "target-postgres" else COUNT_DUCKDB
    args = [target, "count"] if loader == "target-postgres" else [target]
    out = subprocess.run(
        [str(LOADER_PYTHON[loader]), "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.split()
    return int(out[0]), int(out[1])


def drop_schema(schema: str) -> None:
    """Remove the benchmark's PostgreSQL schema."""
    subprocess.run(
        [str(LOADER_PYTHON["target-postgres"]), "-c", COUNT_POSTGRES, schema, "drop"],
        check=True,
        timeout=300,
    )


def main() -> int:
    """Tap alone, then each loader through meltano run, on one simulator."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--loaders", default="target-postgres,target-duckdb")
    args = parser.parse_args()
    if not MELTANO.exists():
        sys.exit("Meltano is not installed: run bash scripts/setup.sh")
    loaders = [name for name in args.loaders.split(",") if name]
    days = max(7, args.conversations // 1000)
    cache = int(args.conversations * 4.8e3 * 1.4)
    sim, url = bench.start_simulator(
        args.conversations, days,
        {"job_latency_seconds": 0.0, "page_cache_bytes": cache, "rate_limit_per_minute": None},
    )  # fmt: skip
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"{args.conversations:,} conversations over {days} days, gzip, rate limit off")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            config = bench.tap_config(url, days)
            bench.run_tap(config, work)  # warm the simulator's page cache, untimed
            alone = bench.run_tap(config, work)
            records = alone["records"]
            print(
                f"{'tap alone > /dev/null':<24} {records / alone['wall']:>8,.0f} records/s  "
                f"{alone['wall']:>6.1f} s wall  tap {alone['rss_mb']:.0f} MB peak RSS  "
                f"({records:,.0f} records)"
            )
            for loader in loaders:
                extra: dict[str, str] = {}
                schema = f"{SCHEMA_PREFIX}{uuid.uuid4().hex[:8]}"
                target = schema
                if loader == "target-postgres":
                    extra["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = schema
                elif loader == "target-duckdb":
                    target = str(work / "bench.duckdb")
                    extra["TARGET_DUCKDB_FILEPATH"] = target
                state = work / f"state-{loader}"
                state.mkdir()
                try:
                    result = run_pipeline(loader, meltano_env(url, config, state, extra), work)
                    rows, unique = count_rows(loader, target)
                finally:
                    if loader == "target-postgres":
                        drop_schema(schema)
                peaks = result["peaks"]
                status = "exact" if rows == unique == records else "MISMATCH"
                print(
                    f"{'meltano run … ' + loader:<24} {rows / result['wall']:>8,.0f} records/s  "
                    f"{result['wall']:>6.1f} s wall  tap {peaks.get('tap', 0):.0f} MB, "
                    f"{loader} {peaks.get(loader, 0):.0f} MB, "
                    f"meltano {peaks.get('meltano', 0):.0f} MB peak RSS  "
                    f"({rows:,} rows, {unique:,} unique: {status})"
                )
                shutil.rmtree(state, ignore_errors=True)
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
