"""The HTTP side of the simulator: OAuth, analytics jobs and queries, faults and stats."""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import hashlib
import json
import math
import random
import re
import secrets
import socket
import threading
import time
import uuid
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .aggregates import aggregate
from .dataset import Dataset
from .directory import LISTINGS, listing
from .faults import Faults
from .filters import FilterError
from .selection import FilterSet, ResultSource, Selection, validate_order
from .timeutil import DAY_MS, day_floor, from_ms, iso, parse_interval, parse_iso, to_ms
from .users import UserSelection

Json = dict[str, Any]

JOB_KEYS = frozenset(
    {
        "interval",
        "conversationFilters",
        "segmentFilters",
        "evaluationFilters",
        "surveyFilters",
        "resolutionFilters",
        "order",
        "orderBy",
        "limit",
        "startOfDayIntervalMatching",
    }
)
QUERY_KEYS = frozenset(
    (JOB_KEYS - {"limit", "startOfDayIntervalMatching"}) | {"aggregations", "paging"}
)
USER_JOB_KEYS = frozenset(
    {"interval", "userFilters", "presenceFilters", "routingStatusFilters", "order", "limit"}
)
USER_QUERY_KEYS = frozenset(
    (USER_JOB_KEYS - {"limit"}) | {"presenceAggregations", "routingStatusAggregations", "paging"}
)
DEFAULT_RATE_ALLOWED = 300
QUERY_MAX_PAGE_SIZE = 100
QUERY_MAX_RESULTS = 100_000
QUERY_MAX_DAYS_UNFILTERED = 7
QUERY_MAX_DAYS_FILTERED = 31
JOB_RETENTION_SECONDS = 86_400.0

ERROR_CODES = {
    400: "bad.request",
    401: "bad.credentials",
    404: "not.found",
    405: "method.not.allowed",
    408: "request.timeout",
    413: "request.entity.too.large",
    429: "too.many.requests.retry.after",
    500: "internal.server.error",
    502: "bad.gateway",
    503: "service.unavailable",
    504: "gateway.timeout",
}
ERROR_MESSAGES = {
    408: "The request timed out.",
    500: "The server encountered an unexpected error.",
    502: "Bad gateway.",
    503: "The service is currently unavailable.",
    504: "The gateway timed out.",
}


