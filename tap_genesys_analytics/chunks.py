"""The chunk runner: date chunks → jobs → cursor pages → records, with state after every page.

It owns the extraction algorithm and nothing Singer-specific: the stream hands it a mutable
state dict and a ``save_state`` callback (which writes a STATE message). The state is small:

``{"watermark": <ISO>, "chunk": {"interval", "job_id", "cursor", "pages", "counts", "phase"}}``

* ``watermark``: everything that started before it is extracted and verified.
* ``chunk``: the chunk in progress, its job and the cursor of the next page; ``counts`` holds the
  unique records seen per UTC day, for the completeness check.

Algorithm per chunk (UTC-day aligned, ``chunk_days`` long): run a job with
``startOfDayIntervalMatching``; page it by cursor; drop repeats by key; then compare the unique
count with the details query's ``totalHits``. Short by more than the tolerance → halve the window
(down to one day) and run again; a short single day is re-read in 12, 6, 3 and 1-hour jobs
(lifetime-overlap matching, records filtered to the window). Still short → ExtractionError.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from tap_genesys_analytics.client import Page
from tap_genesys_analytics.dedup import Deduplicator
from tap_genesys_analytics.errors import ExtractionError, GenesysError
from tap_genesys_analytics.jobs import JobLostError, JobsAPI
from tap_genesys_analytics.settings import Settings
from tap_genesys_analytics.windows import (
    DateWindow,
    iso,
    parse_interval,
    parse_iso,
    plan_chunks,
)

LOGGER = logging.getLogger("tap-genesys-analytics")
SUB_DAY_HOURS = (12, 6, 3, 1)
PROGRESS_SECONDS = 30.0

Record = dict[str, Any]


@dataclasses.dataclass
class ExtractSpec:
    """What the runner needs to know about one kind of record."""

    jobs: JobsAPI
    key: Callable[[Record], str]
    start_of: Callable[[Record], str | None]
    job_body: Callable[[DateWindow, bool], dict[str, Any]]
    expected_count: Callable[[DateWindow], int] | None
    label: str


class ChunkRunner:
    """Extracts ``[start, end)`` chunk by chunk, resuming from and saving to ``state``."""

    def __init__(
        self,
        spec: ExtractSpec,
        settings: Settings,
        state: MutableMapping[str, Any],
        save_state: Callable[[], None],
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.state = state
        self.save_state = save_state
        self.dedup = Deduplicator()
        self.counts: collections.Counter[str] = collections.Counter()
        self.emitted = 0
        self.reread = 0
        self.splits = 0
        self._ahead: dict[str, str] = {}
        self._started = time.monotonic()
        self._last_progress = self._started
        self._chunk_no = 0
        self._chunk_total = 0
        self._range: DateWindow | None = None

    # -- the run -----------------------------------------------------------------------------

    def run(self, start: dt.datetime, end: dt.datetime) -> Iterator[Record]:
        """Yield every record that started in ``[start, end)``, each once."""
        watermark = self.state.get("watermark")
        if watermark:
            start = max(start, parse_iso(str(watermark)))
        if start >= end:
            LOGGER.info("%s: nothing to extract before %s", self.spec.label, iso(end))
            return
        self._range = DateWindow(start, end)
        chunks = list(plan_chunks(start, end, self.settings.chunk_days))
        self._chunk_total = len(chunks)
        LOGGER.info(
            "%s: extracting %s in %d chunk(s) of up to %d day(s)",
            self.spec.label,
            self._range.interval,
            len(chunks),
            self.settings.chunk_days,
        )
        try:
            for number, chunk in enumerate(chunks, start=1):
                self._chunk_no = number
                self._submit_ahead(chunks[number : number + self.settings.max_jobs_in_flight - 1])
                before = self.emitted
                chunk_started = time.monotonic()
                yield from self._extract_chunk(chunk)
                self.state["watermark"] = iso(min(chunk.end, end))
                self.state.pop("chunk", None)
                self.save_state()
                self._log_chunk_done(chunk, self.emitted - before, chunk_started)
        finally:
            for job_id in self._ahead.values():
                self.spec.jobs.delete(job_id)
            self._ahead.clear()

    def _extract_chunk(self, chunk: DateWindow) -> Iterator[Record]:
        self.dedup.reset()
        self.counts = collections.Counter()
        saved = self.state.get("chunk") or {}
        job_id: str | None = None
        cursor: str | None = None
        if saved.get("interval") == chunk.interval and saved.get("phase") == "main":
            job_id = saved.get("job_id")
            cursor = saved.get("cursor")
            self.counts.update({str(k): int(v) for k, v in (saved.get("counts") or {}).items()})
            LOGGER.info(
                "%s: resuming chunk %s at page %s of job %s",
                self.spec.label,
                chunk.interval,
                int(saved.get("pages", 0)) + 1,
                job_id,
            )
        elif saved.get("interval") == chunk.interval:
            LOGGER.info(
                "%s: chunk %s was interrupted while being re-checked; reading it again",
                self.spec.label,
                chunk.interval,
            )
        self.state["chunk"] = {"interval": chunk.interval, "phase": "main", "pages": 0}
        yield from self._run_window(chunk, chunk, start_of_day=True, job_id=job_id, cursor=cursor)
        yield from self._verify(chunk, chunk)

    # -- one window: job(s) and pages ------------------------------------------------------

    def _run_window(
        self,
        chunk: DateWindow,
        window: DateWindow,
        *,
        start_of_day: bool,
        job_id: str | None = None,
        cursor: str | None = None,
    ) -> Iterator[Record]:
        """Run a job for ``window`` to its last page, submitting it again when it is lost."""
        context = f"{self.spec.label} {window.interval}"
        attempts = 0
        resumed = job_id is not None
        while True:
            attempts += 1
            if job_id is None:
                job_id = self._ahead.pop(window.interval, None) if start_of_day else None
                if job_id is None:
                    body = self.spec.job_body(window, start_of_day)
                    job_id = self.spec.jobs.submit(body, context=context)
                cursor = None
                self._save_chunk(job_id=job_id, cursor=None, pages=0)
            try:
                if not resumed:
                    self.spec.jobs.wait(
                        job_id,
                        context=context,
                        poll_max=self.settings.job_poll_max_seconds,
                        timeout=self.settings.job_timeout_minutes * 60,
                    )
                yield from self._pages(chunk, window, job_id, cursor, context)
            except JobLostError as exc:
                if attempts >= self.settings.job_max_attempts:
                    msg = (
                        f"{context}: gave up after {attempts} job submissions; last: {exc}. "
                        "Try again later or lower chunk_days."
                    )
                    raise ExtractionError(msg) from None
                LOGGER.warning("%s; submitting the window again (%d so far)", exc, attempts)
                if resumed:
                    LOGGER.info(
                        "%s: the saved job can no longer be read; the window is read again "
                        "and records before the saved cursor are emitted again",
                        context,
                    )
                job_id = None
                resumed = False
                continue
            self.spec.jobs.delete(job_id)
            return

    def _pages(
        self,
        chunk: DateWindow,
        window: DateWindow,
        job_id: str,
        cursor: str | None,
        context: str,
    ) -> Iterator[Record]:
        assert self._range is not None  # noqa: S101 - set by run()
        emit_window = self._range
        key = self.spec.key
        start_of = self.spec.start_of
        pages = int((self.state.get("chunk") or {}).get("pages", 0))
        while True:
            page = Page()
            for record in self.spec.jobs.results(
                job_id,
                cursor=cursor,
                page_size=self.settings.page_size,
                page=page,
                context=context,
            ):
                started = start_of(record)
                if started is None:
                    if not self.dedup.first_time(key(record)):
                        continue
                elif not window.contains_text(started) or not self.dedup.first_time(key(record)):
                    continue
                if started is not None:
                    self.counts[started[:10]] += 1
                    if not emit_window.contains_text(started):
                        continue
                self.emitted += 1
                yield record
            pages += 1
            next_cursor = page.scalars.get("cursor")
            if next_cursor:
                cursor = str(next_cursor)
                self._save_chunk(job_id=job_id, cursor=cursor, pages=pages)
                self._maybe_log_progress()
                continue
            # The last page: the chunk's position stays on the last good cursor until verified.
            self._save_chunk(job_id=job_id, cursor=cursor, pages=pages, done=True)
            return

    # -- completeness ------------------------------------------------------------------------

    def _verify(self, chunk: DateWindow, window: DateWindow) -> Iterator[Record]:
        """Compare unique counts with the API's; re-read smaller windows when short."""
        if self.spec.expected_count is None:
            return
        expected = self.spec.expected_count(window)
        got = self._counted(window)
        if self._complete(expected, got):
            LOGGER.info(
                "%s %s: %d of %d records (complete)",
                self.spec.label,
                window.interval,
                got,
                expected,
            )
            return
        self.splits += 1
        self._mark_checking()
        if len(window.days) >= 2:
            halves = window.halves()
            LOGGER.warning(
                "%s %s: the job returned %d records, the API counts %d; splitting into %s",
                self.spec.label,
                window.interval,
                got,
                expected,
                " and ".join(h.interval for h in halves),
            )
            for half in halves:
                yield from self._run_window(chunk, half, start_of_day=True)
                yield from self._verify(chunk, half)
            return
        for hours in SUB_DAY_HOURS:
            LOGGER.warning(
                "%s %s: %d of %d records; reading the day again in %d-hour windows",
                self.spec.label,
                window.interval,
                got,
                expected,
                hours,
            )
            step = dt.timedelta(hours=hours)
            piece_start = window.start
            while piece_start < window.end:
                piece = DateWindow(piece_start, min(piece_start + step, window.end))
                yield from self._run_window(chunk, piece, start_of_day=False)
                piece_start = piece.end
            got = self._counted(window)
            if self._complete(expected, got):
                LOGGER.info(
                    "%s %s: %d of %d records after %d-hour windows",
                    self.spec.label,
                    window.interval,
                    got,
                    expected,
                    hours,
                )
                return
        msg = (
            f"{self.spec.label} {window.interval}: the API counts {expected} records but only "
            f"{got} could be read, even in 1-hour windows. Nothing after this day was written; "
            "try again later, or raise count_tolerance if the difference is expected."
        )
        raise ExtractionError(msg)

    def _complete(self, expected: int, got: int) -> bool:
        allowed = int(expected * self.settings.count_tolerance)
        return got + allowed >= expected

    def _counted(self, window: DateWindow) -> int:
        return sum(self.counts[day.isoformat()] for day in window.days)

    # -- state and logs ----------------------------------------------------------------------

    def _save_chunk(
        self, *, job_id: str, cursor: str | None, pages: int, done: bool = False
    ) -> None:
        chunk = self.state.setdefault("chunk", {})
        chunk.update(
            {
                "job_id": job_id,
                "cursor": cursor,
                "pages": pages,
                "counts": dict(sorted(self.counts.items())),
            }
        )
        if done:
            chunk["phase"] = "verify" if chunk.get("phase") == "main" else chunk.get("phase")
        self.save_state()

    def _mark_checking(self) -> None:
        self.state.setdefault("chunk", {})["phase"] = "split"

    def _submit_ahead(self, upcoming: list[DateWindow]) -> None:
        """Pipelining: the next chunks' jobs run on the server while this chunk is paged."""
        for window in upcoming:
            if window.interval in self._ahead:
                continue
            body = self.spec.job_body(window, True)
            context = f"{self.spec.label} {window.interval}"
            try:
                self._ahead[window.interval] = self.spec.jobs.submit(body, context=context)
            except GenesysError as exc:
                # Only an optimisation: the chunk submits its own job when its turn comes.
                LOGGER.warning("Could not submit the job for %s ahead: %s", context, exc)
                return

    def _maybe_log_progress(self) -> None:
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_SECONDS:
            self._last_progress = now
            self._log_progress("progress")

    def _log_chunk_done(self, chunk: DateWindow, records: int, started: float) -> None:
        LOGGER.info(
            "%s: chunk %d of %d (%s) done: %d records in %.1f s",
            self.spec.label,
            self._chunk_no,
            self._chunk_total,
            chunk.interval,
            records,
            time.monotonic() - started,
        )
        self._last_progress = time.monotonic()
        self._log_progress("total")

    def _log_progress(self, what: str) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = self.emitted / elapsed
        done = max(self._chunk_no - 1, 0) + (1 if what == "total" else 0)
        remaining = self._chunk_total - done
        eta = elapsed / done * remaining if done else float("nan")
        limiter = self.spec.jobs.client.limiter
        LOGGER.info(
            "%s %s: chunk %d of %d, %d records, %.0f records/s, %d of %d requests used in the "
            "last minute, ETA %s",
            self.spec.label,
            what,
            self._chunk_no,
            self._chunk_total,
            self.emitted,
            rate,
            limiter.used_last_minute(),
            limiter.per_minute,
            "unknown" if eta != eta else f"{eta:.0f} s",  # noqa: PLR0124 - NaN check
        )


def chunk_interval(state: MutableMapping[str, Any]) -> DateWindow | None:
    """The interval of the chunk in progress in ``state``, if any (for logs and checks)."""
    chunk = state.get("chunk") or {}
    interval = chunk.get("interval")
    return parse_interval(str(interval)) if interval else None
