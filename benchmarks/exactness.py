"""Scale check: a run over N conversations emits every one of them exactly once.

Starts the simulator in-process (its clock after the data, so every conversation has ended),
runs the tap's CLI with the default pacing and compares the emitted ids with the truth.

    python benchmarks/exactness.py --conversations 100000 --days 90
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import TAP, sim_config, start_sim  # noqa: E402


def main() -> int:
    """Run once and print emitted, unique, truth, STATE count and 429s."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=args.days)
    sim = start_sim(conversations=args.conversations, days=args.days, job_latency_seconds=0.2)
    sim.now = end + dt.timedelta(days=5)
    config = sim_config(sim, end_date=end.strftime("%Y-%m-%dT%H:%M:%SZ"))
    del config["max_requests_per_minute"]  # the default pace
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "config.json"
            path.write_text(json.dumps(config))
            started = time.monotonic()
            proc = subprocess.Popen(
                [*TAP, "--config", str(path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=ROOT,
            )
            ids: list[str] = []
            states = 0
            assert proc.stdout is not None  # noqa: S101
            for line in proc.stdout:
                head = line[:40]
                if b"RECORD" in head:
                    ids.append(json.loads(line)["record"]["conversationId"])
                elif b"STATE" in head:
                    states += 1
            code = proc.wait()
        truth = set(sim.dataset.truth_ids(start, end))
        print(
            f"exit {code}; {time.monotonic() - started:.0f} s; emitted {len(ids):,}; "
            f"unique {len(set(ids)):,}; truth {len(truth):,}; equal {set(ids) == truth}; "
            f"STATE messages {states}; 429s {sim.stats.statuses[429]}"
        )
        return 0 if code == 0 and set(ids) == truth and len(ids) == len(truth) else 1
    finally:
        sim.stop()


if __name__ == "__main__":
    sys.exit(main())
