"""The simulator's counters: the live set the core mutates and the snapshot tests read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class StatsSnapshot:
    """A consistent copy of the simulator's counters, safe to inspect from tests."""

    requests: Counter[str]
    statuses: Counter[int]
    rate_limited: int
    max_requests_per_60s: int
    result_pages: Counter[tuple[str, str]]
    records_served: int
    #: How often each fault switch actually fired, so a test can show its fault happened.
    faults: Counter[str]
    #: Results pages by ``Content-Encoding`` (``gzip`` or ``identity``).
    encodings: Counter[str]

    def to_dict(self) -> Json:
        """JSON form for the ``/_sim/stats`` endpoint."""
        return {
            "requests": dict(self.requests),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "rate_limited": self.rate_limited,
            "max_requests_per_60s": self.max_requests_per_60s,
            "result_pages": {f"{j}|{c}": n for (j, c), n in self.result_pages.items()},
            "records_served": self.records_served,
            "faults": dict(self.faults),
            "encodings": dict(self.encodings),
        }


@dataclass
class Stats:
    """The live counters; only ``Core`` mutates them, under its lock."""

    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    rate_limited: int = 0
    max_requests_per_60s: int = 0
    result_pages: Counter[tuple[str, str]] = field(default_factory=Counter)
    records_served: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    encodings: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> StatsSnapshot:
        """Copy every counter (call under the owner's lock)."""
        return StatsSnapshot(
            Counter(self.requests),
            Counter(self.statuses),
            self.rate_limited,
            self.max_requests_per_60s,
            Counter(self.result_pages),
            self.records_served,
            Counter(self.faults),
            Counter(self.encodings),
        )
