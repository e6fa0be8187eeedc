"""Progress: the per-run counters, the progress lines every 30 s and the closing summary."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Protocol

from tap_genesys_analytics.windows import DateWindow

LOGGER = logging.getLogger("tap-genesys-analytics")
PROGRESS_SECONDS = 30.0


class Limiter(Protocol):
    """What a progress line tells of the shared rate limiter."""

    per_minute: int
    #: Requests made and seconds spent waiting for the budget, so far.
    total: int
    waited: float

    def used_last_minute(self) -> int:
        """Requests made in the last 60 s."""
        ...


@dataclasses.dataclass
class RunCounters:
    """What a run did beyond reading each chunk once: the stream's closing summary line."""

    emitted: int = 0
    rereads: int = 0
    extra_jobs: int = 0
    accepted_below: int = 0
    largest_gap: int = 0
    live_emitted: int = 0
    refreshed: int = 0
    #: Refreshed records that had ended, emitted in the version a job read (with attributes).
    final_by_job: int = 0
    deferred_days: int = 0
    short_unsplittable: int = 0

    def summary(self) -> str:
        """One sentence for the log: re-reads, approximate counts and live conversations."""
        return (
            f"{self.rereads} window(s) read again after a short count, costing "
            f"{self.extra_jobs} extra job submission(s); {self.accepted_below} window(s) "
            f"accepted below the API's approximate count, largest gap {self.largest_gap}; "
            f"{self.live_emitted} record(s) emitted while still live, {self.refreshed} fetched "
            f"again by id ({self.final_by_job} ended one(s) read by job, with their attributes); "
            f"{self.deferred_days} day(s) left to a later run; "
            f"{self.short_unsplittable} window(s) short of the API's count"
        )


class Progress:
    """Chunk n of m, records, rate, the limiter's use and an ETA, in the log."""

    def __init__(self, label: str, counters: RunCounters, limiter: Limiter) -> None:
        self.label = label
        self.counters = counters
        self.limiter = limiter
        self.started = time.monotonic()
        self.last = self.started
        self.chunk_no = 0
        self.chunk_total = 0

    def maybe_log(self) -> None:
        """A progress line when the last one is ``PROGRESS_SECONDS`` old."""
        now = time.monotonic()
        if now - self.last >= PROGRESS_SECONDS:
            self.last = now
            self._log("progress")

    def chunk_done(self, chunk: DateWindow, records: int, started: float) -> None:
        """The line for a finished chunk, then the running total."""
        LOGGER.info(
            "%s: chunk %d of %d (%s) done: %d records in %.1f s",
            self.label,
            self.chunk_no,
            self.chunk_total,
            chunk.interval,
            records,
            time.monotonic() - started,
        )
        self.last = time.monotonic()
        self._log("total")

    def _log(self, what: str) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        emitted = self.counters.emitted
        done = max(self.chunk_no - 1, 0) + (1 if what == "total" else 0)
        remaining = self.chunk_total - done
        eta = elapsed / done * remaining if done else float("nan")
        LOGGER.info(
            "%s %s: chunk %d of %d, %d records, %.0f records/s, %d of %d requests used in the "
            "last minute (%d in all, %.0f s waited for the budget), ETA %s",
            self.label,
            what,
            self.chunk_no,
            self.chunk_total,
            emitted,
            emitted / elapsed,
            self.limiter.used_last_minute(),
            self.limiter.per_minute,
            self.limiter.total,
            self.limiter.waited,
            "unknown" if eta != eta else f"{eta:.0f} s",  # noqa: PLR0124 - NaN check
        )
