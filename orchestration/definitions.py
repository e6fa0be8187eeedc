"""Dagster definitions: the partitioned backfill and the nightly run, each a ``meltano run``.

Dagster schedules, partitions and retries; Meltano runs the pipeline and keeps the state. Every
backfill run covers whole UTC days ``[start, end)`` of the daily partitions it was given, passes
them to the extractor as ``start_date``/``end_date`` and keeps its own Meltano state under
``--state-id-suffix=backfill-<start>-<end>``, so two runs never share a bookmark and a retried
run resumes its own. The nightly job starts at the backfill's end, so it takes over exactly
where the backfill stops (README, "Scaling out").

Settings come from the environment (all optional):

- ``GENESYS_BACKFILL_START`` / ``GENESYS_BACKFILL_END``: the backfill window, whole UTC days
  (default 2024-01-01 / 2024-03-01, the simulator's demo months).
- ``GENESYS_DAYS_PER_RUN``: daily partitions per backfill run (default 15); a Dagster backfill of
  the whole window launches ceil(days / this) runs, and the run queue's concurrency sets how many
  run at once.
- ``GENESYS_EXTRACTOR`` / ``GENESYS_LOADER``: the Meltano plugins (default
  ``tap-genesys-analytics`` / ``target-duckdb``).
- ``GENESYS_NIGHTLY_CRON``: the nightly schedule (default ``0 3 * * *``, UTC).
- ``GENESYS_RUN_DIR``: where each run's Meltano log and process id are written (default
  ``output/dagster``); DuckDB files of the backfill runs go there too.
- ``MELTANO_BIN``: the Meltano executable (default ``.venv-meltano/bin/meltano``).
"""

import datetime as dt
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    DagsterLogManager,
    DailyPartitionsDefinition,
    Definitions,
    Failure,
    MaterializeResult,
    OpExecutionContext,
    RetryPolicy,
    ScheduleDefinition,
    asset,
    job,
    op,
)

ROOT = Path(__file__).resolve().parent.parent
UTC = dt.timezone.utc


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


BACKFILL_START = _env("GENESYS_BACKFILL_START", "2024-01-01")
BACKFILL_END = _env("GENESYS_BACKFILL_END", "2024-03-01")
DAYS_PER_RUN = int(_env("GENESYS_DAYS_PER_RUN", "15"))
EXTRACTOR = _env("GENESYS_EXTRACTOR", "tap-genesys-analytics")
LOADER = _env("GENESYS_LOADER", "target-duckdb")
NIGHTLY_CRON = _env("GENESYS_NIGHTLY_CRON", "0 3 * * *")
RUN_DIR = Path(_env("GENESYS_RUN_DIR", str(ROOT / "output" / "dagster")))
MELTANO = _env("MELTANO_BIN", str(ROOT / ".venv-meltano" / "bin" / "meltano"))

#: A kill, a crash, a 5xx storm that outlasted the tap's own retries: Dagster tries the same
#: range again; the run resumes from the Meltano state the loader last confirmed.
RETRY = RetryPolicy(max_retries=3, delay=10)

RESUMED = re.compile(r"resuming an interrupted run at (\S+)")
METRIC = "METRIC: "


def _env_prefix(plugin: str) -> str:
    """Meltano's environment prefix of a plugin: ``tap-genesys-org-a`` → ``TAP_GENESYS_ORG_A``."""
    return re.sub(r"[^A-Za-z0-9]", "_", plugin).upper()


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class MeltanoRun:
    """What one ``meltano run`` did, read from its own log."""

    returncode: int
    records: int
    resumed_at: str | None
    log_path: Path


def _count_records(log: str, stream: str = "conversation_details") -> int:
    """Sum the tap's ``record_count`` metrics of ``stream`` (each counts since the last one)."""
    total = 0
    decoder = json.JSONDecoder()
    for line in log.splitlines():
        at = line.find(METRIC)
        if at < 0:
            continue
        try:
            metric, _ = decoder.raw_decode(line, at + len(METRIC))
        except ValueError:
            continue
        if metric.get("metric") == "record_count" and metric["tags"].get("stream") == stream:
            total += int(metric["value"])
    return total


def private_sys_dir(name: str) -> dict[str, str]:
    """A ``.meltano`` of this run's own that shares the installed plugins and the system database.

    Meltano writes a plugin's catalog, config and incoming state to ``.meltano/run/<plugin>/``
    under fixed names (tap.properties.json, state.json): two runs of one extractor side by side
    would read each other's files. Each run gets its own ``run/`` next to symlinks to the shared
    plugin venvs; the system database (jobs, and state with the default backend) stays shared.
    """
    shared = Path(os.environ.get("MELTANO_SYS_DIR_ROOT") or ROOT / ".meltano").resolve()
    private = RUN_DIR / "meltano" / name
    private.mkdir(parents=True, exist_ok=True)
    for kind in ("extractors", "loaders", "mappers", "utilities"):
        link = private / kind
        if (shared / kind).exists() and not link.is_symlink():
            link.symlink_to(shared / kind, target_is_directory=True)
    env = {"MELTANO_SYS_DIR_ROOT": str(private)}
    env["MELTANO_DATABASE_URI"] = os.environ.get(
        "MELTANO_DATABASE_URI", f"sqlite:///{shared / 'meltano.db'}"
    )
    return env


