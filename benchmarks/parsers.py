"""What JSON parsing alone costs on this machine: one results page, in memory, several parsers.

No HTTP, no Singer, none of the tap's code but the last line: a page of 1,000 simulated
conversations (about 4.7 MB, as the API serves it) parsed by the standard ``json``, by msgspec,
and by ijson's C backend pulled over a file and pushed in pieces, then by the tap's own
``PageParser``. Every parser builds the same Python objects, so the fastest line is a ceiling
for any client that hands records on as Python objects: a throughput figure above it cannot be
reached here by parsing better.

    python benchmarks/parsers.py [--runs 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable

import ijson
import msgspec

from genesys_simulator.dataset import Dataset

PAGE = 1000


def page_bytes() -> bytes:
    """One results page of 1,000 conversations, serialised as the simulator serves it."""
    data = Dataset(seed=5, start=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), days=1,
                   conversations=PAGE)  # fmt: skip
    records = [data.record(i) for i in range(PAGE)]
    body = {"conversations": records, "cursor": "x" * 40, "totalHits": PAGE}
    return json.dumps(body, separators=(",", ":")).encode()


def ijson_push(body: bytes) -> int:
    """ijson's push API fed 256 KiB pieces."""
    sink = ijson.sendable_list()
    coro = ijson.items_coro(sink, "conversations.item", use_float=False)
    count = 0
    for offset in range(0, len(body), 256 * 1024):
        coro.send(body[offset : offset + 256 * 1024])
        count += len(sink)
        del sink[:]
    coro.close()
    return count + len(sink)


def tap_parser(body: bytes) -> int:
    """The tap's PageParser over the same bytes (envelope edges kept, scalars read)."""
    from tap_genesys_analytics.http.parsing import PageParser  # noqa: PLC0415

    parser = PageParser("conversations", ("cursor", "totalHits"))
    return sum(1 for _ in parser.records(io.BytesIO(body)))


PARSERS: dict[str, Callable[[bytes], int]] = {
    "json.loads": lambda body: len(json.loads(body)["conversations"]),
    "msgspec.json.decode": lambda body: len(msgspec.json.decode(body)["conversations"]),
    "ijson.items (pull, file)": lambda body: sum(
        1 for _ in ijson.items(io.BytesIO(body), "conversations.item", use_float=False)
    ),
    "ijson.items_coro (push)": ijson_push,
    "tap PageParser (pull)": tap_parser,
}


def main() -> int:
    """Print records/s of each parser: the median of ``--runs``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    body = page_bytes()
    python = sys.version.split()[0]
    print(f"machine: {os.cpu_count()} cores, Python {python}; one page of {PAGE:,} records, "
          f"{len(body) / 1e6:.1f} MB, in memory; median of {args.runs}")  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in PARSERS}
    for _ in range(args.runs):  # round by round, so a change in the machine's speed hits all
        for name, parse in PARSERS.items():
            gc.collect()
            started = time.process_time()
            count = parse(body)
            times[name].append(time.process_time() - started)
            assert count == PAGE, (name, count)  # noqa: S101 - a parser that lost records
    for name, spent in times.items():
        print(f"{name:<28} {PAGE / statistics.median(spent):>9,.0f} records/s of CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