class ApiError(Exception):
    """An error that becomes a Genesys ErrorBody response."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Remember the status, message, code and extra headers of the response."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or ERROR_CODES.get(status, "error")
        self.headers = headers or {}


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
class _Stats:
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    rate_limited: int = 0
    max_requests_per_60s: int = 0
    result_pages: Counter[tuple[str, str]] = field(default_factory=Counter)
    records_served: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    encodings: Counter[str] = field(default_factory=Counter)


@dataclass
class Job:
    """A submitted conversation details job; its state is a function of wall time."""

    job_id: str
    selection: ResultSource
    signature: str
    limit: int | None
    submitted: float
    latency: float
    fails: bool
    available_ms: int
    kind: str = "conversation"
    deleted: bool = False
    expired: bool = False

    @property
    def completed(self) -> float:
        """Wall time at which the job finishes."""
        return self.submitted + self.latency


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _wall_iso(t: float) -> str:
    return iso(int(t * 1000))


class Simulator:
    """A Genesys Cloud API simulator served over real HTTP on 127.0.0.1."""

    def __init__(
        self,
        dataset: Dataset,
        client_id: str = "sim-client",
        client_secret: str = "sim-secret",  # noqa: S107
        *,
        faults: Faults | None = None,
        port: int = 0,
        now: datetime | None = None,
    ) -> None:
        """Configure the simulator; call ``start`` to begin serving."""
        self.dataset = dataset
        self.client_id = client_id
        self.client_secret = client_secret
        self._faults = faults or Faults()
        self._port = port
        self._now_ms = to_ms(now) if now is not None else dataset.end_ms + DAY_MS
        self._lock = threading.RLock()
        self._stats = _Stats()
        self._tokens: dict[str, float] = {}
        self._jobs: dict[str, Job] = {}
        self._failed_intervals: set[str] = set()
        self._accepted: deque[float] = deque()
        self._accepted_by_token: dict[str, deque[float]] = {}
        self._seen: deque[float] = deque()
        self._rng = random.Random(dataset.seed)
        self._bad_json_toggle = 0
        #: Rendered pages and their record counts (counting a cached page again would cost a
        #: parse of it on every request, and the benchmarks would measure the server).
        self._page_cache: OrderedDict[tuple[Any, ...], tuple[bytes, int]] = OrderedDict()
        self._page_cache_size = 0
        self._query_cache: OrderedDict[str, list[int]] = OrderedDict()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Simulator:
        """Bind and serve in a daemon thread; returns ``self`` for chaining."""
        handler = type("BoundHandler", (_Handler,), {"sim": self})
        server = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="genesys-sim", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Simulator:
        """Start on entering a ``with`` block."""
        return self.start() if self._server is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop on leaving a ``with`` block."""
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after ``start``)."""
        if self._server is None:
            raise RuntimeError("Simulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL serving both the API and ``/oauth/token``."""
        return f"http://127.0.0.1:{self.port}"

    # ----------------------------------------------------------------- clock, faults, stats
    @property
    def now(self) -> datetime:
        """The simulator's clock: what has happened by now is visible in the data."""
        return from_ms(self._now_ms)

    @now.setter
    def now(self, value: datetime) -> None:
        with self._lock:
            self._now_ms = to_ms(value)

    @property
    def now_ms(self) -> int:
        """The clock as epoch milliseconds."""
        return self._now_ms

    @property
    def faults(self) -> Faults:
        """The live fault configuration."""
        return self._faults

    def set_faults(self, **changes: Any) -> Faults:
        """Replace fault fields atomically; returns the new configuration."""
        with self._lock:
            previous = self._faults
            self._faults = previous.replace(**changes)
            if self._faults.rate_limit_per_minute != previous.rate_limit_per_minute:
                self._accepted.clear()  # a new limit starts with a fresh window
                self._accepted_by_token.clear()
            if self._faults.page_cache_bytes <= 0:
                self._page_cache.clear()
                self._page_cache_size = 0
            return self._faults

    @property
    def stats(self) -> StatsSnapshot:
        """A snapshot of the counters."""
        with self._lock:
            s = self._stats
            return StatsSnapshot(
                Counter(s.requests),
                Counter(s.statuses),
                s.rate_limited,
                s.max_requests_per_60s,
                Counter(s.result_pages),
                s.records_served,
                Counter(s.faults),
                Counter(s.encodings),
            )

    def reset_stats(self) -> None:
        """Zero every counter (the rolling request windows included)."""
        with self._lock:
            self._stats = _Stats()
            self._seen.clear()
            self._accepted.clear()
            self._accepted_by_token.clear()

    def available_ms(self) -> int:
        """``dataAvailabilityDate`` as epoch ms: the clock minus the configured lag."""
        return self._now_ms - int(self._faults.availability_lag_seconds * 1000)

    # ----------------------------------------------------------------- request bookkeeping
    def count_request(self, route: str) -> None:
        """Count a request by route name."""
        with self._lock:
            self._stats.requests[route] += 1

    def fault_fired(self, name: str, times: int = 1) -> None:
        """Count a fault that happened (``stats.faults``)."""
        with self._lock:
            self._stats.faults[name] += times

    def count_status(self, status: int) -> None:
        """Count a response status."""
        with self._lock:
            self._stats.statuses[status] += 1

    def _window(self, token: str | None) -> deque[float]:
        """The accepted-requests window that ``token`` counts against (call under the lock)."""
        if self._faults.rate_limit_per_token and token is not None:
            return self._accepted_by_token.setdefault(token, deque())
        return self._accepted

    def admit_api_request(self, token: str | None = None) -> None:
        """Track rolling windows and apply the strict limiter; raises a 429 ``ApiError``."""
        now = time.monotonic()
        with self._lock:
            while self._seen and self._seen[0] <= now - 60:
                self._seen.popleft()
            self._seen.append(now)
            self._stats.max_requests_per_60s = max(
                self._stats.max_requests_per_60s, len(self._seen)
            )
            accepted = self._window(token)
            while accepted and accepted[0] <= now - 60:
                accepted.popleft()
            limit = self._faults.rate_limit_per_minute
            if limit is not None and len(accepted) >= limit:
                self._stats.rate_limited += 1
                wait = max(1, math.ceil(accepted[0] + 60 - now))
                raise ApiError(
                    429,
                    f"Rate limit exceeded the maximum. Retry the request in [{wait}] seconds",
                    headers={"Retry-After": str(wait)},
                )
            accepted.append(now)

    def rate_headers(self, token: str | None = None) -> dict[str, str]:
        """Build the ``inin-ratelimit-*`` headers describing the current window."""
        now = time.monotonic()
        with self._lock:
            accepted = self._window(token)
            count = len(accepted)
            reset = math.ceil(accepted[0] + 60 - now) if accepted else 60
            allowed = self._faults.rate_limit_per_minute or DEFAULT_RATE_ALLOWED
        return {
            "inin-ratelimit-count": str(count),
            "inin-ratelimit-allowed": str(allowed),
            "inin-ratelimit-reset": str(max(0, reset)),
        }

    def roll(self, rate: float) -> bool:
        """Seeded coin flip, so fault sequences repeat across runs."""
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def maybe_inject_error(self) -> None:
        """Fail an analytics call with one of ``error_statuses`` at ``error_rate``."""
        faults = self._faults
        if not faults.error_statuses or not self.roll(faults.error_rate):
            return
        with self._lock:
            status = self._rng.choice(faults.error_statuses)
            self._stats.faults["error"] += 1
        if status == 429:
            raise ApiError(
                429,
                "Rate limit exceeded the maximum. Retry the request in [1] seconds",
                headers={"Retry-After": "1"},
            )
        raise ApiError(status, ERROR_MESSAGES.get(status, "Injected failure."))

    # ----------------------------------------------------------------- OAuth
    def issued_tokens(self) -> list[str]:
        """Every access token handed out so far (tests grep logs for them)."""
        with self._lock:
            return list(self._tokens)

    def revoke_tokens(self) -> int:
        """Forget every token issued so far, as an admin revoking a client's tokens would."""
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
            return count

    def issue_token(self, authorization: str | None, form: dict[str, list[str]]) -> Json:
        """Client-credentials grant: check Basic credentials and mint a bearer token."""
        ok = False
        if authorization and authorization.lower().startswith("basic "):
            try:
                raw = base64.b64decode(authorization[6:].strip(), validate=True).decode()
                cid, _, secret = raw.partition(":")
                ok = secrets.compare_digest(cid, self.client_id) and secrets.compare_digest(
                    secret, self.client_secret
                )
            except (binascii.Error, UnicodeDecodeError):
                ok = False
        if not ok:
            raise OAuthError(401, "invalid_client", "client authentication failed")
        grant = form.get("grant_type", [""])[0]
        if grant != "client_credentials":
            raise OAuthError(
                400, "unsupported_grant_type", f"grant type {grant!r} is not supported"
            )
        token = secrets.token_urlsafe(32)
        ttl = self._faults.token_ttl_seconds
        with self._lock:
            self._tokens[token] = time.monotonic() + ttl
        return {"access_token": token, "token_type": "bearer", "expires_in": ttl}

    def check_bearer(self, authorization: str | None) -> str:
        """Reject a missing, unknown or expired bearer token with 401; return the token."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ApiError(401, "No authentication bearer token specified in authorization header.")
        token = authorization[7:].strip()
        with self._lock:
            expiry = self._tokens.get(token)
        if expiry is None:
            raise ApiError(401, "Invalid login credentials.")
        if time.monotonic() >= expiry:
            raise ApiError(401, "Authentication token has expired.")
        return token

    # ----------------------------------------------------------------- detail jobs
    def submit_job(self, body: object) -> Json:
        """Validate an ``AsyncConversationQuery`` and register the job."""
        body = _check_body(body, JOB_KEYS)
        try:
            filters = FilterSet.from_body(body)
            descending = validate_order(body)
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc
        limit = _positive_int(body.get("limit"), "limit")
        start_day = body.get("startOfDayIntervalMatching", False)
        if not isinstance(start_day, bool):
            raise ApiError(400, "startOfDayIntervalMatching must be a boolean")
        now_ms = self._now_ms
        available = self.available_ms()
        try:
            selection = Selection.build(
                self.dataset,
                body.get("interval"),
                start_day=start_day,
                started_before=available,
                now_ms=now_ms,
                filters=filters,
                attributes=True,
                descending=descending,
                end_inclusive=self._faults.day_match_end_inclusive,
            )
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc
        return self._register_job(
            "conversation",
            body=body,
            selection=selection,
            limit=limit,
            now_ms=now_ms,
            available=available,
        )

    def submit_user_job(self, body: object) -> Json:
        """Validate an ``AsyncUserDetailsQuery`` and register the job."""
        body = _check_body(body, USER_JOB_KEYS)
        limit = _positive_int(body.get("limit"), "limit")
        available = self.available_ms()
        try:
            selection = UserSelection.build(self.dataset, body, available)
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc
        return self._register_job(
            "user",
            body=body,
            selection=selection,
            limit=limit,
            now_ms=self._now_ms,
            available=available,
        )

    def _register_job(
        self,
        kind: str,
        *,
        body: Json,
        selection: ResultSource,
        limit: int | None,
        now_ms: int,
        available: int,
    ) -> Json:
        faults = self._faults
        signature = hashlib.sha256(
            json.dumps([kind, body, now_ms, available], sort_keys=True).encode()
        ).hexdigest()[:16]
        fails = False
        with self._lock:
            fail_key = f"{kind}:{body['interval']}"
            if faults.job_fail_once and fail_key not in self._failed_intervals:
                self._failed_intervals.add(fail_key)
                fails = True
                self._stats.faults["job_failed"] += 1
            job = Job(
                job_id=str(uuid.uuid4()),
                selection=selection,
                signature=signature,
                limit=limit,
                submitted=time.time(),
                latency=faults.job_latency_seconds,
                fails=fails,
                available_ms=available,
                kind=kind,
            )
            self._jobs[job.job_id] = job
        return {"jobId": job.job_id}

    def _job(self, job_id: str, kind: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.deleted or job.kind != kind:
            raise ApiError(404, f"Unable to find job {job_id}", "not.found")
        return job

    def _expiry(self, job: Job) -> float:
        expire = self._faults.job_expire_seconds
        return job.completed + (JOB_RETENTION_SECONDS if expire is None else expire)

    def job_state(self, job: Job) -> str:
        """QUEUED -> PENDING -> FULFILLED/FAILED -> EXPIRED, driven by wall time."""
        now = time.time()
        if now < job.submitted + job.latency / 2:
            return "QUEUED"
        if now < job.completed:
            return "PENDING"
        if job.expired or now >= self._expiry(job):
            return "EXPIRED"
        return "FAILED" if job.fails else "FULFILLED"

    def job_status(self, job_id: str, kind: str = "conversation") -> Json:
        """Return the ``AsyncQueryStatus`` of a job."""
        job = self._job(job_id, kind)
        state = self.job_state(job)
        if state == "EXPIRED":
            self.fault_fired("job_expired")
        out: Json = {"state": state}
        if state == "FAILED":
            out["errorMessage"] = "The job failed to complete. Please resubmit the query."
        out["submissionDate"] = _wall_iso(job.submitted)
        if state in ("FULFILLED", "FAILED", "EXPIRED"):
            out["completionDate"] = _wall_iso(job.completed)
        out["expirationDate"] = _wall_iso(self._expiry(job))
        return out

    def expire_jobs(self) -> int:
        """Let every job submitted so far expire now (its results are gone); returns how many."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.expired = True
        return len(jobs)

    def job_state_of(self, job_id: str) -> str:
        """The state a status request for ``job_id`` would report now (tests look at it)."""
        with self._lock:
            job = self._jobs.get(job_id)
        return "GONE" if job is None else self.job_state(job)

    def delete_job(self, job_id: str, kind: str = "conversation") -> None:
        """Delete (or cancel) a job; later calls for it get 404."""
        job = self._job(job_id, kind)
        with self._lock:
            job.deleted = True
            self._jobs.pop(job_id, None)  # forget it: long benchmarks submit many jobs

    def _encode_cursor(self, job: Job, position: int, repeats: int, emitted: int) -> str:
        payload = json.dumps({"s": job.signature, "p": position, "r": repeats, "n": emitted})
        return _b64(payload.encode())

    def _decode_cursor(self, job: Job, cursor: str) -> tuple[int, int, int]:
        try:
            data = json.loads(_unb64(cursor))
            fields = (data["s"], int(data["p"]), int(data["r"]), int(data["n"]))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise ApiError(400, "Invalid cursor value.") from exc
        if fields[0] != job.signature:
            raise ApiError(400, "Invalid cursor value: it belongs to another job.")
        return fields[1], fields[2], fields[3]

    def job_results(
        self, job_id: str, query: dict[str, list[str]], gzip_ok: bool, kind: str = "conversation"
    ) -> tuple[bytes, int]:
        """Render one results page; returns ``(body bytes, record count)``.

        Raises for unknown/expired jobs (404), unfinished jobs and bad parameters (400).
        """
        job = self._job(job_id, kind)
        state = self.job_state(job)
        if state == "EXPIRED":
            self.fault_fired("job_expired")
            raise ApiError(404, f"Job {job_id} has expired", "not.found")
        if state != "FULFILLED":
            raise ApiError(400, f"Job {job_id} is not complete: state is {state}")
        faults = self._faults
        size_text = query.get("pageSize", ["100"])[0]
        try:
            page_size = int(size_text)
        except ValueError as exc:
            raise ApiError(400, f"Invalid pageSize {size_text!r}") from exc
        if not 1 <= page_size <= faults.max_results_page_size:
            self.fault_fired("page_size_refused")
            raise ApiError(400, f"pageSize must be between 1 and {faults.max_results_page_size}")
        cursor = query.get("cursor", [""])[0]
        state_tuple = self._decode_cursor(job, cursor) if cursor else None
        cap = job.limit
        if faults.truncate_jobs_over is not None:
            cap = faults.truncate_jobs_over if cap is None else min(cap, faults.truncate_jobs_over)
        key = (job.signature, cursor, page_size, gzip_ok, cap, faults.repeat_records)
        if faults.page_cache_bytes > 0:
            with self._lock:
                cached = self._page_cache.get(key)
                if cached is not None:
                    self._page_cache.move_to_end(key)
            if cached is not None:
                return cached
        body, count = self._render_page(job, state_tuple, page_size, cap, faults.repeat_records)
        payload = gzip.compress(body, compresslevel=1) if gzip_ok else body
        if faults.page_cache_bytes > 0:
            with self._lock:
                self._page_cache[key] = (payload, count)
                self._page_cache_size += len(payload)
                while self._page_cache_size > faults.page_cache_bytes and self._page_cache:
                    _, (old, _count) = self._page_cache.popitem(last=False)
                    self._page_cache_size -= len(old)
        return payload, count

    def _render_page(
        self,
        job: Job,
        cursor: tuple[int, int, int] | None,
        page_size: int,
        cap: int | None,
        repeat: int,
    ) -> tuple[bytes, int]:
        sel = job.selection
        position, repeats, emitted = cursor if cursor else (sel.first_position(), 0, 0)
        records: list[Json] = []
        indices: list[int] = []
        new_indices: list[int] = []
        scan = sel.items(position)
        exhausted = False
        for _ in range(repeats):
            item = next(scan, None)
            if item is None:
                break
            records.append(item[1])
            indices.append(item[0])
        if repeats:
            self.fault_fired("repeated_records", repeats)
        while len(records) < page_size and (cap is None or emitted < cap):
            item = next(scan, None)
            if item is None:
                exhausted = True
                break
            records.append(item[1])
            indices.append(item[0])
            new_indices.append(item[0])
            emitted += 1
        more = not exhausted and (cap is None or emitted < cap) and next(scan, None) is not None
        truncate = self._faults.truncate_jobs_over
        if (
            truncate is not None
            and cap == truncate
            and emitted >= cap
            and not exhausted
            and (job.limit is None or job.limit > cap)
            and next(scan, None) is not None
        ):
            self.fault_fired("truncated")
        out: Json = {sel.records_key: records} if records else {}
        if more:
            step = -1 if sel.descending else 1
            k = min(repeat, len(new_indices), page_size - 1) if repeat > 0 else 0
            if k > 0:
                next_pos, next_repeats = new_indices[-k], k
            else:
                next_pos, next_repeats = indices[-1] + step, 0
            out["cursor"] = self._encode_cursor(job, next_pos, next_repeats, emitted)
        out["dataAvailabilityDate"] = iso(job.available_ms)
        return json.dumps(out, separators=(",", ":")).encode(), len(records)

    def note_result_page(self, job_id: str, cursor: str, count: int) -> None:
        """Record a cleanly served results page."""
        with self._lock:
            self._stats.result_pages[(job_id, cursor)] += 1
            if count > 0:
                self._stats.records_served += count

    def count_encoding(self, encoding: str) -> None:
        """Count a results page by its ``Content-Encoding``."""
        with self._lock:
            self._stats.encodings[encoding] += 1

    def bad_json_body(self) -> bytes:
        """Alternate between a non-JSON body and JSON lacking the records array."""
        with self._lock:
            self._bad_json_toggle += 1
            odd = self._bad_json_toggle % 2 == 1
        if odd:
            return b"<html><body>upstream error</body></html>"
        data = {"message": "partial response", "dataAvailabilityDate": iso(self.available_ms())}
        return json.dumps(data).encode()

    # ----------------------------------------------------------------- synchronous query
    def details_query(self, body: object) -> Json:
        """Run a ``ConversationQuery``: start-day matching, page-number paging."""
        body = _check_body(body, QUERY_KEYS)
        try:
            filters = FilterSet.from_body(body)
            descending = validate_order(body)
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc
        faults = self._faults
        try:
            page_size, page_number = _paging(body, faults.query_max_results)
        except ApiError as exc:
            if exc.message.startswith("Pagination may not exceed"):
                self.fault_fired("query_depth_refused")
            raise
        interval = body.get("interval")
        try:
            a, b = parse_interval(interval)
        except ValueError as exc:
            raise ApiError(400, f"Invalid interval {interval!r}: {exc}") from exc
        max_days = QUERY_MAX_DAYS_FILTERED if filters else QUERY_MAX_DAYS_UNFILTERED
        if b - a > max_days * DAY_MS:
            raise ApiError(
                400,
                f"Query interval may not exceed {max_days} days"
                + (" when filters are used." if filters else " without filters."),
            )
        now_ms = self._now_ms
        selection = Selection.build(
            self.dataset,
            interval,
            start_day=True,
            started_before=now_ms + 1,
            now_ms=now_ms,
            filters=filters,
            attributes=False,
            descending=descending,
            end_inclusive=faults.day_match_end_inclusive,
        )
        indices = self._query_indices(selection, body, now_ms)
        first = (page_number - 1) * page_size
        page = indices[first : first + page_size]
        out: Json = {}
        if len(page):
            out["conversations"] = [selection.record(i) for i in page]
            with self._lock:
                self._stats.records_served += len(page)
        extra = self._overcount(a, b, faults)
        if extra:
            self.fault_fired("approximate_total")
        out["totalHits"] = max(0, len(indices) + extra)
        return out

    def _overcount(self, a: int, b: int, faults: Faults) -> int:
        """The approximate part of ``totalHits``: a few extra on a seeded share of days."""
        if faults.overcount_day_share <= 0:
            return 0
        extra = 0
        day = day_floor(a)
        while day < b:
            h = hashlib.blake2b(f"{self.dataset.seed}:over:{day}".encode(), digest_size=8)
            u = int.from_bytes(h.digest(), "big")
            if (u % 1_000_000) / 1_000_000 < faults.overcount_day_share:
                size = 1 + (u >> 32) % max(1, abs(faults.overcount_max))
                extra += size if faults.overcount_max > 0 else -size
            day += DAY_MS
        return extra

    def overcounted_days(self, start: str, end: str) -> list[str]:
        """The UTC days in ``[start, end)`` whose ``totalHits`` the simulator inflates."""
        a, b = parse_iso(start), parse_iso(end)
        days = []
        for day in range(day_floor(a), b, DAY_MS):
            if self._overcount(day, day + DAY_MS - 1, self._faults):
                days.append(iso(day)[:10])
        return days

    def _query_indices(self, selection: Selection, body: Json, now_ms: int) -> Any:
        if selection.simple:
            return selection.all_indices()
        key = json.dumps([body.get(k) for k in sorted(body) if k != "paging"] + [now_ms])
        with self._lock:
            cached = self._query_cache.get(key)
        if cached is not None:
            return cached
        found = list(selection.all_indices())
        with self._lock:
            self._query_cache[key] = found
            while len(self._query_cache) > 32:
                self._query_cache.popitem(last=False)
        return found

    def _visible_conversation(self, conversation_id: str) -> Json | None:
        index = self.dataset.index_of(conversation_id)
        if index is None or self.dataset.start_of(index) > self._now_ms:
            return None
        return self.dataset.record(index, self._now_ms, attributes=False)

    def conversation_details(self, conversation_id: str) -> Json:
        """One conversation by id, as it is at the clock; 404 when unknown or not started."""
        record = self._visible_conversation(conversation_id)
        if record is None:
            raise ApiError(404, f"Conversation {conversation_id} was not found.", "not.found")
        return record

    def conversations_details(self, conversation_ids: list[str]) -> Json:
        """Several conversations by id; unknown ids are left out."""
        if not conversation_ids:
            raise ApiError(400, "At least one id is required.")
        found = [r for r in map(self._visible_conversation, conversation_ids) if r is not None]
        return {"conversations": found} if found else {}

    def user_details_query(self, body: object) -> Json:
        """Run a ``UserDetailsQuery``: page-number paging over (user, day) status records.

        ``totalHits`` counts those records and each page merges its records into one item per
        user (``UserSelection.query_page``); the page after the last has no ``userDetails``.
        """
        body = _check_body(body, USER_QUERY_KEYS)
        page_size, page_number = _paging(body)
        try:
            selection = UserSelection.build(self.dataset, body, self._now_ms)
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc
        max_days = QUERY_MAX_DAYS_FILTERED if selection.filtered else QUERY_MAX_DAYS_UNFILTERED
        if selection.end_ms - selection.start_ms > max_days * DAY_MS:
            raise ApiError(
                400,
                f"Query interval may not exceed {max_days} days"
                + (" when filters are used." if selection.filtered else " without filters."),
            )
        hits = selection.query_hits()
        first = (page_number - 1) * page_size
        out: Json = {}
        page = selection.query_page(hits[first : first + page_size])
        if page:
            out["userDetails"] = page
        out["totalHits"] = len(hits)
        return out

    def aggregates_query(self, body: object) -> Json:
        """Run a ``ConversationAggregationQuery`` over the generated conversations."""
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        try:
            return aggregate(self.dataset, body, self._now_ms)
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc

    def directory(self, kind: str, query: dict[str, list[str]]) -> Json:
        """One page of a directory entity listing."""
        try:
            return listing(self.dataset.pools, kind, query)
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc

    # ----------------------------------------------------------------- control plane
    def truth(self, start: str, end: str) -> list[str]:
        """Ids that started in ``[start, end)`` by the clock, for ``/_sim/truth``."""
        return list(
            self.dataset.truth_ids(from_ms(parse_iso(start)), from_ms(parse_iso(end)), self.now)
        )