def run_meltano(
    name: str, args: list[str], env: dict[str, str], attempt: int, log: DagsterLogManager
) -> MeltanoRun:
    """Run Meltano in its own process group, log and pid under ``RUN_DIR``; wait for it.

    A retry adds ``--force``: a run killed hard leaves its job marked running in Meltano's
    system database, which would refuse the same state ID for a while.
    """
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    log_path = RUN_DIR / f"{name}.attempt{attempt}.log"
    force = ["--force"] if attempt > 0 else []
    cmd = [MELTANO, "run", *force, *args]
    with log_path.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - a fixed executable and our own arguments
            cmd,
            cwd=ROOT,
            env={
                **os.environ,
                "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
                **private_sys_dir(name),
                **env,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        pid_path = RUN_DIR / f"{name}.pid"
        pid_path.write_text(str(proc.pid))
        log.info(f"{' '.join(cmd)} (pid {proc.pid}, log {log_path})")
        returncode = proc.wait()
        pid_path.unlink(missing_ok=True)
    text = log_path.read_text(errors="replace")
    resumed = RESUMED.search(text)
    return MeltanoRun(returncode, _count_records(text), resumed[1] if resumed else None, log_path)


def _check(run: MeltanoRun) -> None:
    if run.returncode != 0:
        tail = run.log_path.read_text(errors="replace")[-3000:]
        raise Failure(
            f"meltano run exited {run.returncode}; log {run.log_path}",
            metadata={"log_tail": tail, "records": run.records},
        )


daily = DailyPartitionsDefinition(
    start_date=BACKFILL_START, end_date=BACKFILL_END, timezone="UTC", fmt="%Y-%m-%d"
)


def backfill_env(start: dt.datetime, end: dt.datetime) -> tuple[str, dict[str, str]]:
    """The state-ID suffix and the environment of one backfill run over ``[start, end)``."""
    suffix = f"backfill-{start:%Y%m%d}-{end:%Y%m%d}"
    prefix = _env_prefix(EXTRACTOR)
    env = {f"{prefix}_START_DATE": _iso(start), f"{prefix}_END_DATE": _iso(end)}
    if LOADER == "target-duckdb":
        # DuckDB admits one writing process per file: runs side by side each load their own
        # file; `SELECT … FROM read_… UNION ALL BY NAME` or ATTACH reads them together.
        env["TARGET_DUCKDB_FILEPATH"] = str(RUN_DIR / f"genesys-{suffix}.duckdb")
    return suffix, env


@asset(
    partitions_def=daily,
    backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=DAYS_PER_RUN),
    retry_policy=RETRY,
    group_name="genesys",
)
def genesys_backfill(context: AssetExecutionContext) -> MaterializeResult[Any]:
    """Extract the run's daily partitions with one ``meltano run`` and its own state."""
    window = context.partition_time_window
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    suffix, env = backfill_env(start, end)
    run = run_meltano(
        suffix,
        [f"--state-id-suffix={suffix}", EXTRACTOR, LOADER],
        env,
        context.retry_number,
        context.log,
    )
    _check(run)
    return MaterializeResult(
        metadata={
            "start": _iso(start),
            "end": _iso(end),
            "state_id_suffix": suffix,
            "records": run.records,
            "attempt": context.retry_number,
            "resumed_at": run.resumed_at or "",
            "log": str(run.log_path),
        }
    )


@op(retry_policy=RETRY)
def meltano_nightly(context: OpExecutionContext) -> None:
    """The incremental run: from the backfill's end on, with the pipeline's own state.

    ``start_date`` = the backfill's end, so the first nightly run reads exactly what the
    backfill did not; later runs go on from their own bookmark, ``lookback_days`` re-read.
    ``end_date`` is left to the project's configuration (unset: up to now).
    """
    env = {f"{_env_prefix(EXTRACTOR)}_START_DATE": f"{BACKFILL_END}T00:00:00Z"}
    run = run_meltano("nightly", [EXTRACTOR, LOADER], env, context.retry_number, context.log)
    _check(run)
    context.log.info(f"nightly: {run.records} records, resumed at {run.resumed_at}")


@job
def genesys_nightly() -> None:
    """The nightly incremental ``meltano run``."""
    meltano_nightly()


nightly_schedule = ScheduleDefinition(
    job=genesys_nightly, cron_schedule=NIGHTLY_CRON, execution_timezone="UTC"
)

defs = Definitions(assets=[genesys_backfill], jobs=[genesys_nightly], schedules=[nightly_schedule])
