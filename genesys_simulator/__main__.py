"""Command line: ``python -m genesys_simulator --port 8765 ...`` serves until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import datetime
from types import FrameType

from .dataset import Dataset
from .faults import Faults
from .server import Simulator
from .timeutil import UTC, from_ms, parse_iso


def _date(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    """Argument parser for the simulator CLI."""
    parser = argparse.ArgumentParser(prog="genesys-simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=60, help="agents in the org")
    parser.add_argument("--start", type=_date, default=datetime(2024, 1, 1, tzinfo=UTC))
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--client-id", default="sim-client")
    parser.add_argument("--client-secret", default="sim-secret")
    parser.add_argument("--faults", default="{}", help="JSON object of Faults fields")
    parser.add_argument("--now", default=None, help="simulator clock, ISO-8601")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the simulator in the foreground; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        faults = Faults().replace(**json.loads(args.faults))
    except (ValueError, TypeError) as exc:
        print(f"invalid --faults: {exc}", file=sys.stderr)
        return 2
    dataset = Dataset(
        seed=args.seed,
        start=args.start,
        days=args.days,
        conversations=args.conversations,
        users=args.users,
    )
    now = from_ms(parse_iso(args.now)) if args.now else None
    sim = Simulator(
        dataset,
        client_id=args.client_id,
        client_secret=args.client_secret,
        faults=faults,
        port=args.port,
        now=now,
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    sim.start()
    print(f"Genesys simulator on {sim.url} (client_id={args.client_id})", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
