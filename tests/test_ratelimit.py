"""Unit tests for client-side pacing (token bucket with a fake clock) and the retry waits."""

from __future__ import annotations

import bisect
import itertools
import random
import threading
import time

import backoff
import pytest

from tap_genesys_analytics.errors import RetriableError
from tap_genesys_analytics.http.ratelimit import RateLimiter, retry_waits


class FakeClock:
    """A clock that only moves when someone sleeps on it (or the test advances it).

    Like a real clock, every sleep lets at least a microsecond pass (``exact=False``); an exact
    clock adds precisely the requested seconds, which floating point may round away.
    """

    def __init__(self, start: float = 1000.0, *, exact: bool = False) -> None:
        self.now = start
        self.exact = exact
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, f"negative sleep {seconds}"
        self.sleeps.append(seconds)
        self.now += seconds if self.exact else max(seconds, 1e-6)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limiter_on(clock: FakeClock, per_minute: int, burst: int | None = None) -> RateLimiter:
    return RateLimiter(per_minute, burst=burst, clock=clock, sleep=clock.sleep)


def max_in_any_window(times: list[float], width: float = 60.0) -> int:
    """Most timestamps inside any closed window ``[t, t + width]`` (times sorted)."""
    return max(bisect.bisect_right(times, start + width) - i for i, start in enumerate(times))


# -- construction ---------------------------------------------------------------------------


@pytest.mark.parametrize("per_minute", [0, -1, -300])
def test_rejects_per_minute_below_one(per_minute: int) -> None:
    with pytest.raises(ValueError, match="per_minute"):
        RateLimiter(per_minute)


@pytest.mark.parametrize(
    ("per_minute", "burst", "capacity"),
    [
        (240, None, 10.0),
        (300, None, 10.0),
        (1000, None, 10.0),
        (100, None, 5.0),
        (60, None, 3.0),
        (19, None, 1.0),
        (1, None, 1.0),
        (240, 4, 4.0),
        (240, 1, 1.0),
    ],
)
def test_burst_capacity(per_minute: int, burst: int | None, capacity: float) -> None:
    clock = FakeClock()
    limiter = limiter_on(clock, per_minute, burst)
    assert limiter.capacity == capacity
    assert limiter.rate == pytest.approx(per_minute / 60.0)
    # Exactly ``capacity`` acquisitions are free at start; the next one waits one token's time.
    for _ in range(int(capacity)):
        assert limiter.acquire() == 0.0
    assert clock.now == 1000.0
    waited = limiter.acquire()
    assert waited == pytest.approx(60.0 / per_minute)
    assert clock.now == pytest.approx(1000.0 + 60.0 / per_minute)


def test_steady_state_spacing_is_one_token_interval() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock, 240, burst=2)
    limiter.acquire()
    limiter.acquire()
    stamps = []
    for _ in range(20):
        limiter.acquire()
        stamps.append(clock.now)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert gaps == pytest.approx([0.25] * 19)
    assert limiter.total == 22
    assert limiter.waited == pytest.approx(20 * 0.25)


# -- the rolling-minute bound ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("per_minute", "burst", "seed"),
    [(240, None, 1), (300, None, 2), (60, None, 3), (120, 20, 4), (30, 1, 5), (600, 10, 6)],
)
def test_no_rolling_minute_exceeds_rate_plus_burst(
    per_minute: int, burst: int | None, seed: int
) -> None:
    """Ten simulated minutes of eager callers with idle spells that let the bucket refill."""
    rng = random.Random(seed)
    clock = FakeClock()
    limiter = limiter_on(clock, per_minute, burst)
    capacity = int(limiter.capacity)
    end = clock.now + 600.0
    stamps: list[float] = []
    while clock.now < end:
        busy_until = clock.now + rng.uniform(20.0, 150.0)
        while clock.now < busy_until:
            if rng.random() < 0.05:  # a caller dawdles briefly
                clock.advance(rng.uniform(0.0, 3 * 60.0 / per_minute))
            limiter.acquire()
            stamps.append(clock.now)
        clock.advance(rng.uniform(1.0, 40.0))  # idle: the burst refills

    assert limiter.total == len(stamps)
    assert max_in_any_window(stamps) <= per_minute + capacity
    # The bound is not met by being slow: some minute is saturated.
    assert max_in_any_window(stamps) >= per_minute
    # And half-minutes, too, stay within their share plus the burst.
    assert max_in_any_window(stamps, 30.0) <= per_minute // 2 + capacity


