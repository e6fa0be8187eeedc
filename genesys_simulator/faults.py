"""Fault switches that make the simulator misbehave the way the real API can."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ERROR_STATUSES: tuple[int, ...] = (408, 429, 500, 502, 503, 504)


@dataclass(frozen=True)
class Faults:
    """Fault configuration; every fault is off by default so a plain run is well-behaved.

    The dataclass is frozen: the simulator swaps the whole object atomically so a
    request never sees a half-applied change.
    """

    token_ttl_seconds: int = 86400
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = field(default=DEFAULT_ERROR_STATUSES)
    cut_body_rate: float = 0.0
    bad_json_rate: float = 0.0
    job_fail_once: bool = False
    job_expire_seconds: float | None = None
    repeat_records: int = 0
    truncate_jobs_over: int | None = None
    rate_limit_per_minute: int | None = None
    #: Apply ``rate_limit_per_minute`` to each bearer token on its own, as Genesys limits each
    #: client-credentials token; off, one window is shared by every caller of the simulator.
    rate_limit_per_token: bool = False
    job_latency_seconds: float = 0.2
    availability_lag_seconds: float = 0.0
    max_results_page_size: int = 1000
    page_cache_bytes: int = 0
    #: Honour ``Accept-Encoding: gzip``; off lets a benchmark measure plain JSON bodies.
    gzip: bool = True
    #: ``totalHits`` is approximate (fact sheet §1): this share of UTC days is over-counted
    #: by 1 to ``overcount_max`` in every details query that touches the day (a negative
    #: ``overcount_max`` under-counts instead).
    overcount_day_share: float = 0.0
    overcount_max: int = 3
    #: The details query refuses to page past this many results (the API's 100,000); lower
    #: it to reach the limit with a small data set.
    query_max_results: int = 100_000
    #: Whether an interval ending exactly at 00:00:00.000Z "touches" the next day under
    #: start-of-day matching. Undocumented; on, the simulator takes the pessimistic reading.
    day_match_end_inclusive: bool = False
    #: ``GET /api/v2/presence/definitions`` takes ``deactivated`` as documented, ``TRUE`` or
    #: ``FALSE`` only (the SDK's words); off, any casing of true/false is taken.
    deactivated_documented_case: bool = False
    #: The aggregates query refuses more buckets than this. The API's limit is not documented;
    #: the default is the tap's assumption (2000), so a tap that outgrows it fails here first.
    aggregate_max_buckets: int = 2000

    def replace(self, **changes: Any) -> Faults:
        """Return a copy with ``changes`` applied, rejecting unknown field names."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"Unknown fault field(s): {', '.join(unknown)}")
        if "error_statuses" in changes:
            changes["error_statuses"] = tuple(int(s) for s in changes["error_statuses"])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Serialise for the ``/_sim/faults`` control endpoint."""
        data = dataclasses.asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        return data
