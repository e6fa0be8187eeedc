"""Pipeline benchmark: the tap alone, each loader alone, and ``meltano run``, at two sizes.

What a user runs is the tap *and* a loader. For each size this starts the simulator (rate limit
off, gzip on, pages pre-rendered by an untimed warm-up run) and measures, one after the other:

* the tap alone, its Singer output written to one file;
* each loader alone, fed that file on stdin, with the config ``meltano.yml`` gives it
  (``meltano invoke --dump=config``), no Meltano around it;
* ``meltano run tap-genesys-analytics <loader>`` end to end.

Each line gives records/s over the whole run at both sizes and the *marginal* rate, the extra
records over the extra seconds between the two sizes (what a run costs once start-up is paid),
the peak RSS of each process, and checks that the destination holds exactly the tap's records,
each key once (rows == distinct keys == records).

    bash benchmarks/pipeline.sh                         # 20,000 and 100,000 conversations
    bash benchmarks/pipeline.sh --sizes 2000,6000       # a quick check
    bash benchmarks/pipeline.sh --loaders target-duckdb --runs 3   # medians of 3
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import statistics
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
LOADERS = ("target-duckdb", "target-postgres", "target-csv", "target-jsonl")
EXECUTABLE = {"target-duckdb": "target-duckdb-exact"}
SCHEMA_PREFIX = "bench_genesys_"


def venv_bin(loader: str, name: str) -> Path:
    """A file in the loader's Meltano venv."""
    return ROOT / ".meltano" / "loaders" / loader / "venv" / "bin" / name


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