class OAuthError(Exception):
    """An OAuth-style error (``{"error": ..., "description": ...}``)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        """Remember the status and the OAuth error fields."""
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def _paging(body: Json, max_results: int = QUERY_MAX_RESULTS) -> tuple[int, int]:
    """Validate a query's ``paging`` object; returns ``(pageSize, pageNumber)``."""
    paging = body.get("paging") or {}
    if not isinstance(paging, dict) or not set(paging) <= {"pageSize", "pageNumber"}:
        raise ApiError(400, "paging accepts only pageSize and pageNumber")
    page_size = paging.get("pageSize", 25)
    page_number = paging.get("pageNumber", 1)
    if not isinstance(page_size, int) or not 1 <= page_size <= QUERY_MAX_PAGE_SIZE:
        raise ApiError(400, f"pageSize must be between 1 and {QUERY_MAX_PAGE_SIZE}")
    if not isinstance(page_number, int) or page_number < 1:
        raise ApiError(400, "pageNumber must be 1 or greater")
    if page_size * page_number > max_results:
        raise ApiError(400, f"Pagination may not exceed {max_results} results.")
    return page_size, page_number


def _positive_int(value: object, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ApiError(400, f"{name} must be a positive integer")
    return value


def _check_body(body: object, allowed: frozenset[str]) -> Json:
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(
            400,
            f'Unrecognized field "{unknown[0]}" is not allowed in the request body.',
        )
    if "interval" not in body:
        raise ApiError(400, "interval is required")
    return body


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"^/oauth/token$"), "token"),
    (
        "GET",
        re.compile(r"^/api/v2/analytics/conversations/details/jobs/availability$"),
        "availability",
    ),
    ("POST", re.compile(r"^/api/v2/analytics/conversations/details/jobs$"), "job_submit"),
    ("GET", re.compile(r"^/api/v2/analytics/conversations/details/jobs/([^/]+)$"), "job_status"),
    (
        "GET",
        re.compile(r"^/api/v2/analytics/conversations/details/jobs/([^/]+)/results$"),
        "job_results",
    ),
    ("DELETE", re.compile(r"^/api/v2/analytics/conversations/details/jobs/([^/]+)$"), "job_delete"),
    ("POST", re.compile(r"^/api/v2/analytics/conversations/details/query$"), "details_query"),
    ("GET", re.compile(r"^/api/v2/analytics/conversations/details$"), "details_multi"),
    ("GET", re.compile(r"^/api/v2/analytics/conversations/([^/]+)/details$"), "details_one"),
    (
        "GET",
        re.compile(r"^/api/v2/analytics/users/details/jobs/availability$"),
        "user_availability",
    ),
    ("POST", re.compile(r"^/api/v2/analytics/users/details/jobs$"), "user_job_submit"),
    ("GET", re.compile(r"^/api/v2/analytics/users/details/jobs/([^/]+)$"), "user_job_status"),
    (
        "GET",
        re.compile(r"^/api/v2/analytics/users/details/jobs/([^/]+)/results$"),
        "user_job_results",
    ),
    ("DELETE", re.compile(r"^/api/v2/analytics/users/details/jobs/([^/]+)$"), "user_job_delete"),
    ("POST", re.compile(r"^/api/v2/analytics/users/details/query$"), "user_details_query"),
    ("POST", re.compile(r"^/api/v2/analytics/conversations/aggregates/query$"), "aggregates_query"),
    *(("GET", re.compile(f"^{re.escape(path)}$"), kind) for kind, (path, _) in LISTINGS.items()),
    ("GET", re.compile(r"^/_sim/stats$"), "sim_stats"),
    ("POST", re.compile(r"^/_sim/faults$"), "sim_faults"),
    ("GET", re.compile(r"^/_sim/faults$"), "sim_faults"),
    ("GET", re.compile(r"^/_sim/truth$"), "sim_truth"),
    ("POST", re.compile(r"^/_sim/now$"), "sim_now"),
    ("POST", re.compile(r"^/_sim/reset_stats$"), "sim_reset_stats"),
]


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the bound ``Simulator``; every response has a Content-Length."""

    sim: Simulator
    #: The request's bearer token once checked (the per-token limiter's key).
    bearer: str | None = None
    protocol_version = "HTTP/1.1"
    server_version = "GenesysSimulator/1.0"
    #: Headers and body go out in two writes; with Nagle's algorithm on, the second waits for
    #: the client's delayed ACK (40 ms on Linux) on every small response of a kept-alive
    #: connection, which no real API behind TLS does.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        """Dispatch a GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """Dispatch a POST."""
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        """Dispatch a DELETE."""
        self._dispatch("DELETE")

    # ----------------------------------------------------------------- plumbing
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        compress: bool = True,
    ) -> None:
        extra = dict(headers or {})
        if (
            compress
            and len(body) > 512
            and self.sim.faults.gzip
            and "gzip" in (self.headers.get("Accept-Encoding") or "")
            and "Content-Encoding" not in extra
        ):
            body = gzip.compress(body, compresslevel=1)
            extra["Content-Encoding"] = "gzip"
        self.sim.count_status(status)
        self.send_response(status)
        if body or status != 204:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**self.sim.rate_headers(self.bearer), **extra}.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data, separators=(",", ":")).encode(), headers)

    def _send_error_body(self, err: ApiError) -> None:
        context = str(uuid.uuid4())
        body = {
            "message": err.message,
            "code": err.code,
            "status": err.status,
            "contextId": context,
            "details": [],
            "errors": [],
        }
        self._send_json(err.status, body, {"ININ-Correlation-Id": context, **err.headers})

    def _dispatch(self, method: str) -> None:
        self.bearer = None
        raw = self._read_body()
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = parse_qs(parts.query)
        sim = self.sim
        route: str = "unknown"
        args: tuple[str | Any, ...] = ()
        for route_method, pattern, name in _ROUTES:
            match = pattern.match(path)
            if match and route_method == method:
                route, args = name, match.groups()
                break
        sim.count_request(route)
        try:
            if route == "token":
                self._token(raw)
                return
            if route.startswith("sim_"):
                self._control(route, raw, query)
                return
            if path.startswith("/api/v2/"):
                self.bearer = sim.check_bearer(self.headers.get("Authorization"))
                sim.admit_api_request(self.bearer)
                if path.startswith("/api/v2/analytics/"):
                    sim.maybe_inject_error()
            self._api(route, args, raw, query)
        except ApiError as err:
            self._send_error_body(err)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a server must answer every request
            self._send_error_body(ApiError(500, f"Simulator error: {exc!r}"))

    def _json_body(self, raw: bytes) -> Any:
        try:
            return json.loads(raw or b"null")
        except ValueError as exc:
            raise ApiError(400, "The request body is not valid JSON.") from exc

    # ----------------------------------------------------------------- handlers
    def _token(self, raw: bytes) -> None:
        form = parse_qs(raw.decode("utf-8", "replace"))
        try:
            data = self.sim.issue_token(self.headers.get("Authorization"), form)
        except OAuthError as err:
            self._send_json(
                err.status,
                {
                    "error": err.error,
                    "description": err.description,
                    "error_description": err.description,
                },
            )
            return
        self._send_json(200, data)

    def _api(
        self, route: str, args: tuple[str | Any, ...], raw: bytes, query: dict[str, list[str]]
    ) -> None:
        sim = self.sim
        kind = "user" if route.startswith("user_") else "conversation"
        action = route.removeprefix("user_")
        if action == "availability":
            self._send_json(200, {"dataAvailabilityDate": iso(sim.available_ms())})
        elif route == "job_submit":
            self._send_json(202, sim.submit_job(self._json_body(raw)))
        elif route == "user_job_submit":
            self._send_json(202, sim.submit_user_job(self._json_body(raw)))
        elif action == "job_status":
            self._send_json(200, sim.job_status(args[0], kind))
        elif action == "job_delete":
            sim.delete_job(args[0], kind)
            self._send(204, b"")
        elif action == "job_results":
            self._job_results(args[0], query, kind)
        elif route == "details_query":
            self._send_json(200, sim.details_query(self._json_body(raw)))
        elif route == "details_one":
            self._send_json(200, sim.conversation_details(args[0]))
        elif route == "details_multi":
            ids = [i for value in query.get("id", []) for i in value.split(",") if i]
            self._send_json(200, sim.conversations_details(ids))
        elif route == "user_details_query":
            self._send_json(200, sim.user_details_query(self._json_body(raw)))
        elif route == "aggregates_query":
            self._send_json(200, sim.aggregates_query(self._json_body(raw)))
        elif route in LISTINGS:
            self._send_json(200, sim.directory(route, query))
        else:
            raise ApiError(404, f"No resource found for {self.command} {self.path}")

    def _job_results(self, job_id: str, query: dict[str, list[str]], kind: str) -> None:
        sim = self.sim
        gzip_ok = sim.faults.gzip and "gzip" in (self.headers.get("Accept-Encoding") or "")
        body, count = sim.job_results(job_id, query, gzip_ok, kind)
        faults = sim.faults
        headers = {"Content-Encoding": "gzip"} if gzip_ok else {}
        if sim.roll(faults.bad_json_rate):
            sim.fault_fired("bad_json")
            self._send(200, sim.bad_json_body(), compress=False)
            return
        if sim.roll(faults.cut_body_rate):
            sim.fault_fired("cut_gzip_body" if gzip_ok else "cut_identity_body")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in {**sim.rate_headers(self.bearer), **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            sim.count_status(200)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        # Counted before sending so a client that reads stats right after sees this page.
        sim.note_result_page(job_id, query.get("cursor", [""])[0], count)
        sim.count_encoding("gzip" if gzip_ok else "identity")
        self._send(200, body, headers, compress=False)

    def _control(self, route: str, raw: bytes, query: dict[str, list[str]]) -> None:
        sim = self.sim
        if route == "sim_stats":
            self._send_json(200, sim.stats.to_dict())
        elif route == "sim_faults":
            if self.command == "POST":
                try:
                    sim.set_faults(**self._json_body(raw))
                except (TypeError, ValueError) as exc:
                    raise ApiError(400, str(exc)) from exc
            self._send_json(200, sim.faults.to_dict())
        elif route == "sim_truth":
            try:
                ids = sim.truth(query["start"][0], query["end"][0])
            except (KeyError, ValueError) as exc:
                raise ApiError(400, "start and end are required ISO timestamps") from exc
            self._send(200, "".join(f"{i}\n" for i in ids).encode(), content_type="text/plain")
        elif route == "sim_now":
            data = self._json_body(raw)
            try:
                sim.now = from_ms(parse_iso(data["now"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise ApiError(400, 'body must be {"now": "<ISO timestamp>"}') from exc
            self._send_json(200, {"now": iso(sim.now_ms)})
        else:
            sim.reset_stats()
            self._send_json(200, {})
