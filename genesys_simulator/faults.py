"""Fault switches that make the simulator misbehave the way the real API can."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any

from .timeutil import parse_interval

DEFAULT_ERROR_STATUSES: tuple[int, ...] = (408, 429, 500, 502, 503, 504)


@dataclass(frozen=True)
class Faults:
    """Fault configuration; every fault is off by default so a plain run is well-behaved.

    The dataclass is frozen: the simulator swaps the whole object atomically so a
    request never sees a half-applied change.
    """

    token_ttl_seconds: int = 86400
    #: Refuse a token once it is past ``token_ttl_seconds`` (the API does). Off, the lifetime is
    #: only reported in ``expires_in`` and every late use counts ``token_used_past_expiry``:
    #: a test of early renewal then needs no race between a slow request and the clock.
    token_expiry_enforced: bool = True
    #: A token answers this many API requests, then is refused as expired (fault counter
    #: ``token_expired``): tokens run out at a counted point instead of a wall-clock one.
    token_max_uses: int | None = None
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = field(default=DEFAULT_ERROR_STATUSES)
    cut_body_rate: float = 0.0
    bad_json_rate: float = 0.0
    job_fail_once: bool = False
    job_expire_seconds: float | None = None
    #: Of the jobs submitted while this is set, only the first N finish; later ones stay
    #: PENDING (fault counter ``job_held`` on each status of one) until it is lifted. A run
    #: stalls at a known point, so a test can stop it there without racing it.
    complete_jobs_max: int | None = None
    #: The same hold chosen by data instead of by order: every job whose interval starts
    #: inside this ISO-8601 interval (``start/end``, end exclusive) stays PENDING (counter
    #: ``job_held``) until it is lifted. With runs in parallel the order of submissions is
    #: not known, but which run asks for which days is: one chosen run stalls there.
    hold_jobs_interval: str | None = None
    #: The first job of each interval ends CANCELLED instead of FULFILLED (fault counter
    #: ``job_cancelled``), as when an admin or the platform cancels it.
    job_cancel_once: bool = False
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
    #: And that count varies between requests of the same query (the real API's does while
    #: data is live): each request draws the day's part anew, from 0 to ``overcount_max``, so
    #: the page that ends a day may count fewer than the page before it. Counter:
    #: ``total_varied``.
    overcount_varies: bool = False
    #: The details query's index holds this share of a query's records twice (adjacent); each
    #: page drops the repeats it holds, as the API drops duplicates server-side, so a page
    #: comes back shorter than ``pageSize`` mid-stream without any record being lost (a pair
    #: split by a page boundary is served on both pages). Counter: ``query_short_page``.
    query_repeat_share: float = 0.0
    #: The details query refuses to page past this many results (the API's 100,000); lower
    #: it to reach the limit with a small data set.
    query_max_results: int = 100_000
    #: Whether an interval ending exactly at 00:00:00.000Z "touches" the next day under
    #: start-of-day matching. Undocumented; on, the simulator takes the pessimistic reading
    #: (fault counter ``day_match_end_inclusive`` for each such interval it widens).
    day_match_end_inclusive: bool = False
    #: Genesys omits empty arrays, so a job's cursor may lead to a page that is the envelope
    #: alone (``{"dataAvailabilityDate": ...}``): on, every job's last records page still
    #: carries a cursor, to such an empty page (fault ``empty_page``).
    empty_page_after_cursor: bool = False
    #: Ids the by-id endpoint (``GET .../conversations/details?id=``) takes per request; the
    #: real maximum is undocumented (fact sheet §1). More answer 400 (``by_id_too_many``).
    by_id_max_ids: int = 100
    #: The by-id endpoint answers 404 to a batch naming an id it does not serve (purged or
    #: deleted) instead of leaving that id out (``by_id_unknown``).
    by_id_unknown_404: bool = False
    #: The longest request target (path and query) the API host takes; longer ones answer 414
    #: (``url_too_long``). ``None``: no limit.
    max_url_length: int | None = None
    #: Refuse this many API requests with 401 although their token is valid, each the first
    #: request made with a token issued after the first one: a just-renewed token refused once
    #: (``transient_401``).
    renewed_token_refusals: int = 0
    #: The next token requests answer these statuses, one each, in order, before the login
    #: issues tokens again (``login_error``); 429 and 503 carry ``Retry-After``.
    login_errors: tuple[int, ...] = ()
    #: The next analytics requests answer these statuses, one each, in order
    #: (``scripted_error``); 429 and 503 carry ``Retry-After``.
    api_errors: tuple[int, ...] = ()
    #: Seconds named in ``Retry-After`` on the scripted 429 and 503 answers above.
    retry_after_seconds: int = 1
    #: Every object of every served record (conversations, user details and all they nest)
    #: carries a field no SDK model defines, as after an API release the schemas predate
    #: (counter ``unknown_field``: objects that got it).
    unknown_fields: bool = False
    #: Every Quality route (evaluations, surveys, their aggregates and forms) answers 403
    #: missing.permissions, as for a role without the quality permissions.
    quality_forbidden: bool = False
    #: ``GET /api/v2/presence/definitions`` takes ``deactivated`` as documented, ``TRUE`` or
    #: ``FALSE`` only (the SDK's words); off, any casing of true/false is taken.
    deactivated_documented_case: bool = False
    #: The aggregates query refuses more buckets than this. The API's limit is not documented;
    #: the default is the tap's assumption (2000), so a tap that outgrows it fails here first.
    aggregate_max_buckets: int = 2000
    #: "A single query may contain no more than 100 userId predicates": more answer 400
    #: (``user_predicates_refused``). The real API always refuses; lower it to reach the
    #: limit with a small org.
    user_aggregate_max_predicates: int = 100
    #: "Only up to 20 milestones per outcome and 100 milestones per flow are used" in
    #: analytics: flow aggregates drop the hits on the others (``flow_milestones_capped``).
    flow_milestones_per_outcome: int = 20
    flow_milestones_per_flow: int = 100

    def replace(self, **changes: Any) -> Faults:
        """Return a copy with ``changes`` applied, rejecting unknown field names."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"Unknown fault field(s): {', '.join(unknown)}")
        for name in ("error_statuses", "login_errors", "api_errors"):
            if name in changes:
                changes[name] = tuple(int(s) for s in changes[name])
        if changes.get("hold_jobs_interval") is not None:
            parse_interval(changes["hold_jobs_interval"])  # refused here, not on each poll
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Serialise for the ``/_sim/faults`` control endpoint."""
        data = dataclasses.asdict(self)
        for name in ("error_statuses", "login_errors", "api_errors"):
            data[name] = list(getattr(self, name))
        return data


def approximate_part(seed: int, day_ms: int, faults: Faults, draw: int | None = None) -> int:
    """The approximate part of one UTC day's ``totalHits`` (``overcount_*`` switches).

    A seeded share of days is off by a fixed 1 to ``|overcount_max|``; with
    ``overcount_varies`` each request (``draw``: a number unique to it) draws 0 to
    ``|overcount_max|`` instead. Negative ``overcount_max`` counts below the truth.
    """
    if faults.overcount_day_share <= 0:
        return 0
    u = _unit(f"{seed}:over:{day_ms}")
    if (u % 1_000_000) / 1_000_000 >= faults.overcount_day_share:
        return 0
    span = max(1, abs(faults.overcount_max))
    if faults.overcount_varies and draw is not None:
        size = _unit(f"{seed}:over:{day_ms}:{draw}") % (span + 1)
    else:
        size = 1 + (u >> 32) % span
    return size if faults.overcount_max > 0 else -size


def _unit(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