def destination(loader: str, work: Path, tag: str) -> tuple[str, dict[str, str]]:
    """A fresh destination for one load: (what count_rows reads, the loader's env overrides)."""
    if loader == "target-postgres":
        schema = f"{SCHEMA_PREFIX}{uuid.uuid4().hex[:8]}"
        return schema, {"TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema}
    if loader == "target-duckdb":
        path = str(work / f"{tag}.duckdb")
        return path, {"TARGET_DUCKDB_FILEPATH": path}
    folder = work / tag
    folder.mkdir()
    if loader == "target-csv":
        return str(folder), {"TARGET_CSV_OUTPUT_PATH": str(folder)}
    return str(folder), {"TARGET_JSONL_DESTINATION_PATH": str(folder)}


def loader_config(loader: str, extra: dict[str, str], work: Path) -> Path:
    """The loader's config as Meltano resolves it from meltano.yml (plus ``extra``)."""
    out = subprocess.run(
        [str(MELTANO), "invoke", "--dump=config", loader],
        cwd=ROOT,
        env={**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", **extra},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    path = work / f"{loader}-config.json"
    path.write_text(out)
    return path


def run_alone(loader: str, config: Path, singer: Path) -> dict[str, float]:
    """The loader fed the tap's output file on stdin: wall s and its own peak RSS."""
    executable = venv_bin(loader, EXECUTABLE.get(loader, loader))
    started = time.perf_counter()
    with singer.open("rb") as stdin, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [str(executable), "--config", str(config)],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=ROOT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        if status != 0:
            err.seek(0)
            sys.stderr.write(err.read().decode(errors="replace")[-3000:])
            raise RuntimeError(f"{loader} exited with status {status}")
    return {"wall": wall, "rss": usage.ru_maxrss / 1024}


def run_pipeline(loader: str, env: dict[str, str], work: Path) -> dict[str, Any]:
    """One ``meltano run``; wall time and per-process peaks."""
    log = work / f"{loader}.log"
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(MELTANO), "run", "tap-genesys-analytics", loader],
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
    if loader in ("target-csv", "target-jsonl"):
        ids: list[str] = []
        if loader == "target-csv":
            with (Path(target) / "conversation_details.csv").open(newline="") as handle:
                ids = [row["conversationId"] for row in csv.DictReader(handle)]
        else:
            for path in Path(target).glob("conversation_details*.jsonl"):
                with path.open() as handle:
                    ids += [json.loads(line)["conversationId"] for line in handle if line.strip()]
        return len(ids), len(set(ids))
    script = COUNT_POSTGRES if loader == "target-postgres" else COUNT_DUCKDB
    args = [target, "count"] if loader == "target-postgres" else [target]
    out = subprocess.run(
        [str(venv_bin(loader, "python")), "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.split()
    return int(out[0]), int(out[1])


def drop(loader: str, target: str) -> None:
    """Remove the benchmark's PostgreSQL schema."""
    if loader == "target-postgres":
        subprocess.run(
            [str(venv_bin(loader, "python")), "-c", COUNT_POSTGRES, target, "drop"],
            check=True,
            timeout=300,
        )


def run_tap_to_file(config: dict[str, Any], work: Path, out: Path) -> dict[str, float]:
    """The tap alone, its Singer output to ``out``: wall s, peak RSS, RECORD count."""
    path = work / "tap-config.json"
    path.write_text(json.dumps(config))
    started = time.perf_counter()
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [bench.PY, "-m", "tap_genesys_analytics", "--config", str(path)],
            stdout=sink,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"the tap exited with status {status}")
    with out.open("rb") as handle:
        records = sum(1 for line in handle if line.startswith(b'{"type":"RECORD"'))
    return {"wall": wall, "rss": usage.ru_maxrss / 1024, "records": records}


def measure(size: int, loaders: list[str], runs: int) -> dict[str, dict[str, Any]]:
    """Every figure at one size: {row label: {wall, records, rss…, check}}."""
    days = max(7, size // 1000)
    cache = int(size * 4.8e3 * 1.4)
    sim, url = bench.start_simulator(
        size, days,
        {"job_latency_seconds": 0.0, "page_cache_bytes": cache, "rate_limit_per_minute": None},
    )  # fmt: skip
    rows: dict[str, dict[str, Any]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            config = bench.tap_config(url, days)
            singer = work / "tap.jsonl"
            run_tap_to_file(config, work, singer)  # warm the simulator's page cache, untimed
            taps = [run_tap_to_file(config, work, singer) for _ in range(runs)]
            records = int(taps[0]["records"])
            rows["tap alone > file"] = {
                "wall": statistics.median(t["wall"] for t in taps),
                "records": records,
                "rss": f"tap {max(t['rss'] for t in taps):.0f}",
                "check": f"{records:,} records",
            }
            for loader in loaders:
                walls, peak, checks = [], 0.0, []
                for n in range(runs):
                    target, extra = destination(loader, work, f"alone-{loader}-{n}")
                    try:
                        result = run_alone(loader, loader_config(loader, extra, work), singer)
                        checks.append(count_rows(loader, target))
                    finally:
                        drop(loader, target)
                    walls.append(result["wall"])
                    peak = max(peak, result["rss"])
                rows[f"{loader} alone < file"] = {
                    "wall": statistics.median(walls),
                    "records": records,
                    "rss": f"{loader} {peak:.0f}",
                    "check": verdict(checks, records),
                }
            for loader in loaders:
                walls, peaks, checks = [], {}, []
                for n in range(runs):
                    target, extra = destination(loader, work, f"run-{loader}-{n}")
                    state = work / f"state-{loader}-{n}"
                    state.mkdir()
                    try:
                        env = meltano_env(url, config, state, extra)
                        result = run_pipeline(loader, env, work)
                        checks.append(count_rows(loader, target))
                    finally:
                        drop(loader, target)
                    walls.append(result["wall"])
                    for role, mb in result["peaks"].items():
                        peaks[role] = max(peaks.get(role, 0.0), mb)
                rows[f"meltano run … {loader}"] = {
                    "wall": statistics.median(walls),
                    "records": records,
                    "rss": ", ".join(
                        f"{role} {peaks.get(role, 0):.0f}" for role in ("tap", loader, "meltano")
                    ),
                    "check": verdict(checks, records),
                }
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=30)
    return rows


def verdict(checks: list[tuple[int, int]], records: int) -> str:
    """``exact`` when every load holds each of the tap's records once."""
    rows, unique = checks[-1]
    exact = all(r == u == records for r, u in checks)
    return f"{rows:,} rows, {unique:,} unique: {'exact' if exact else 'MISMATCH'}"


def main() -> int:
    """Both sizes, then one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,100000", help="two conversation counts")
    parser.add_argument("--loaders", default=",".join(LOADERS))
    parser.add_argument("--runs", type=int, default=1, help="runs per figure (median)")
    args = parser.parse_args()
    if not MELTANO.exists():
        sys.exit("Meltano is not installed: run bash scripts/setup.sh")
    sizes = sorted(int(size) for size in args.sizes.split(","))
    if len(sizes) != 2 or sizes[0] == sizes[1]:
        sys.exit("--sizes takes two different conversation counts")
    loaders = [name for name in args.loaders.split(",") if name]
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; gzip, rate limit off")
    results = {size: measure(size, loaders, args.runs) for size in sizes}
    small, large = (results[size] for size in sizes)
    print(
        f"{'':<30} {'records/s at':>14} {'':>10} {'marginal':>10}  peak RSS MB (larger size)"
        f"  rows check (larger size)"
    )
    print(f"{'':<30} {sizes[0]:>14,} {sizes[1]:>10,} {'records/s':>10}")
    failed = False
    for label, big in large.items():
        little = small[label]
        extra_records = big["records"] - little["records"]
        extra_seconds = big["wall"] - little["wall"]
        marginal = (
            f"{extra_records / extra_seconds:>10,.0f}" if extra_seconds > 0 else f"{'n/a':>10}"
        )
        print(
            f"{label:<30} {little['records'] / little['wall']:>14,.0f} "
            f"{big['records'] / big['wall']:>10,.0f} {marginal}  {big['rss']:<34} "
            f"{big['check']}  ({little['wall']:.1f} s, {big['wall']:.1f} s)"
        )
        failed = failed or "MISMATCH" in little["check"] + big["check"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
