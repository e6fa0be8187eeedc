"""The query tail: days newer than the jobs' data availability, read by the details query.

One UTC day per chunk, paged by page number with the page saved after each. A day ends only on
a page without the ``conversations`` array: ``totalHits`` is approximate (it varies between
requests and may be below the truth) and a page may be short mid-stream (the API drops
duplicates server-side), so neither may end the paging. ``totalHits`` feeds only the count check:
live data moves between pages, so a day short of it is swept again (up to ``QUERY_SWEEPS``); a
sweep that adds nothing means the count is approximate. A day past the query's result depth, or
still short after every sweep, holds the watermark before it for a later run's jobs.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator

from tap_genesys_analytics.extract.bookmark import ChunkPosition
from tap_genesys_analytics.extract.completeness import Completeness
from tap_genesys_analytics.extract.context import RunContext
from tap_genesys_analytics.extract.spec import Record
from tap_genesys_analytics.genesys.details import DetailsQuery, QueryDepthError
from tap_genesys_analytics.http.client import Page
from tap_genesys_analytics.windows import DateWindow

LOGGER = logging.getLogger("tap-genesys-analytics")
QUERY_SWEEPS = 3


class QueryReader:
    """Reads one day by the details query, sweeping it again while that finds records."""

    def __init__(
        self,
        run: RunContext,
        completeness: Completeness,
        hold_at: Callable[[dt.datetime], None],
    ) -> None:
        self.label = run.spec.label
        self.settings = run.settings
        self.bookmark = run.bookmark
        self.records = run.records
        self.counters = run.counters
        self.progress = run.progress
        self._save = run.save
        self.completeness = completeness
        self._hold_at = hold_at

    def read(self, chunk: DateWindow, query: DetailsQuery) -> Iterator[Record]:
        """Page one day of the details query; re-read it when records shifted between pages."""
        self.records.new_chunk()
        saved = self.bookmark.chunk
        page_number = 1
        if saved is not None and saved.interval == chunk.interval and saved.by_query:
            page_number = saved.page + 1
            LOGGER.info("%s: resuming query %s at page %d", self.label, chunk.interval, page_number)
        position = ChunkPosition(chunk.interval, by_query=True, page=page_number - 1)
        self.bookmark.chunk = position
        expected = 0
        before = 0
        admit = self.records.admit
        for sweep in range(1, QUERY_SWEEPS + 1):
            try:
                while True:
                    page = Page()
                    for record in query.page(chunk, page_number, page):
                        if admit(record, chunk):
                            yield record
                    # The latest count: it varies between requests of the same query.
                    expected = int(page.scalars.get("totalHits") or 0)
                    position.page = page_number
                    self._save()
                    self.progress.maybe_log()
                    if page.records == 0:
                        break  # no ``conversations`` array: the page after the last
                    page_number += 1
            except QueryDepthError as exc:
                self.counters.deferred_days += 1
                LOGGER.warning(
                    "%s query %s: %s. The query cannot read this day (smaller intervals select "
                    "the same start day); it is left to a later run's jobs, and the bookmark "
                    "stays before it",
                    self.label,
                    chunk.interval,
                    exc,
                )
                self._hold_at(chunk.start)
                return
            got = self.records.counted(chunk)
            if self.completeness.settled(chunk, expected, got):
                return
            if sweep > 1 and got == before:
                self.completeness.accept_below(chunk, expected, got)
                return
            before = got
            LOGGER.warning(
                "%s query %s: %d of %d records after sweep %d (live data moved between pages, "
                "or the count is approximate); reading the day again",
                self.label,
                chunk.interval,
                got,
                expected,
                sweep,
            )
            page_number = 1
        LOGGER.warning(
            "%s query %s: still %d of %d after %d sweeps, each finding new records; the "
            "bookmark stays before this day so the next run reads it again",
            self.label,
            chunk.interval,
            self.records.counted(chunk),
            expected,
            QUERY_SWEEPS,
        )
        self._hold_at(chunk.start)