def test_saturated_callers_get_the_full_rate() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock, 240)
    start = clock.now
    count = 0
    while clock.now < start + 600.0:
        limiter.acquire()
        count += 1
    # 10 burst tokens plus 4 tokens a second for 600 s (the last one may land exactly on 600).
    assert 10 + 2400 - 1 <= count <= 10 + 2400 + 1


# -- used_last_minute -----------------------------------------------------------------------


def test_used_last_minute_counts_a_rolling_minute() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock, 60, burst=10)
    assert limiter.used_last_minute() == 0
    for _ in range(5):
        limiter.acquire()
    assert limiter.used_last_minute() == 5
    clock.advance(30.0)
    for _ in range(3):
        limiter.acquire()
    assert limiter.used_last_minute() == 8
    clock.advance(29.9)
    assert limiter.used_last_minute() == 8
    clock.advance(0.1)  # exactly 60 s after the first five: they drop out
    assert limiter.used_last_minute() == 3
    clock.advance(30.0)
    assert limiter.used_last_minute() == 0
    assert limiter.total == 8


# -- pause ----------------------------------------------------------------------------------


def test_pause_holds_back_a_full_bucket() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock, 240)
    limiter.pause(30.0)
    waited = limiter.acquire()
    assert waited == pytest.approx(30.0)
    assert clock.now == pytest.approx(1030.0)
    assert limiter.waited == pytest.approx(30.0)


def test_after_a_pause_the_bucket_refills_from_its_end() -> None:
    # A 429 said the server is over its limit: when the pause ends one request goes, the rest
    # follow at the steady rate, never the full burst the pause would otherwise have refilled.
    clock = FakeClock(exact=True)
    limiter = limiter_on(clock, 240)  # a burst of 10, a token every 0.25 s
    limiter.pause(30.0)
    stamps = []
    for _ in range(5):
        limiter.acquire()
        stamps.append(clock.now)
    assert stamps == pytest.approx([1030.0, 1030.25, 1030.5, 1030.75, 1031.0])


def test_a_pause_during_a_pause_keeps_the_later_end_and_no_burst() -> None:
    clock = FakeClock(exact=True)
    limiter = limiter_on(clock, 240)
    limiter.pause(20.0)
    clock.advance(5.0)
    limiter.pause(3.0)  # ends before the first pause: changes nothing
    limiter.acquire()
    limiter.acquire()
    assert clock.now == pytest.approx(1020.25)


def test_the_bucket_refills_again_after_a_pause() -> None:
    clock = FakeClock(exact=True)
    limiter = limiter_on(clock, 240)
    limiter.pause(10.0)
    limiter.acquire()
    clock.advance(60.0)  # idle long after the pause: the burst is back
    for _ in range(10):
        assert limiter.acquire() == 0.0


def test_pause_holds_back_every_caller() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock, 240)
    limiter.acquire()
    limiter.pause(12.0)
    stamps = []
    for _ in range(5):
        limiter.acquire()
        stamps.append(clock.now)
    assert min(stamps) >= 1012.0 - 1e-9


def test_a_shorter_pause_does_not_shorten_a_longer_one() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock, 240)
    limiter.pause(20.0)
    clock.advance(5.0)
    limiter.pause(1.0)
    limiter.acquire()
    assert clock.now >= 1020.0 - 1e-9


def test_a_longer_pause_extends_the_hold() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock, 240)
    limiter.pause(5.0)
    clock.advance(2.0)
    limiter.pause(10.0)
    limiter.acquire()
    assert clock.now >= 1012.0 - 1e-9


