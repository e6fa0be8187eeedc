"""The chunk runner: date chunks → jobs → cursor pages → records, with state after every page.

It owns the extraction algorithm and nothing Singer-specific: the stream hands it a mutable
state dict and a ``save_state`` callback (which writes a STATE message). The state is small:

``{"watermark", "run", "chunk": {"interval", "job_id", "cursor", "pages", "counts", "phase"},
"open": {conversationId: conversationStart}}``

* ``watermark``: everything that started before it is extracted and verified.
* ``chunk``: the chunk in progress, its job and the cursor of the next page; ``counts`` holds the
  unique records seen per UTC day, for the completeness check.
* ``open``: conversations emitted while still live, fetched again by id on later runs.

Algorithm per chunk (UTC-day aligned, ``chunk_days`` long): run a job with
``startOfDayIntervalMatching``; page it by cursor; drop repeats by key; then compare the unique
count with the details query's ``totalHits``, which is approximate. Short → read the window
again in halves (a single day: in 12-hour jobs). A re-read that finds no record the earlier
reads missed means the count is high: the window is accepted with a warning. A re-read that
does find new records goes on splitting, down to 1-hour jobs; only a 1-hour level that still
finds new records and is still short stops the run (ExtractionError).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import itertools
import logging
import time
from collections.abc import Callable, Generator, Hashable, Iterator, MutableMapping
from typing import Any

from tap_genesys_analytics.config.settings import Settings
from tap_genesys_analytics.errors import ExtractionError, GenesysError, StateError
from tap_genesys_analytics.extract.dedup import Deduplicator, compact_key
from tap_genesys_analytics.genesys.details import DetailsQuery, QueryDepthError
from tap_genesys_analytics.genesys.jobs import JobLostError, JobsAPI, JobState, PageSizeRefusedError
from tap_genesys_analytics.http.client import Page
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
    #: False for a record that is not final yet (a conversation still live): it is emitted as
    #: it is, and its key is kept in STATE so that later runs fetch it again by id.
    is_final: Callable[[Record], bool] = lambda _record: True
    #: Fetches records again by key (the details endpoint by id); needed when ``is_final``
    #: can be False, so that a record emitted live is emitted again once it is final.
    refresh: Callable[[list[str]], Iterator[Record]] | None = None
    #: Applied to each record first, with the window its job covered: for records that carry
    #: no interval of their own (user details summarise the window they were asked for).
    transform: Callable[[Record, DateWindow], Record] | None = None
    #: False when a record summarises its whole window: records of smaller windows are other
    #: records, so a short count is only warned about instead of re-reading it in pieces.
    splittable: bool = True
    #: How the job part of a run is cut into chunks; None cuts ``chunk_days`` from the run's start.
    plan: Callable[[dt.datetime, dt.datetime], list[DateWindow]] | None = None


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
    deferred_days: int = 0
    short_unsplittable: int = 0

    def summary(self) -> str:
        """One sentence for the log: re-reads, approximate counts and live conversations."""
        return (
            f"{self.rereads} window(s) read again after a short count, costing "
            f"{self.extra_jobs} extra job submission(s); {self.accepted_below} window(s) "
            f"accepted below the API's approximate count, largest gap {self.largest_gap}; "
            f"{self.live_emitted} record(s) emitted while still live, {self.refreshed} fetched "
            f"again by id; {self.deferred_days} day(s) left to a later run; "
            f"{self.short_unsplittable} window(s) short of the API's count"
        )


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
        self._save_state = save_state
        self.dedup = Deduplicator()
        self.counts: collections.Counter[str] = collections.Counter()
        self.counters = RunCounters()
        self._ahead: dict[str, str] = {}
        self._started = time.monotonic()
        self._last_progress = self._started
        self._chunk_no = 0
        self._chunk_total = 0
        self._range: DateWindow | None = None
        #: Live records that started before this are remembered for a later run; later ones
        #: fall inside the next run's lookback and are read again anyway.
        self._open_horizon = ""
        #: Lowered when the API refuses the configured page size (its maximum is undocumented).
        self.page_size = settings.page_size
        self._hold: dt.datetime | None = None
        self.open: dict[str, str] = dict(state.get("open") or {})
        #: While a short window is read again: every key its pieces returned, new or not.
        self._reread_keys: set[Hashable] | None = None

    @property
    def emitted(self) -> int:
        """Records emitted so far in this run."""
        return self.counters.emitted

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
        """Yield every record that started in the run's range, each once per run.

        First the conversations an earlier run emitted while live are fetched again by id.
        """
        window, query_from = self.plan(start_date, end, availability if query else None)
        if window is None:
            LOGGER.info("%s: nothing to extract before %s", self.spec.label, iso(end))
            return
        self._range = window
        horizon = window.end - dt.timedelta(days=self.settings.lookback_days)
        self._open_horizon = iso(horizon)[:19]
        yield from self._refresh_open(iso(window.start)[:19])
        chunks: list[tuple[DateWindow, bool]] = []
        if window.start < query_from:
            job_part = (
                self.spec.plan(window.start, query_from)
                if self.spec.plan is not None
                else plan_chunks(window.start, query_from, self.settings.chunk_days)
            )
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

    def save_state(self) -> None:
        """Write the bookmark, with the open conversations, as a STATE message."""
        if self.open:
            self.state["open"] = self.open
        else:
            self.state.pop("open", None)
        self._save_state()

    def _advance(self, position: dt.datetime) -> None:
        """Move the watermark to ``position``, but never past a day left to a later run."""
        if self._hold is not None:
            position = min(position, self._hold)
        self.state["watermark"] = iso(position)
        self.state.pop("chunk", None)
        self._bound_open()
        self.save_state()

    # -- live conversations ------------------------------------------------------------------

    def _refresh_open(self, before: str) -> Iterator[Record]:
        """Fetch again, by id, the records earlier runs emitted live and this run won't read."""
        run = self.state.get("run") or {}
        due = [key for key, started in self.open.items() if started[:19] < before]
        if self.spec.refresh is None or not due or run.get("refreshed"):
            return
        LOGGER.info(
            "%s: fetching %d conversation(s) that were live at an earlier run again by id",
            self.spec.label,
            len(due),
        )
        ended = gone = 0
        size = self.settings.open_conversations_per_request
        for offset in range(0, len(due), size):
            batch = due[offset : offset + size]
            found: set[str] = set()
            for record in self.spec.refresh(batch):
                key = self.spec.key(record)
                if key in found or key not in self.open:
                    continue
                found.add(key)
                if self.spec.is_final(record):
                    del self.open[key]
                    ended += 1
                self.counters.refreshed += 1
                self.counters.emitted += 1
                yield record
            for key in set(batch) - found:
                self.open.pop(key, None)
                gone += 1
            self.save_state()
        if run:
            run["refreshed"] = True
        LOGGER.info(
            "%s: %d of them have ended, %d are still live, %d are no longer served (forgotten)",
            self.spec.label,
            ended,
            len(due) - ended - gone,
            gone,
        )

    def _note_open(self, record: Record, key: str, started: str) -> None:
        """Remember a live record for a later run; forget one that has ended."""
        if self.spec.is_final(record):
            self.open.pop(key, None)
            return
        self.counters.live_emitted += 1
        if started[:19] < self._open_horizon:
            self.open[key] = started
        else:
            self.open.pop(key, None)

    def _bound_open(self) -> None:
        """Keep the list of open conversations within ``max_open_conversations``."""
        excess = len(self.open) - self.settings.max_open_conversations
        if excess <= 0:
            return
        oldest = sorted(self.open.items(), key=lambda item: item[1])[:excess]
        for key, _ in oldest:
            del self.open[key]
        LOGGER.warning(
            "%s: %d conversations are still live, more than max_open_conversations (%d): the "
            "%d oldest (started %s to %s) are no longer fetched again; the loaded rows keep "
            "their live version unless a later run's lookback reaches their start day",
            self.spec.label,
            len(self.open) + excess,
            self.settings.max_open_conversations,
            excess,
            oldest[0][1],
            oldest[-1][1],
        )

    # -- one record --------------------------------------------------------------------------

    def _admit(self, record: Record, window: DateWindow) -> bool:
        """The one record filter of both readers: window, dedup, day counts, live records.

        True when ``record`` is to be emitted: it started in ``window`` (or carries no start),
        has not been read before in this chunk, and started in the run's range.
        """
        started = self.spec.start_of(record)
        if started is not None and not window.contains_text(started):
            return False
        key = self.spec.key(record)
        if self._reread_keys is not None:
            self._reread_keys.add(compact_key(key))
        if not self.dedup.first_time(key):
            return False
        if started is None:
            self.counters.emitted += 1
            return True
        self.counts[started[:10]] += 1
        assert self._range is not None  # noqa: S101 - set by run()
        if not self._range.contains_text(started):
            return False
        if self.spec.refresh is not None:
            self._note_open(record, key, started)
        self.counters.emitted += 1
        return True

    # -- one chunk by jobs -------------------------------------------------------------------

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
                "%s: chunk %s was interrupted while being read again after a short count; "
                "reading it again from its first page (its records are emitted again)",
                self.spec.label,
                chunk.interval,
            )
        self.state["chunk"] = {"interval": chunk.interval, "phase": "main", "pages": 0}
        yield from self._run_window(chunk, start_of_day=True, job_id=job_id, cursor=cursor)
        yield from self._verify(chunk)

    def _run_window(
        self,
        window: DateWindow,
        *,
        start_of_day: bool,
        job_id: str | None = None,
        cursor: str | None = None,
        reread: bool = False,
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
                    self.counters.extra_jobs += int(reread)
                cursor = None
                self._save_chunk(job_id=job_id, cursor=None, pages=0)
            try:
                # A job saved in STATE may still be queued or running: check it in every case.
                self._wait(job_id, context)
                yield from self._pages(window, job_id, cursor, context)
            except JobLostError as exc:
                if attempts >= self.settings.job_max_attempts:
                    msg = (
                        f"{context}: gave up after {attempts} job submissions; last: {exc}. "
                        "Try again later or lower chunk_days."
                    )
                    raise ExtractionError(msg) from None
                LOGGER.warning("%s; submitting the window again (%d so far)", exc, attempts)
                if resumed:
                    # The saved counts were of pages this run did not see: the new job is
                    # read from its first page, so they start again.
                    for day in window.days:
                        self.counts.pop(day.isoformat(), None)
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

    def _wait(self, job_id: str, context: str) -> None:
        self.spec.jobs.wait(
            job_id,
            context=context,
            poll_max=self.settings.job_poll_max_seconds,
            timeout=self.settings.job_timeout_minutes * 60,
        )

    def _pages(
        self, window: DateWindow, job_id: str, cursor: str | None, context: str
    ) -> Iterator[Record]:
        admit = self._admit
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
                state, _ = self.spec.jobs.status(job_id, context=context)
                if state is not JobState.FULFILLED:
                    LOGGER.info("%s: job %s is %s; waiting for it", context, job_id, state.value)
                    self._wait(job_id, context)
                    continue
                if self.page_size <= MIN_PAGE_SIZE:
                    raise
                self.page_size = max(MIN_PAGE_SIZE, self.page_size // 2)
                LOGGER.warning("%s; asking for pages of %d from now on", exc, self.page_size)
                continue
            for raw in itertools.chain(() if first is None else (first,), results):
                record = raw if transform is None else transform(raw, window)
                if admit(record, window):
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

    # -- one day by the details query --------------------------------------------------------

    def _query_chunk(self, chunk: DateWindow, query: DetailsQuery) -> Iterator[Record]:
        """Page one day of the details query; re-read it when records shifted between pages."""
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
        expected = 0
        before = 0
        admit = self._admit
        for sweep in range(1, QUERY_SWEEPS + 1):
            try:
                while True:
                    page = Page()
                    for record in query.page(chunk, page_number, page):
                        if admit(record, chunk):
                            yield record
                    expected = int(page.scalars.get("totalHits") or 0)
                    self.state["chunk"]["page"] = page_number
                    self.save_state()
                    self._maybe_log_progress()
                    size = self.settings.query_page_size
                    if page.records < size or page_number * size >= expected:
                        break
                    page_number += 1
            except QueryDepthError as exc:
                self.counters.deferred_days += 1
                LOGGER.warning(
                    "%s query %s: %s. The query cannot read this day (smaller intervals select "
                    "the same start day); it is left to a later run's jobs, and the bookmark "
                    "stays before it",
                    self.spec.label,
                    chunk.interval,
                    exc,
                )
                self._hold_at(chunk.start)
                return
            got = self._counted(chunk)
            if self._settled(chunk, expected, got):
                return
            if sweep > 1 and got == before:
                self._accept_below(chunk, expected, got)
                return
            before = got
            LOGGER.warning(
                "%s query %s: %d of %d records after sweep %d (live data moved between pages, "
                "or the count is approximate); reading the day again",
                self.spec.label,
                chunk.interval,
                got,
                expected,
                sweep,
            )
            page_number = 1
        LOGGER.warning(
            "%s query %s: still %d of %d after %d sweeps, each finding new records; the "
            "bookmark stays before this day so the next run reads it again",
            self.spec.label,
            chunk.interval,
            self._counted(chunk),
            expected,
            QUERY_SWEEPS,
        )
        self._hold_at(chunk.start)

    def _hold_at(self, when: dt.datetime) -> None:
        """Keep the watermark at or before ``when`` for the rest of this run."""
        if self._hold is None or when < self._hold:
            self._hold = when

    # -- completeness ------------------------------------------------------------------------

    def _verify(self, chunk: DateWindow) -> Iterator[Record]:
        """Compare the chunk's unique count with the API's; read it again when short."""
        if self.spec.expected_count is None:
            return
        expected = self.spec.expected_count(chunk)
        got = self._counted(chunk)
        if self._settled(chunk, expected, got):
            return
        if not self.spec.splittable:
            # Its records summarise the whole window: smaller windows hold other records, so
            # there is nothing to read again. Never a reason to stop the run: say it loudly.
            self.counters.short_unsplittable += 1
            LOGGER.warning(
                "%s %s: the job returned %d unique records, the API counts %d: %d may be "
                "missing from this window; its rows are kept, and running the window again "
                "later (start_date/end_date) re-reads it",
                self.spec.label,
                chunk.interval,
                got,
                expected,
                expected - got,
            )
            return
        yield from self._reread(chunk, expected, got)

    def _reread(self, window: DateWindow, expected: int, got: int) -> Iterator[Record]:
        """Read a short window again in pieces, going deeper only while that finds records.

        A re-read that returns every record already seen and nothing new shows the count is
        high: the window is accepted. One that finds new records, or returns fewer than were
        seen (the re-read itself was cut short), goes a level deeper.
        """
        self.counters.rereads += 1
        self._mark_checking()
        if len(window.days) >= 2:
            halves = window.halves()
            LOGGER.warning(
                "%s %s: %d unique records, the API counts %d; reading it again as %s",
                self.spec.label,
                window.interval,
                got,
                expected,
                " and ".join(h.interval for h in halves),
            )
            returned = yield from self._read_pieces(halves, start_of_day=True)
            found = self._counted(window) - got
            if found == 0 and returned >= got:
                self._accept_below(window, expected, got)
                return
            LOGGER.info(
                "%s %s: the re-read found %d more; checking each half",
                self.spec.label,
                window.interval,
                found,
            )
            assert self.spec.expected_count is not None  # noqa: S101 - checked by _verify
            for half in halves:
                half_expected = self.spec.expected_count(half)
                half_got = self._counted(half)
                if not self._settled(half, half_expected, half_got):
                    yield from self._reread(half, half_expected, half_got)
            return
        for hours in SUB_DAY_HOURS:
            LOGGER.warning(
                "%s %s: %d unique records, the API counts %d; reading the day again in %d-hour "
                "jobs",
                self.spec.label,
                window.interval,
                got,
                expected,
                hours,
            )
            before = got
            step = dt.timedelta(hours=hours)
            pieces = []
            piece_start = window.start
            while piece_start < window.end:
                pieces.append(DateWindow(piece_start, min(piece_start + step, window.end)))
                piece_start = pieces[-1].end
            returned = yield from self._read_pieces(pieces, start_of_day=False)
            got = self._counted(window)
            if self._settled(window, expected, got):
                return
            if got == before and returned >= got:
                self._accept_below(window, expected, got)
                return
        msg = (
            f"{self.spec.label} {window.interval}: the API counts {expected} records and every "
            f"re-read, down to 1-hour jobs, still found more or fewer (now {got}): records are "
            "missing and cannot be read reliably. Nothing after this day was written; try "
            "again later."
        )
        raise ExtractionError(msg)

    def _read_pieces(
        self, pieces: list[DateWindow], *, start_of_day: bool
    ) -> Generator[Record, None, int]:
        """Run a job per piece; return how many distinct records they returned in all."""
        self._reread_keys = set()
        try:
            for piece in pieces:
                yield from self._run_window(piece, start_of_day=start_of_day, reread=True)
            return len(self._reread_keys)
        finally:
            self._reread_keys = None

    def _settled(self, window: DateWindow, expected: int, got: int) -> bool:
        """Whether ``got`` unique records are enough for the API's ``expected``."""
        allowed = int(expected * self.settings.count_tolerance)
        if got + allowed < expected:
            return False
        if got > expected:
            LOGGER.info(
                "%s %s: %d unique records, more than the API's approximate count of %d (complete)",
                self.spec.label,
                window.interval,
                got,
                expected,
            )
        else:
            LOGGER.info(
                "%s %s: %d of %d records (complete)",
                self.spec.label,
                window.interval,
                got,
                expected,
            )
        return True

    def _accept_below(self, window: DateWindow, expected: int, got: int) -> None:
        """A re-read found nothing new: the count is taken as high, not records as missing."""
        gap = expected - got
        self.counters.accepted_below += 1
        self.counters.largest_gap = max(self.counters.largest_gap, gap)
        LOGGER.warning(
            "%s %s: %d unique records, the API counts %d; reading again found no record the "
            "first read missed, so the count is taken as approximate and the window as complete",
            self.spec.label,
            window.interval,
            got,
            expected,
        )

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
    """Refuse a bookmark this tap cannot read, before anything is requested.

    Only this tap's own keys are checked: keys the SDK keeps beside them are the SDK's.
    """
    problem = ""
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
        opened = state.get("open")
        if opened is not None and not isinstance(opened, dict):
            problem = "open must map conversation ids to start times"
        for started in (opened or {}).values() if not problem else ():
            parse_iso(str(started))
    except (KeyError, TypeError, ValueError) as exc:
        problem = f"unreadable value ({type(exc).__name__}: {exc})"
    if problem:
        msg = (
            f"the STATE for stream {label} is not one this tap wrote ({problem}); "
            "remove it (meltano state clear) or run with --full-refresh"
        )
        raise StateError(msg)
