"""Throughput and memory benchmark: the tap against pre-rendered simulator pages.

The simulator runs in its own process with its rate limit off and a page cache warmed by one
untimed run, so what is measured is the client. Each figure is the median of ``--runs`` runs.
In the same invocation the *floor* runs (``floor.py``, written without the tap's code): the same
jobs and pages downloaded with plain ``requests`` and parsed by ``ijson.items`` over the raw
stream, no Singer work at all; tap / floor is what everything the tap adds costs. Tap and floor
runs alternate, so a change in the machine's speed hits both alike.

    python benchmarks/bench.py                      # 100,000 conversations, gzip and plain
    python benchmarks/bench.py --memory             # peak RSS at 100,000 and 1,000,000
    python benchmarks/bench.py --pipelining         # 30 s job latency, 12 chunks, 300/min limit
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CLIENT_ID, CLIENT_SECRET = "sim-client", "sim-secret"
START = "2024-01-01"
EMITTED = re.compile(r"conversation_details: (\d+) records emitted")


def start_simulator(conversations: int, days: int, faults: dict[str, Any]) -> tuple[Any, str]:
    """Start ``python -m genesys_simulator`` on a free port; return (process, url)."""
    cmd = [
        PY, "-m", "genesys_simulator", "--port", "0", "--conversations", str(conversations),
        "--start", START, "--days", str(days), "--seed", "5", "--faults", json.dumps(faults),
        "--client-secret", CLIENT_SECRET,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    banner = proc.stdout.readline() if proc.stdout else ""
    url = banner.split(" on ", 1)[1].split()[0]
    return proc, url


def set_faults(url: str, **faults: Any) -> None:
    """Switch simulator settings between phases (gzip on/off)."""
    requests.post(f"{url}/_sim/faults", json=faults, timeout=10).raise_for_status()


def tap_config(url: str, days: int, **extra: Any) -> dict[str, Any]:
    """A config for the whole dataset with pacing effectively off."""
    end = time.strftime("%Y-%m-%d", time.gmtime(time.mktime(time.strptime(START, "%Y-%m-%d"))
                                                + days * 86400 + 43200))  # fmt: skip
    config = {
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "api_url": url, "login_url": url,
        "start_date": START, "end_date": end, "max_requests_per_minute": 1_000_000,
        "job_poll_max_seconds": 0.05, "lookback_days": 0,
    }  # fmt: skip
    config.update(extra)
    return config


def run_measured(
    cmd: list[str], env: dict[str, str] | None = None, *, keep_stdout: bool = False
) -> dict[str, float]:
    """Run ``cmd`` (stdout to /dev/null unless kept); wall s, CPU s, peak RSS MB, output."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sink: Any = out if keep_stdout else subprocess.DEVNULL
        proc = subprocess.Popen(cmd, stdout=sink, stderr=err, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        if status != 0:
            err.seek(0)
            sys.stderr.write(err.read().decode(errors="replace")[-3000:])
            msg = f"command failed ({status}): {' '.join(cmd)}"
            raise RuntimeError(msg)
        out.seek(0)
        printed = json.loads(out.read() or b"{}")
        err.seek(0)
        emitted = EMITTED.search(err.read().decode(errors="replace"))
        if emitted:
            printed.setdefault("records", int(emitted.group(1)))
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "records": float(printed.get("records", 0)),
        "bytes": float(printed.get("bytes", 0)),
    }


def run_tap(config: dict[str, Any], workdir: Path) -> dict[str, float]:
    """One tap run, all output discarded."""
    path = workdir / "config.json"
    path.write_text(json.dumps(config))
    return run_measured([PY, "-m", "tap_genesys_analytics", "--config", str(path)])


def run_floor(config: dict[str, Any], workdir: Path) -> dict[str, float]:
    """One floor run: jobs, cursor pages and ijson parsing, no Singer."""
    path = workdir / "floor.json"
    path.write_text(json.dumps(config))
    floor = str(Path(__file__).with_name("floor.py"))
    return run_measured([PY, floor, str(path)], keep_stdout=True)


def medians(results: list[dict[str, float]]) -> dict[str, float]:
    """Median of each figure over several runs."""
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def report(label: str, figures: dict[str, float], records: float, mbytes: float) -> None:
    """One line of figures."""
    print(
        f"{label:<28} {records / figures['wall']:>9,.0f} records/s  "
        f"{mbytes / figures['wall']:>7.1f} MB/s  {figures['cpu']:>6.1f} CPU s  "
        f"{figures['rss_mb']:>6.0f} MB peak RSS  ({figures['wall']:.1f} s wall)"
    )


