"""Run the partitioned backfill headless, without a Dagster daemon.

``python -m orchestration.backfill --parallel 2`` from the project root.

The window ``[GENESYS_BACKFILL_START, GENESYS_BACKFILL_END)`` is cut into runs of
``GENESYS_DAYS_PER_RUN`` whole UTC days, the same runs a Dagster backfill of the daily partitions
launches (``BackfillPolicy.multi_run``). ``--parallel`` of them materialise at once, each in its own
process through Dagster's in-process executor, so each gets the asset's ``RetryPolicy``. One JSON
line per run goes to stdout: its range, whether it succeeded and the metadata of every attempt.
``DAGSTER_HOME`` set: the runs are recorded in that instance (``dagster dev`` shows them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from dagster import DagsterEventType, DagsterInstance, materialize

from orchestration import definitions as d

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def plan(start: str, end: str, days_per_run: int) -> list[tuple[str, str]]:
    """Disjoint ranges of whole days covering ``[start, end)``, as (first day, last day) keys."""
    first = dt.date.fromisoformat(start)
    stop = dt.date.fromisoformat(end)
    ranges = []
    while first < stop:
        last = min(first + dt.timedelta(days=days_per_run), stop) - dt.timedelta(days=1)
        ranges.append((first.isoformat(), last.isoformat()))
        first = last + dt.timedelta(days=1)
    return ranges


def materialize_range(first: str, last: str) -> dict[str, Any]:
    """Materialise the daily partitions ``first``..``last`` (inclusive) as one run."""
    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
    kwargs: dict[str, Any] = {"instance": instance} if instance else {}
    result = materialize(
        [d.genesys_backfill],
        tags={RANGE_START: first, RANGE_END: last},
        raise_on_error=False,
        **kwargs,
    )
    attempts: list[dict[str, Any]] = []
    seen: set[int] = set()
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE:
            data = event.step_failure_data
            meta = data.user_failure_data.metadata if data and data.user_failure_data else {}
            attempts.append({"ok": False, **{k: v.value for k, v in meta.items()}})
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            meta = event.step_materialization_data.materialization.metadata
            attempt = int(str(meta["attempt"].value))
            if attempt not in seen:  # one event per daily partition of the run: keep one
                seen.add(attempt)
                attempts.append({"ok": True, **{k: v.value for k, v in meta.items()}})
        elif event.event_type == DagsterEventType.STEP_UP_FOR_RETRY:
            attempts.append({"ok": False, "retry": True})
    return {"first": first, "last": last, "success": result.success, "attempts": attempts}


def main(argv: list[str] | None = None) -> int:
    """Run the planned ranges ``--parallel`` at a time; exit 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", type=int, default=2, help="runs at once (default 2)")
    args = parser.parse_args(argv)
    ranges = plan(d.BACKFILL_START, d.BACKFILL_END, d.DAYS_PER_RUN)
    ok = True
    with ProcessPoolExecutor(max_workers=args.parallel) as pool:
        futures = [pool.submit(materialize_range, first, last) for first, last in ranges]
        for future in futures:
            report = future.result()
            ok = ok and report["success"]
            print(json.dumps(report, default=str), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