class SteppedClock:
    """A clock that threads sleep on for real until the test moves it forward.

    ``sleep`` blocks its thread until the clock reaches the wake-up time, so the test decides
    when a pause has passed and no outcome depends on how fast the machine schedules threads.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.done: list[int] = []
        self._wakes: list[float] = []
        self._cond = threading.Condition()

    def __call__(self) -> float:
        with self._cond:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._cond:
            wake = self.now + seconds
            self._wakes.append(wake)
            self._cond.notify_all()
            self._cond.wait_for(lambda: self.now >= wake)
            self._wakes.remove(wake)

    def advance(self, seconds: float) -> None:
        with self._cond:
            self.now += seconds
            self._cond.notify_all()

    def finished(self, i: int) -> None:
        with self._cond:
            self.done.append(i)
            self._cond.notify_all()

    def settle(self, asleep: int, done: int) -> None:
        """Block until ``asleep`` threads sleep into the future and ``done`` have finished.

        The timeout is a hang guard, not a measure: the state is reached however slowly the
        threads run, and no thread can leave the state before the clock moves again.
        """

        def reached() -> bool:
            waiting = sum(1 for wake in self._wakes if wake > self.now)
            return waiting == asleep and len(self.done) == done

        with self._cond:
            assert self._cond.wait_for(reached, timeout=60), (self._wakes, self.now, self.done)


def _acquire_in_threads(
    limiter: RateLimiter, clock: SteppedClock, n: int
) -> list[threading.Thread]:
    def worker(i: int) -> None:
        limiter.acquire()
        clock.finished(i)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    return threads


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=120)  # a hang guard: the threads have nothing left to wait for
        assert not thread.is_alive()


def test_pause_blocks_threads_that_arrive_during_it() -> None:
    """Threads that call acquire() during a pause all wait it out, however late they run."""
    clock = SteppedClock()
    limiter = RateLimiter(60, burst=10, clock=clock, sleep=clock.sleep)
    # Steps are binary fractions, so the clock lands exactly on the pause's end.
    limiter.pause(0.5)
    threads = _acquire_in_threads(limiter, clock, 6)
    clock.settle(asleep=6, done=0)
    clock.advance(0.25)  # the pause is not over: each thread sleeps again for the rest
    clock.settle(asleep=6, done=0)
    clock.advance(0.25)  # the pause ends: one goes at once, not the full burst of 10
    clock.settle(asleep=5, done=1)
    for finished in range(2, 7):  # the rest at the steady rate, one a second
        clock.advance(1.0)
        clock.settle(asleep=6 - finished, done=finished)
    _join(threads)


def test_pause_blocks_threads_already_waiting() -> None:
    """Threads asleep waiting for the bucket when a 429 pauses it wake into the pause."""
    clock = SteppedClock()
    limiter = RateLimiter(60, burst=1, clock=clock, sleep=clock.sleep)
    limiter.acquire()  # the only token: the next callers wait a second for a refill
    threads = _acquire_in_threads(limiter, clock, 3)
    clock.settle(asleep=3, done=0)
    limiter.pause(8.0)
    clock.advance(1.0)  # the refill they waited for comes, but the pause holds them
    clock.settle(asleep=3, done=0)
    clock.advance(6.5)
    clock.settle(asleep=3, done=0)
    clock.advance(0.5)  # the pause ends: one goes at once, the rest at one a second
    clock.settle(asleep=2, done=1)
    clock.advance(1.0)
    clock.settle(asleep=1, done=2)
    clock.advance(1.0)
    clock.settle(asleep=0, done=3)
    _join(threads)


# -- threads --------------------------------------------------------------------------------


def test_thread_safe_total_and_rate() -> None:
    per_minute = 600_000  # 10,000 a second
    limiter = RateLimiter(per_minute, burst=50)
    threads_n, each = 8, 250
    expected = threads_n * each
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(each):
                limiter.acquire()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)  # a hang guard; the assertions below are lower bounds
    elapsed = time.monotonic() - started

    assert not errors
    assert limiter.total == expected
    assert limiter.used_last_minute() == expected
    # No token was handed out twice: the run cannot beat the bucket's own schedule.
    minimum = (expected - limiter.capacity) / limiter.rate
    assert elapsed >= minimum * 0.95


# -- retry_waits ----------------------------------------------------------------------------


class EdgeRandom(random.Random):
    """Returns one end of every ``uniform`` range, to check the bounds exactly."""

    def __init__(self, high: bool) -> None:
        super().__init__(0)
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


def started_waits(**kwargs: object) -> object:
    gen = retry_waits(**kwargs)  # type: ignore[arg-type]
    assert next(gen) == 0.0  # backoff's initialising send(None)
    return gen


CEILINGS = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 120.0, 120.0, 120.0, 120.0, 120.0]


@pytest.mark.parametrize("high", [True, False])
def test_retry_waits_capped_exponential_edges(high: bool) -> None:
    gen = started_waits(rng=EdgeRandom(high))
    waits = [gen.send(RetriableError("x")) for _ in CEILINGS]  # type: ignore[attr-defined]
    expected = CEILINGS if high else [c / 2 for c in CEILINGS]
    assert waits == expected


def test_retry_waits_custom_base_factor_cap() -> None:
    gen = started_waits(base=0.5, factor=3.0, cap=10.0, rng=EdgeRandom(high=True))
    waits = [gen.send(None) for _ in range(5)]  # type: ignore[attr-defined]
    assert waits == [0.5, 1.5, 4.5, 10.0, 10.0]


@pytest.mark.parametrize("seed", range(5))
def test_retry_waits_jitter_stays_in_range(seed: int) -> None:
    gen = started_waits(cap=60.0, rng=random.Random(seed))
    waits = [gen.send(RetriableError("x")) for _ in range(40)]  # type: ignore[attr-defined]
    for attempt, wait in enumerate(waits):
        ceiling = min(60.0, 2.0**attempt)
        assert ceiling / 2 <= wait <= ceiling
    assert len(set(waits)) > 30  # jittered, not a fixed schedule
    assert max(waits) <= 60.0


@pytest.mark.parametrize("retry_after", [0.0, 0.5, 3.0, 30.0, 119.0, 500.0, 3600.0])
@pytest.mark.parametrize("seed", range(3))
def test_retry_waits_never_shorter_than_retry_after(retry_after: float, seed: int) -> None:
    gen = started_waits(cap=120.0, rng=random.Random(seed))
    for attempt in range(12):
        wait = gen.send(RetriableError("429", retry_after=retry_after))  # type: ignore[attr-defined]
        assert wait >= retry_after, attempt
        # A little jitter on top, at most 1 s (or 10 % + 0.1 s for short waits).
        assert wait <= retry_after + min(1.0, 0.1 * retry_after + 0.1)


def test_retry_after_is_not_capped_but_later_waits_are() -> None:
    gen = started_waits(cap=10.0, rng=EdgeRandom(high=True))
    assert gen.send(RetriableError("a")) == 1.0  # type: ignore[attr-defined]
    assert gen.send(RetriableError("b", retry_after=300)) == 301.0  # type: ignore[attr-defined]
    # The exponential schedule carried on counting underneath the Retry-After.
    assert gen.send(RetriableError("c")) == 4.0  # type: ignore[attr-defined]
    assert gen.send(ValueError("no retry_after attribute")) == 8.0  # type: ignore[attr-defined]
    assert gen.send(RetriableError("d", retry_after=None)) == 10.0  # type: ignore[attr-defined]


def test_retry_waits_drive_backoff_retry_context() -> None:
    """Through the real ``backoff`` loop, as the client uses it (``jitter=None``)."""
    failures = [RetriableError("503"), RetriableError("429", retry_after=0.05)]
    waits: list[float] = []
    tries = 0
    for attempt in backoff.retry_context(
        RetriableError,
        retry_waits,
        max_tries=5,
        jitter=None,
        logger=None,
        on_backoff=lambda details: waits.append(details["wait"]),
        base=0.002,
        cap=0.004,
    ):
        with attempt:
            tries += 1
            if failures:
                raise failures.pop(0)
    assert tries == 3
    assert len(waits) == 2
    assert 0.001 <= waits[0] <= 0.002
    assert 0.05 <= waits[1] <= 0.05 + 0.105


@pytest.mark.parametrize("burst", [0, -3])
def test_burst_below_one_still_holds_one_token(burst: int) -> None:
    clock = FakeClock()

    def guarded_sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) > 1000:
            raise RuntimeError("acquire() never returned")

    limiter = RateLimiter(60, burst=burst, clock=clock, sleep=guarded_sleep)
    assert limiter.capacity == 1.0
    assert limiter.acquire() == 0.0
    assert limiter.acquire() == pytest.approx(1.0)
    assert clock.now == pytest.approx(1001.0)


def test_acquire_terminates_on_an_exact_fake_clock() -> None:
    clock = FakeClock(1000.0, exact=True)

    def guarded_sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) > 10_000:
            raise RuntimeError(f"acquire() is spinning: last delay {seconds!r}")

    limiter = RateLimiter(300, clock=clock, sleep=guarded_sleep)
    for _ in range(50):
        limiter.acquire()
    assert clock.now == pytest.approx(1000.0 + (50 - limiter.capacity) * 0.2)