def throughput(args: argparse.Namespace) -> None:
    """Tap vs floor, gzip and plain."""
    days = max(7, args.conversations // 1000)
    cache = int(args.conversations * 4.8e3 * 1.4)
    sim, url = start_simulator(
        args.conversations, days,
        {"job_latency_seconds": 0.0, "page_cache_bytes": cache, "rate_limit_per_minute": None},
    )  # fmt: skip
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            config = tap_config(url, days)
            print(f"{args.conversations:,} conversations over {days} days, median of {args.runs}, "
                  "max_requests_per_minute lifted")  # fmt: skip
            for gzip_on in (False, True):
                set_faults(url, gzip=gzip_on, page_cache_bytes=cache, job_latency_seconds=0.0)
                run_tap(config, work)  # warm the simulator's page cache, untimed
                taps, floors = [], []
                for _ in range(args.runs):
                    taps.append(run_tap(config, work))
                    floors.append(run_floor(config, work))
                tap, floor = medians(taps), medians(floors)
                mbytes = floor["bytes"] / 1e6
                if floor["records"] != tap["records"]:
                    print(f"warning: the tap emitted {tap['records']:.0f} records, "
                          f"the floor parsed {floor['records']:.0f}")  # fmt: skip
                name = "gzip" if gzip_on else "identity"
                report(f"tap ({name})", tap, tap["records"], mbytes)
                report(f"floor ({name})", floor, floor["records"], mbytes)
                ratio = (tap["records"] / tap["wall"]) / (floor["records"] / floor["wall"])
                print(f"{'tap / floor':<28} {ratio:>9.2f}")
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=30)


def memory(args: argparse.Namespace) -> None:
    """Peak RSS at N and 10 N conversations: flat memory means a ratio near 1."""
    peaks = {}
    for n in (args.conversations, args.conversations * 10):
        days = max(7, n // 5000)
        sim, url = start_simulator(n, days, {"job_latency_seconds": 0.0})
        try:
            with tempfile.TemporaryDirectory() as tmp:
                figures = run_tap(tap_config(url, days), Path(tmp))
        finally:
            sim.send_signal(signal.SIGTERM)
            sim.wait(timeout=30)
        peaks[n] = figures["rss_mb"]
        report(f"tap, {n:,} conversations", figures, n, n * 4.7e-3)
    small, big = peaks.values()
    print(f"peak RSS ratio {args.conversations * 10:,} / {args.conversations:,}: {big / small:.2f}")


def pipelining(args: argparse.Namespace) -> None:
    """12 chunks, 30 s job latency, a strict 300/min server, the tap at its default pace."""
    latency = args.job_latency
    days = 12 * 7
    sim, url = start_simulator(
        args.conversations, days,
        {"job_latency_seconds": latency, "rate_limit_per_minute": 300, "page_cache_bytes": 0},
    )  # fmt: skip
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = tap_config(url, days, page_size=args.page_size, job_poll_max_seconds=2.0)
            del config["max_requests_per_minute"]  # the default pace
            figures = run_tap(config, Path(tmp))
            stats = requests.get(f"{url}/_sim/stats", timeout=10).json()
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=30)
    from tap_genesys_analytics.config.settings import DEFAULTS  # noqa: PLC0415

    rate = DEFAULTS["max_requests_per_minute"] / 60.0
    requests_made = sum(v for k, v in stats["requests"].items() if k != "token")
    bound = requests_made / rate + latency
    print(
        f"{requests_made} requests at {rate * 60:.0f}/min + one {latency:.0f} s job latency "
        f"= {bound:.1f} s; wall {figures['wall']:.1f} s; ratio {figures['wall'] / bound:.2f}; "
        f"429s: {stats['rate_limited']}"
    )


def main() -> int:
    """Parse flags and run the chosen benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="peak RSS at N and 10 N")
    parser.add_argument("--pipelining", action="store_true", help="job latency overlap")
    parser.add_argument("--job-latency", type=float, default=30.0)
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"{resource.getpagesize()}-byte pages")  # fmt: skip
    if args.memory:
        memory(args)
    elif args.pipelining:
        pipelining(args)
    else:
        throughput(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
