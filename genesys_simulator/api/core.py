"""What every API family shares: the clock, faults, counters, rate admission, tokens, errors.

One re-entrant lock guards all mutable simulator state; families take ``core.lock`` for their
own state too, so a fault change and the state it invalidates change together.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from ..faults import Faults
from ..unknown import add_unknown_fields
from .errors import ERROR_MESSAGES, ApiError
from .stats import Stats, StatsSnapshot

Served = TypeVar("Served")

DEFAULT_RATE_ALLOWED = 300


class Core:
    """Shared simulator state: clock, faults, counters, rate windows and issued tokens."""

    def __init__(self, seed: int, faults: Faults, now_ms: int) -> None:
        """Start the clock at ``now_ms``; ``seed`` makes the fault coin flips repeat."""
        self.lock = threading.RLock()
        self._faults = faults
        self._now_ms = now_ms
        self._stats = Stats()
        self._tokens: dict[str, float] = {}
        self._token_uses: dict[str, int] = {}
        self._accepted: deque[float] = deque()
        self._accepted_by_token: dict[str, deque[float]] = {}
        self._seen: deque[float] = deque()
        self._rng = random.Random(seed)
        self._fault_watchers: list[Callable[[Faults], None]] = []
        #: Tokens issued after the first one and not used yet (``renewed_token_refusals``).
        self._renewed_unused: set[str] = set()
        self._issued = 0
        #: How many scripted answers were given so far (``api_errors``, ``login_errors``, and
        #: ``renewed_token_refusals``).
        self._scripted: dict[str, int] = {}

    # ----------------------------------------------------------------- clock
    @property
    def now_ms(self) -> int:
        """The simulator's clock as epoch milliseconds."""
        return self._now_ms

    @now_ms.setter
    def now_ms(self, value: int) -> None:
        with self.lock:
            self._now_ms = value

    def available_ms(self) -> int:
        """``dataAvailabilityDate`` as epoch ms: the clock minus the configured lag."""
        return self._now_ms - int(self._faults.availability_lag_seconds * 1000)

    # ----------------------------------------------------------------- faults
    @property
    def faults(self) -> Faults:
        """The live fault configuration."""
        return self._faults

    def watch_faults(self, watcher: Callable[[Faults], None]) -> None:
        """Call ``watcher`` with the new faults after each change, under the lock."""
        self._fault_watchers.append(watcher)

    def set_faults(self, **changes: object) -> Faults:
        """Replace fault fields atomically; returns the new configuration."""
        with self.lock:
            previous = self._faults
            self._faults = previous.replace(**changes)
            if self._faults.rate_limit_per_minute != previous.rate_limit_per_minute:
                self._accepted.clear()  # a new limit starts with a fresh window
                self._accepted_by_token.clear()
            for name in ("api_errors", "login_errors", "renewed_token_refusals"):
                if getattr(self._faults, name) != getattr(previous, name):
                    self._scripted.pop(name, None)  # a new script starts from its beginning
            for watcher in self._fault_watchers:
                watcher(self._faults)
            return self._faults

    def roll(self, rate: float) -> bool:
        """Seeded coin flip, so fault sequences repeat across runs."""
        if rate <= 0:
            return False
        with self.lock:
            return self._rng.random() < rate

    def next_scripted(self, name: str, statuses: tuple[int, ...]) -> int | None:
        """The next status of a scripted sequence (``api_errors``...), ``None`` once it is used."""
        with self.lock:
            done = self._scripted.get(name, 0)
            if done >= len(statuses):
                return None
            self._scripted[name] = done + 1
            return statuses[done]

    def scripted_error(self, name: str, statuses: tuple[int, ...], fault: str) -> None:
        """Raise the next scripted error of ``statuses``; 429 and 503 carry ``Retry-After``."""
        status = self.next_scripted(name, statuses)
        if status is None:
            return
        self.fault_fired(fault)
        wait = str(self._faults.retry_after_seconds)
        headers = {"Retry-After": wait} if status in {429, 503} else {}
        message = ERROR_MESSAGES.get(status, "Injected failure.")
        if status == 429:
            message = f"Rate limit exceeded the maximum. Retry the request in [{wait}] seconds"
        raise ApiError(status, message, headers=headers)

    def check_url_length(self, target: str) -> None:
        """Answer 414 to a request target (path and query) over ``max_url_length``."""
        limit = self._faults.max_url_length
        if limit is not None and len(target) > limit:
            self.fault_fired("url_too_long")
            raise ApiError(414, f"The request URL is longer than {limit} characters.")

    def maybe_inject_error(self) -> None:
        """Fail an analytics call: the scripted ``api_errors`` first, then at ``error_rate``."""
        self.scripted_error("api_errors", self._faults.api_errors, "scripted_error")
        faults = self._faults
        if not faults.error_statuses or not self.roll(faults.error_rate):
            return
        with self.lock:
            status = self._rng.choice(faults.error_statuses)
            self._stats.faults["error"] += 1
        if status == 429:
            raise ApiError(
                429,
                "Rate limit exceeded the maximum. Retry the request in [1] seconds",
                headers={"Retry-After": "1"},
            )
        raise ApiError(status, ERROR_MESSAGES.get(status, "Injected failure."))

    # ----------------------------------------------------------------- counters
    @property
    def stats(self) -> StatsSnapshot:
        """A snapshot of the counters."""
        with self.lock:
            return self._stats.snapshot()

    def reset_stats(self) -> None:
        """Zero every counter (the rolling request windows included)."""
        with self.lock:
            self._stats = Stats()
            self._seen.clear()
            self._accepted.clear()
            self._accepted_by_token.clear()

    def count_request(self, route: str) -> None:
        """Count a request by route name."""
        with self.lock:
            self._stats.requests[route] += 1

    def fault_fired(self, name: str, times: int = 1) -> None:
        """Count a fault that happened (``stats.faults``)."""
        with self.lock:
            self._stats.faults[name] += times

    def served(self, records: Served) -> Served:
        """Records as every family serves them, with a field no model defines when switched on.

        Under ``unknown_fields`` each object carries it (counter ``unknown_field``: objects).
        """
        if self._faults.unknown_fields:
            self.fault_fired("unknown_field", add_unknown_fields(records))
        return records

    def count_status(self, status: int) -> None:
        """Count a response status."""
        with self.lock:
            self._stats.statuses[status] += 1

    def count_records(self, count: int) -> None:
        """Count records served outside job results pages (details queries)."""
        with self.lock:
            self._stats.records_served += count

    def note_result_page(self, job_id: str, cursor: str, count: int) -> None:
        """Record a cleanly served results page."""
        with self.lock:
            self._stats.result_pages[(job_id, cursor)] += 1
            if count > 0:
                self._stats.records_served += count

    def count_encoding(self, encoding: str) -> None:
        """Count a results page by its ``Content-Encoding``."""
        with self.lock:
            self._stats.encodings[encoding] += 1

    # ----------------------------------------------------------------- rate admission
    def _window(self, token: str | None) -> deque[float]:
        """The accepted-requests window that ``token`` counts against (call under the lock)."""
        if self._faults.rate_limit_per_token and token is not None:
            return self._accepted_by_token.setdefault(token, deque())
        return self._accepted

    def admit_api_request(self, token: str | None = None) -> None:
        """Track rolling windows and apply the strict limiter; raises a 429 ``ApiError``."""
        now = time.monotonic()
        with self.lock:
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
        with self.lock:
            accepted = self._window(token)
            count = len(accepted)
            reset = math.ceil(accepted[0] + 60 - now) if accepted else 60
            allowed = self._faults.rate_limit_per_minute or DEFAULT_RATE_ALLOWED
        return {
            "inin-ratelimit-count": str(count),
            "inin-ratelimit-allowed": str(allowed),
            "inin-ratelimit-reset": str(max(0, reset)),
        }

    # ----------------------------------------------------------------- bearer tokens
    def add_token(self, token: str, ttl_seconds: float) -> None:
        """Accept ``token`` for ``ttl_seconds`` of wall time (OAuth issues it)."""
        with self.lock:
            self._tokens[token] = time.monotonic() + ttl_seconds
            if self._issued:
                self._renewed_unused.add(token)
            self._issued += 1
            self._token_uses[token] = 0

    def issued_tokens(self) -> list[str]:
        """Every access token handed out so far (tests grep logs for them)."""
        with self.lock:
            return list(self._tokens)

    def revoke_tokens(self) -> int:
        """Forget every token issued so far, as an admin revoking a client's tokens would."""
        with self.lock:
            count = len(self._tokens)
            self._tokens.clear()
            return count

    def check_bearer(self, authorization: str | None) -> str:
        """Reject a missing, unknown or expired bearer token with 401; return the token."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ApiError(401, "No authentication bearer token specified in authorization header.")
        token = authorization[7:].strip()
        with self.lock:
            expiry = self._tokens.get(token)
            uses = self._token_uses.get(token, 0) + 1
            if expiry is not None:
                self._token_uses[token] = uses
        if expiry is None:
            raise ApiError(401, "Invalid login credentials.")
        faults = self._faults
        if faults.token_max_uses is not None and uses > faults.token_max_uses:
            self.fault_fired("token_expired")
            raise ApiError(401, "Authentication token has expired.")
        with self.lock:
            first_use = token in self._renewed_unused
            self._renewed_unused.discard(token)
        if first_use and self.next_scripted(
            "renewed_token_refusals", (401,) * self._faults.renewed_token_refusals
        ):
            # A valid token refused once, on its first use: what a node that has not yet seen
            # a just-issued token answers.
            self.fault_fired("transient_401")
            raise ApiError(401, "Invalid login credentials.")
        if time.monotonic() >= expiry:
            if faults.token_expiry_enforced:
                self.fault_fired("token_expired")
                raise ApiError(401, "Authentication token has expired.")
            self.fault_fired("token_used_past_expiry")
        return token
