"""The chunk runner: plans a run, then date chunks → jobs → cursor pages → records, STATE per page.

It owns the order of the steps and nothing Singer-specific: the stream hands it the stream's
state (a mapping the :class:`~.bookmark.Bookmark` reads and writes) and a ``save_state``
callback that writes a STATE message. Each step lives in a module of its own:

* ``bookmark``: the typed bookmark and its STATE shape;
* ``job_reader``: one window → one job → pages, pipelining the next chunks' jobs;
* ``query_reader``: the days newer than the jobs' data availability;
* ``completeness``: the count check and the re-reads in pieces;
* ``records``: the one record filter (window, dedup, day counts), ``live``: live conversations;
* ``progress``: counters, progress lines and the closing summary.

Chunks are UTC-day aligned and ``chunk_days`` long (the users stream plans its own grid).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from tap_genesys_analytics.config.settings import Settings
from tap_genesys_analytics.extract.bookmark import Bookmark, ChunkPosition, RunRange
from tap_genesys_analytics.extract.completeness import Completeness
from tap_genesys_analytics.extract.context import RunContext
from tap_genesys_analytics.extract.dedup import Deduplicator
from tap_genesys_analytics.extract.job_reader import JobReader
from tap_genesys_analytics.extract.live import LiveConversations
from tap_genesys_analytics.extract.progress import Progress, RunCounters
from tap_genesys_analytics.extract.query_reader import QueryReader
from tap_genesys_analytics.extract.records import RecordFilter
from tap_genesys_analytics.extract.spec import ExtractSpec, Record
from tap_genesys_analytics.genesys.details import DetailsQuery
from tap_genesys_analytics.windows import DateWindow, floor_day, iso, parse_iso, plan_chunks

LOGGER = logging.getLogger("tap-genesys-analytics")


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
        self.bookmark = Bookmark.from_state(state, spec.label)
        self.counters = RunCounters()
        self.live = LiveConversations(spec, settings, self.counters, self.bookmark.open)
        self.records = RecordFilter(spec, self.counters, self.live)
        self.progress = Progress(spec.label, self.counters, spec.jobs.client.limiter)
        context = RunContext(
            spec, settings, self.bookmark, self.records, self.counters, self.progress, self.save
        )
        self.jobs = JobReader(context)
        self.completeness = Completeness(context, self.jobs)
        self.query = QueryReader(context, self.completeness, self._hold_at)
        #: The watermark stays at or before this: a day left to a later run.
        self._hold: dt.datetime | None = None

    @property
    def emitted(self) -> int:
        """Records emitted so far in this run."""
        return self.counters.emitted

    @property
    def dedup(self) -> Deduplicator:
        """The record filter's deduplicator (its ``dropped`` count goes into the summary)."""
        return self.records.dedup

    def plan(
        self,
        start_date: dt.datetime,
        end: dt.datetime,
        availability: dt.datetime | None,
    ) -> tuple[DateWindow | None, dt.datetime]:
        """Decide this run's range and where the query takes over from jobs.

        An unfinished run (``run`` in the bookmark) is resumed with its own range from the
        watermark; a new run starts ``lookback_days`` before min(bookmark, last availability
        seen). Jobs serve whole days before the availability day; the details query the rest.
        """
        mark = self.bookmark
        if mark.run is not None and mark.watermark:
            start = parse_iso(mark.watermark)
            end = parse_iso(mark.run.end)
            query_from = parse_iso(mark.run.query_from)
            LOGGER.info("%s: resuming an interrupted run at %s", self.spec.label, mark.watermark)
        else:
            start = start_date
            if mark.watermark:
                base = parse_iso(mark.watermark)
                if mark.data_availability:
                    base = min(base, parse_iso(mark.data_availability))
                start = max(start_date, base - dt.timedelta(days=self.settings.lookback_days))
            query_from = end if availability is None else max(start, floor_day(availability))
            query_from = min(query_from, end)
            if availability is not None:
                mark.data_availability = iso(availability)
            if start < end:
                mark.run = RunRange(start=iso(start), end=iso(end), query_from=iso(query_from))
                mark.watermark = iso(start)
        mark.write_to(self.state)
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
        self.records.range = window
        horizon = window.end - dt.timedelta(days=self.settings.lookback_days)
        self.live.horizon = iso(horizon)[:19]
        yield from self.live.refresh(iso(window.start)[:19], self.bookmark.run, self.save)
        chunks = self._chunks(window, query_from, query)
        job_chunks = [c for c, by_query in chunks if not by_query]
        self.progress.chunk_total = len(chunks)
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
                self.progress.chunk_no = number
                ahead = job_chunks[job_chunks.index(chunk) + 1 :] if not by_query else []
                self.jobs.submit_ahead(ahead[: self.settings.max_jobs_in_flight - 1])
                before = self.emitted
                chunk_started = time.monotonic()
                if by_query:
                    assert query is not None  # noqa: S101 - by_query implies a query
                    yield from self.query.read(chunk, query)
                else:
                    yield from self._job_chunk(chunk)
                self._advance(min(chunk.end, window.end))
                self.progress.chunk_done(chunk, self.emitted - before, chunk_started)
        finally:
            self.jobs.delete_ahead()
        self.bookmark.run = None
        self.save()

    def save(self) -> None:
        """Write the bookmark, with the open conversations, as a STATE message."""
        self.bookmark.write_to(self.state)
        self._save_state()

    def _chunks(
        self, window: DateWindow, query_from: dt.datetime, query: DetailsQuery | None
    ) -> list[tuple[DateWindow, bool]]:
        """The run's chunks, each with whether the details query reads it."""
        chunks: list[tuple[DateWindow, bool]] = []
        if window.start < query_from:
            job_part = (
                self.spec.plan(window.start, query_from)
                if self.spec.plan is not None
                else plan_chunks(window.start, query_from, self.settings.chunk_days)
            )
            chunks += [(c, False) for c in job_part]
        if query_from < window.end and query is not None:
            # A resumed run starts at its watermark, which may lie past ``query_from``: a
            # day before it is done, and reading it would replace the saved query page.
            tail_start = max(query_from, window.start)
            chunks += [(c, True) for c in plan_chunks(tail_start, window.end, 1)]
        return chunks

    def _job_chunk(self, chunk: DateWindow) -> Iterator[Record]:
        """One chunk by its job, resumed at the saved cursor, then checked for completeness."""
        saved = self.bookmark.chunk
        job_id: str | None = None
        cursor: str | None = None
        counts: dict[str, int] = {}
        if saved is not None and saved.interval == chunk.interval and saved.phase == "main":
            job_id, cursor, counts = saved.job_id, saved.cursor, saved.counts
            LOGGER.info(
                "%s: resuming chunk %s at page %s of job %s",
                self.spec.label,
                chunk.interval,
                saved.pages + 1,
                job_id,
            )
        elif saved is not None and saved.interval == chunk.interval and not saved.by_query:
            # "verify": every page was read, the count not yet checked; "split": a short count
            # was being read again in pieces. Either way the chunk's job is read again whole.
            what = (
                "while being read again in pieces after a short count"
                if saved.phase == "split"
                else "after its last page, before its count was checked"
            )
            LOGGER.info(
                "%s: chunk %s was interrupted %s; submitting it again and reading it from its "
                "first page (its records are emitted again)",
                self.spec.label,
                chunk.interval,
                what,
            )
        self.records.new_chunk(counts)
        self.bookmark.chunk = ChunkPosition(
            chunk.interval,
            phase="main",
            pages=saved.pages if job_id is not None and saved is not None else 0,
            job_id=job_id,
            cursor=cursor,
            counts=dict(counts),
        )
        yield from self.jobs.read(chunk, start_of_day=True, job_id=job_id, cursor=cursor)
        yield from self.completeness.verify(chunk)

    def _advance(self, position: dt.datetime) -> None:
        """Move the watermark to ``position``, but never past a day left to a later run."""
        if self._hold is not None:
            position = min(position, self._hold)
        self.bookmark.watermark = iso(position)
        self.bookmark.chunk = None
        self.live.bound()
        self.save()

    def _hold_at(self, when: dt.datetime) -> None:
        """Keep the watermark at or before ``when`` for the rest of this run."""
        if self._hold is None or when < self._hold:
            self._hold = when
