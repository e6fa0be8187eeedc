"""Client-side pacing and retry waits.

One :class:`RateLimiter` per tap process is shared by every stream and worker thread, so the
tap stays under the platform's per-token budget (300 requests/minute) by construction instead
of discovering it through 429s. Clock and sleep are injected so tests use a fake clock.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from collections.abc import Callable, Generator


class RateLimiter:
    """A token bucket: ``per_minute`` tokens a minute, with a small burst.

    The burst is capped so that burst + rate never exceeds the per-minute figure by more than
    ``burst`` in any rolling minute; the default setting leaves that margin below 300.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 1:
            msg = "per_minute must be at least 1"
            raise ValueError(msg)
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        # A bucket must hold at least one token, or no caller could ever take one.
        self.capacity = float(
            max(1, burst) if burst is not None else max(1, min(10, per_minute // 20))
        )
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.capacity
        self._updated = clock()
        self._paused_until = 0.0
        self._recent: collections.deque[float] = collections.deque()
        self.total = 0
        self.waited = 0.0

    def acquire(self) -> float:
        """Take one token, sleeping until one is free; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                delay = max(self._paused_until - now, 0.0)
                # A hair below one token after float refills counts as one: otherwise the
                # next wait would be ~1e-14 s, which an exact clock never gets past.
                if delay <= 0 and self._tokens >= 1.0 - 1e-9:
                    self._tokens = max(0.0, self._tokens - 1.0)
                    self.total += 1
                    self._recent.append(now)
                    self.waited += waited
                    return waited
                if delay <= 0:
                    delay = (1.0 - self._tokens) / self.rate
            self._sleep(delay)
            waited += delay

    def pause(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` (a 429's Retry-After applies to the token).

        The bucket refills from the end of the pause, not from now: when it ends, one request
        goes at once and the rest follow at the steady rate, instead of a full burst landing
        on a server that has just said it is over its limit.
        """
        with self._lock:
            now = self._clock()
            self._refill(now)
            until = now + seconds
            self._paused_until = max(self._paused_until, until)
            self._tokens = 1.0
            self._updated = self._paused_until

    def used_last_minute(self) -> int:
        """Requests sent in the last 60 seconds, for progress logs."""
        with self._lock:
            self._trim(self._clock())
            return len(self._recent)

    def _refill(self, now: float) -> None:
        # During a pause ``_updated`` lies ahead (the pause's end): nothing accrues until then.
        if now > self._updated:
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._recent and self._recent[0] <= now - 60.0:
            self._recent.popleft()


def retry_waits(
    *,
    base: float = 1.0,
    factor: float = 2.0,
    cap: float = 120.0,
    rng: random.Random | None = None,
) -> Generator[float, BaseException | None, None]:
    """Wait generator for ``backoff``: capped exponential with jitter, floored by Retry-After.

    ``backoff`` sends the exception of each failed try; one carrying ``retry_after`` (a 429)
    waits at least that long, never shorter, plus a little jitter so workers do not align.
    """
    rand = rng or random.Random()
    exc = yield 0.0
    attempt = 0
    while True:
        ceiling = min(cap, base * factor**attempt)
        wait = rand.uniform(ceiling / 2, ceiling)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            wait = float(retry_after) + rand.uniform(0.0, min(1.0, 0.1 * float(retry_after) + 0.1))
        attempt += 1
        exc = yield wait
