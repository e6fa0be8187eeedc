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
import itertools
import logging
import time
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from tap_genesys_analytics.client import Page
from tap_genesys_analytics.dedup import Deduplicator
from tap_genesys_analytics.errors import ExtractionError, GenesysError, StateError
from tap_genesys_analytics.jobs import JobLostError, JobsAPI, PageSizeRefusedError
from tap_genesys_analytics.query import DetailsQuery
from tap_genesys_analytics.settings import Settings
from tap_genesys_analytics.windows import (
    DateWindow,
    floor_day,
    iso,
    parse_interval,
    parse_iso,
    plan_chunks,
)

LOGGER = logging.getLogger("tap-genesys-analytics")
SUB_DAY_HOURS = (12, 6, 3, 1)
PROGRESS_SECONDS = 30.0
#: What this runner keeps in a stream's bookmark, and what the SDK may add beside it.
STATE_KEYS = frozenset({"watermark", "run", "chunk", "data_availability"})
SDK_STATE_KEYS = frozenset(
    {"replication_key", "replication_key_value", "progress_markers", "starting_replication_value"}
)
QUERY_SWEEPS = 3
MIN_PAGE_SIZE = 100

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
    #: False for a record that is not final yet (a conversation still live): it is counted but
    #: not emitted, and the watermark stays before it so a later run picks it up.
    is_final: Callable[[Record], bool] = lambda _record: True
    #: Applied to each record first, with the window its job covered: for records that carry
    #: no interval of their own (user details summarise the window they were asked for).
    transform: Callable[[Record, DateWindow], Record] | None = None
    #: False when a record summarises its whole window: records of smaller windows are other
    #: records, so a short count fails the chunk instead of re-reading it in pieces.
    splittable: bool = True


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
        self.splits = 0
        self._ahead: dict[str, str] = {}
        self._started = time.monotonic()
        self._last_progress = self._started
        self._chunk_no = 0
        self._chunk_total = 0
        self._range: DateWindow | None = None
        #: Lowered when the API refuses the configured page size (its maximum is undocumented).
        self.page_size = settings.page_size
        self._hold: dt.datetime | None = None
        self.live_skipped = 0

    # -- the run -----------------------------------------------------------------------------

    def plan(
        self,
        start_date: dt.datetime,
        end: dt.datetime,
        availability: dt.datetime | None,
    ) -> tuple[DateWindow | None, dt.datetime]:
        """Decide this run's range and where the query takes over from jobs.

        An unfinished run (``state["run"]`` present) is resumed with its own range from the
        watermark; a new run starts ``lookback_days`` before min(bookmark, last availability seen).
        Jobs serve whole days before the availability day; the details query serves the rest.
        """
        check_state(self.state, self.spec.label)
        run = self.state.get("run")
        watermark = self.state.get("watermark")
        if run and watermark:
            start = parse_iso(str(watermark))
            end = parse_iso(str(run["end"]))
            query_from = parse_iso(str(run["query_from"]))
            LOGGER.info("%s: resuming an interrupted run at %s", self.spec.label, watermark)
        else:
            start = start_date
            if watermark:
                base = parse_iso(str(watermark))
                seen = self.state.get("data_availability")
                if seen:
                    base = min(base, parse_iso(str(seen)))
                start = max(start_date, base - dt.timedelta(days=self.settings.lookback_days))
            query_from = end if availability is None else max(start, floor_day(availability))
            query_from = min(query_from, end)
            if availability is not None:
                self.state["data_availability"] = iso(availability)
            if start < end:
                self.state["run"] = {
                    "start": iso(start),
                    "end": iso(end),
                    "query_from": iso(query_from),
                }
                self.state["watermark"] = iso(start)
        if start >= end:
            return None, end
        return DateWindow(start, end), query_from

    def run(
        self,
        start_date: dt.datetime,
        end: dt.datetime,
        *,
        availability: dt.datetime | None = None,
        query: DetailsQuery | None = None,
    ) -> Iterator[Record]:
        """Yield every final record that started in the run's range, each once per run."""
        window, query_from = self.plan(start_date, end, availability if query else None)
        if window is None:
            LOGGER.info("%s: nothing to extract before %s", self.spec.label, iso(end))
            return
        self._range = window
        chunks: list[tuple[DateWindow, bool]] = []
        if window.start < query_from:
            job_part = plan_chunks(window.start, query_from, self.settings.chunk_days)
            chunks += [(c, False) for c in job_part]
        if query_from < window.end and query is not None:
            chunks += [(c, True) for c in plan_chunks(query_from, window.end, 1)]
        job_chunks = [c for c, by_query in chunks if not by_query]
        self._chunk_total = len(chunks)
        LOGGER.info(
            "%s: extracting %s in %d chunk(s): %d by async jobs (up to %d days each), %d by the "
            "details query (data newer than the jobs' availability date %s)",
            self.spec.label,
            window.interval,
            len(chunks),
            len(job_chunks),
            self.settings.chunk_days,
            len(chunks) - len(job_chunks),
            iso(query_from) if query is not None else "n/a",
        )
        try:
            for number, (chunk, by_query) in enumerate(chunks, start=1):
                self._chunk_no = number
                ahead = job_chunks[job_chunks.index(chunk) + 1 :] if not by_query else []
                self._submit_ahead(ahead[: self.settings.max_jobs_in_flight - 1])
                before = self.emitted
                chunk_started = time.monotonic()
                if by_query:
                    assert query is not None  # noqa: S101 - by_query implies a query
                    yield from self._query_chunk(chunk, query)
                else:
                    yield from self._extract_chunk(chunk)
                self._advance(min(chunk.end, window.end))
                self._log_chunk_done(chunk, self.emitted - before, chunk_started)
        finally:
            for job_id in self._ahead.values():
                self.spec.jobs.delete(job_id)
            self._ahead.clear()
        self.state.pop("run", None)
        self.save_state()

    def _advance(self, position: dt.datetime) -> None:
        """Move the watermark to ``position``, but never past a conversation still live."""
        if self._hold is not None:
            position = min(position, self._hold)
        self.state["watermark"] = iso(position)
        self.state.pop("chunk", None)
        self.save_state()

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
        is_final = self.spec.is_final
        transform = self.spec.transform
        pages = int((self.state.get("chunk") or {}).get("pages", 0))
        while True:
            page = Page()
            try:
                results = self.spec.jobs.results(
                    job_id, cursor=cursor, page_size=self.page_size, page=page, context=context
                )
                first = next(results, None)
            except PageSizeRefusedError as exc:
                if self.page_size <= MIN_PAGE_SIZE:
                    raise
                self.page_size = max(MIN_PAGE_SIZE, self.page_size // 2)
                LOGGER.warning("%s; asking for pages of %d from now on", exc, self.page_size)
                continue
            for raw in itertools.chain(() if first is None else (first,), results):
                record = raw if transform is None else transform(raw, window)
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
                if not is_final(record):
                    self._hold_for(started)
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

    def _query_chunk(self, chunk: DateWindow, query: DetailsQuery) -> Iterator[Record]:
        """Page one day of the details query; re-read it when records shifted between pages."""
        assert self._range is not None  # noqa: S101 - set by run()
        self.dedup.reset()
        self.counts = collections.Counter()
        saved = self.state.get("chunk") or {}
        page_number = 1
        if saved.get("interval") == chunk.interval and saved.get("source") == "query":
            page_number = int(saved.get("page", 0)) + 1
            LOGGER.info(
                "%s: resuming query %s at page %d", self.spec.label, chunk.interval, page_number
            )
        self.state["chunk"] = {
            "interval": chunk.interval,
            "source": "query",
            "page": page_number - 1,
        }
        emit_window = self._range
        expected = 0
        for sweep in range(1, QUERY_SWEEPS + 1):
            while True:
                page = Page()
                for record in query.page(chunk, page_number, page):
                    started = self.spec.start_of(record)
                    if started is None or not chunk.contains_text(started):
                        continue
                    if not self.dedup.first_time(self.spec.key(record)):
                        continue
                    self.counts[started[:10]] += 1
                    if not emit_window.contains_text(started):
                        continue
                    if not self.spec.is_final(record):
                        self._hold_for(started)
                        continue
                    self.emitted += 1
                    yield record
                expected = int(page.scalars.get("totalHits") or 0)
                self.state["chunk"]["page"] = page_number
                self.save_state()
                self._maybe_log_progress()
                if page.records < self.settings.query_page_size or (
                    page_number * self.settings.query_page_size >= expected
                ):
                    break
                page_number += 1
            got = self._counted(chunk)
            if self._complete(expected, got):
                return
            LOGGER.warning(
                "%s query %s: %d of %d records after sweep %d (live data moved between pages); "
                "reading the day again",
                self.spec.label,
                chunk.interval,
                got,
                expected,
                sweep,
            )
            page_number = 1
        LOGGER.warning(
            "%s query %s: still %d of %d after %d sweeps; the bookmark stays before this day "
            "so the next run reads it again",
            self.spec.label,
            chunk.interval,
            self._counted(chunk),
            expected,
            QUERY_SWEEPS,
        )
        self._hold_at(chunk.start)

    def _hold_for(self, started: str | None) -> None:
        """A record is not final yet: keep the watermark at or before its start."""
        if started is None:
            return
        self.live_skipped += 1
        self._hold_at(parse_iso(started))

    def _hold_at(self, when: dt.datetime) -> None:
        """Keep the watermark at or before ``when`` for the rest of this run."""
        if self._hold is None or when < self._hold:
            self._hold = when

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
        if not self.spec.splittable:
            msg = (
                f"{self.spec.label} {window.interval}: the job returned {got} records, the API "
                f"counts {expected}. Nothing after this window was written; try again later, or "
                "raise count_tolerance if the difference is expected."
            )
            raise ExtractionError(msg)
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


def check_state(state: MutableMapping[str, Any], label: str) -> None:
    """Refuse a bookmark this tap did not write, before anything is requested."""
    unknown = sorted(set(state) - STATE_KEYS - SDK_STATE_KEYS)
    problem = f"unexpected key(s) {', '.join(unknown)}" if unknown else ""
    try:
        for key in ("watermark", "data_availability"):
            if state.get(key) is not None:
                parse_iso(str(state[key]))
        run = state.get("run")
        if run is not None:
            for key in ("start", "end", "query_from"):
                parse_iso(str(run[key]))
        chunk = state.get("chunk")
        if chunk is not None:
            parse_interval(str(chunk["interval"]))
    except (KeyError, TypeError, ValueError) as exc:
        problem = problem or f"unreadable value ({type(exc).__name__}: {exc})"
    if problem:
        msg = (
            f"the STATE for stream {label} is not one this tap wrote ({problem}); "
            "remove it (meltano state clear) or run with --full-refresh"
        )
        raise StateError(msg)
