"""Test support: start the Genesys simulator on 127.0.0.1 and run the tap's real CLI against it.

Every end-to-end test drives ``tap-genesys-analytics`` as a subprocess against the simulator
over loopback HTTP, so auth, pacing, retries, streaming parse and STATE are the real code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from genesys_simulator import Dataset, Faults, Simulator

UTC = dt.timezone.utc
ROOT = Path(__file__).resolve().parent.parent
TAP = [sys.executable, "-m", "tap_genesys_analytics"]
CLIENT_ID = "sim-client"
CLIENT_SECRET = "sim-secret-0123456789"


def day(text: str) -> dt.datetime:
    """``2024-01-01`` → aware UTC midnight."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclasses.dataclass
class TapRun:
    """What one run of the tap wrote."""

    returncode: int
    messages: list[dict[str, Any]]
    stderr: str

    def records(self, stream: str = "conversation_details") -> list[dict[str, Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def ids(self, stream: str = "conversation_details", key: str = "conversationId") -> list[str]:
        return [r[key] for r in self.records(stream)]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict[str, Any] | None:
        return self.states[-1] if self.states else None

    @property
    def error_line(self) -> str:
        lines = [ln for ln in self.stderr.splitlines() if ln.startswith("tap-genesys-analytics:")]
        return lines[-1] if lines else ""


def require(available: bool, reason: str) -> None:
    """Skip a test whose tool (Meltano, PostgreSQL) is missing, but fail it in CI (``CI=true``).

    On a laptop a missing tool is a set-up step not yet taken; in CI a skip would let a green
    run hide tests that never ran.
    """
    if available:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a missing tool fails the run instead of skipping)")
    pytest.skip(reason)


def sim_config(sim: Simulator, **overrides: Any) -> dict[str, Any]:
    """A tap config pointing at ``sim``, with fast waits for tests."""
    config: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "api_url": sim.url,
        "login_url": sim.url,
        "start_date": "2024-01-01T00:00:00Z",
        "end_date": "2024-01-31T00:00:00Z",
        "max_backoff_seconds": 0.2,
        "job_poll_max_seconds": 0.05,
        "max_requests_per_minute": 100000,
    }
    config.update(overrides)
    return config


def _write(tmp: Path, name: str, data: Any) -> Path:
    path = tmp / name
    path.write_text(json.dumps(data))
    return path


def run_tap(
    tmp: Path,
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 600,
    env: dict[str, str] | None = None,
) -> TapRun:
    """Run the tap CLI to completion and parse its Singer output."""
    cmd = [*TAP, "--config", str(_write(tmp, "config.json", config)), *args]
    if state is not None:
        cmd += ["--state", str(_write(tmp, "state.json", state))]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    messages = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return TapRun(proc.returncode, messages, proc.stderr.decode(errors="replace"))


def run_tap_until(
    tmp: Path,
    config: dict[str, Any],
    stop: Callable[[list[dict[str, Any]]], bool],
    *,
    sig: int = signal.SIGKILL,
    state: dict[str, Any] | None = None,
    args: tuple[str, ...] = (),
) -> TapRun:
    """Run the tap and kill it with ``sig`` as soon as ``stop(messages so far)`` is true."""
    cmd = [*TAP, "--config", str(_write(tmp, "config.json", config)), *args]
    if state is not None:
        cmd += ["--state", str(_write(tmp, "state.json", state))]
    err = (tmp / "stderr.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, cwd=ROOT)
    messages: list[dict[str, Any]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if not line.strip():
            continue
        try:
            messages.append(json.loads(line))
        except ValueError:
            break  # a line cut by the kill
        if stop(messages):
            proc.send_signal(sig)
            break
    for line in proc.stdout:  # what was already written before the signal landed
        try:
            messages.append(json.loads(line))
        except ValueError:
            break
    proc.wait(timeout=60)
    err.close()
    return TapRun(proc.returncode, messages, (tmp / "stderr.log").read_text(errors="replace"))


def start_sim(
    *,
    conversations: int = 3000,
    days: int = 30,
    seed: int = 11,
    start: str = "2024-01-01",
    **faults: Any,
) -> Simulator:
    """A simulator on 127.0.0.1 (any free port), fast jobs unless told otherwise."""
    faults.setdefault("job_latency_seconds", 0.05)
    shape = {
        k: faults.pop(k) for k in ("lingering_every", "lingering_days", "users") if k in faults
    }
    dataset = Dataset(seed=seed, start=day(start), days=days, conversations=conversations, **shape)
    return Simulator(
        dataset,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        faults=Faults(**faults),
        port=0,
    ).start()


def truth(
    sim: Simulator, start: str = "2024-01-01", end: str = "2024-01-31", **kw: Any
) -> set[str]:
    """The simulator's ground truth: ids that started in ``[start, end)`` by its clock.

    A conversation still live at the clock is a valid record (the tap emits it live and again
    once it ends); ``final_only=True`` keeps only those that have ended.
    """
    final_only = kw.pop("final_only", False)
    kw.setdefault("now", sim.now)
    ids = set(sim.dataset.truth_ids(day(start), day(end), **kw))
    if not final_only:
        return ids
    now_ms = int(sim.now.timestamp() * 1000)
    ds = sim.dataset
    return {cid for cid in ids if ds.core(ds.index_of(cid)).end_ms <= now_ms}


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until true (for background effects)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            msg = "condition not met in time"
            raise AssertionError(msg)
        time.sleep(0.05)


def sdk_fields(model: str) -> frozenset[str]:
    """JSON field names of ``model`` in the official Genesys SDK (``fixtures/sdk_models.json``).

    Request bodies are checked against the API's own model, not a list a test wrote.
    """
    data = json.loads((Path(__file__).parent / "fixtures" / "sdk_models.json").read_text())
    return frozenset(data["models"][model]["fields"])


POSTGRES_PYTHON = ROOT / ".meltano" / "loaders" / "target-postgres" / "venv" / "bin" / "python"
"""The loader's own Python: it has a PostgreSQL driver, which the tap's venv does not need."""


def postgres_reachable() -> bool:
    """Whether the PostgreSQL of ``TARGET_POSTGRES_HOST``/``_PORT`` accepts a connection."""
    host = os.environ.get("TARGET_POSTGRES_HOST", "127.0.0.1")
    port = int(os.environ.get("TARGET_POSTGRES_PORT", "5432"))
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def run_postgres_script(script: str, *args: str, timeout: float = 300) -> str:
    """Run ``script`` in the PostgreSQL loader's venv with ``args``; its stdout (exit 0 checked)."""
    proc = subprocess.run(
        [str(POSTGRES_PYTHON), "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def meltano_env(sim: Simulator, tmp: Path, start: str, end: str, **extra: str) -> dict[str, str]:
    """Environment of a ``meltano`` run against ``sim``, with its own system database in ``tmp``."""
    return {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
        "TAP_GENESYS_ANALYTICS_API_URL": sim.url,
        "TAP_GENESYS_ANALYTICS_LOGIN_URL": sim.url,
        "TAP_GENESYS_ANALYTICS_CLIENT_ID": CLIENT_ID,
        "TAP_GENESYS_ANALYTICS_CLIENT_SECRET": CLIENT_SECRET,
        "TAP_GENESYS_ANALYTICS_START_DATE": start,
        "TAP_GENESYS_ANALYTICS_END_DATE": end,
        **extra,
    }


def run_meltano(
    meltano: Path, *args: str, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``meltano ARGS`` from the project root with ``env``; the caller checks what it needs."""
    return subprocess.run(
        [str(meltano), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
