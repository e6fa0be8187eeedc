"""Completeness: a chunk's unique records against the API's approximate ``totalHits``.

Short → read the window again in halves (a single day: in 12-hour jobs). A re-read that finds
no record the earlier reads missed, and returns at least as many, means the count is high: the
window is accepted with a warning. One that finds new records (or returns fewer: it was cut
short itself) goes on splitting, down to 1-hour jobs; only a 1-hour level that still finds new
records and is still short stops the run (ExtractionError).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Generator, Iterator

from tap_genesys_analytics.errors import ExtractionError
from tap_genesys_analytics.extract.context import RunContext
from tap_genesys_analytics.extract.job_reader import JobReader
from tap_genesys_analytics.extract.spec import Record
from tap_genesys_analytics.windows import DateWindow

LOGGER = logging.getLogger("tap-genesys-analytics")
SUB_DAY_HOURS = (12, 6, 3, 1)


class Completeness:
    """Checks a chunk's count and re-reads it in pieces while that finds records."""

    def __init__(self, run: RunContext, jobs: JobReader) -> None:
        self.spec = run.spec
        self.label = run.spec.label
        self.settings = run.settings
        self.bookmark = run.bookmark
        self.records = run.records
        self.counters = run.counters
        self.jobs = jobs

    def verify(self, chunk: DateWindow) -> Iterator[Record]:
        """Compare the chunk's unique count with the API's; read it again when short."""
        if self.spec.expected_count is None:
            return
        expected = self.spec.expected_count(chunk)
        got = self.records.counted(chunk)
        if self.settled(chunk, expected, got):
            return
        if not self.spec.splittable:
            # Its records summarise the whole window: smaller windows hold other records, so
            # there is nothing to read again. Never a reason to stop the run: say it loudly.
            self.counters.short_unsplittable += 1
            LOGGER.warning(
                "%s %s: the job returned %d unique records, the API counts %d: %d may be "
                "missing from this window; its rows are kept, and running the window again "
                "later (start_date/end_date) re-reads it",
                self.label,
                chunk.interval,
                got,
                expected,
                expected - got,
            )
            return
        yield from self._reread(chunk, expected, got)

    def settled(self, window: DateWindow, expected: int, got: int) -> bool:
        """Whether ``got`` unique records are enough for the API's ``expected``."""
        allowed = int(expected * self.settings.count_tolerance)
        if got + allowed < expected:
            return False
        if got > expected:
            LOGGER.info(
                "%s %s: %d unique records, more than the API's approximate count of %d (complete)",
                self.label,
                window.interval,
                got,
                expected,
            )
        else:
            LOGGER.info(
                "%s %s: %d of %d records (complete)", self.label, window.interval, got, expected
            )
        return True

    def accept_below(self, window: DateWindow, expected: int, got: int) -> None:
        """A re-read found nothing new: the count is taken as high, not records as missing."""
        gap = expected - got
        self.counters.accepted_below += 1
        self.counters.largest_gap = max(self.counters.largest_gap, gap)
        LOGGER.warning(
            "%s %s: %d unique records, the API counts %d; reading again found no record the "
            "first read missed, so the count is taken as approximate and the window as complete",
            self.label,
            window.interval,
            got,
            expected,
        )

    def _reread(self, window: DateWindow, expected: int, got: int) -> Iterator[Record]:
        """Read a short window again in pieces, going deeper only while that finds records."""
        self.counters.rereads += 1
        if self.bookmark.chunk is not None:
            self.bookmark.chunk.phase = "split"
        if len(window.days) >= 2:
            yield from self._reread_halves(window, expected, got)
            return
        for hours in SUB_DAY_HOURS:
            LOGGER.warning(
                "%s %s: %d unique records, the API counts %d; reading the day again in %d-hour "
                "jobs",
                self.label,
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
            got = self.records.counted(window)
            if self.settled(window, expected, got):
                return
            if got == before and returned >= got:
                self.accept_below(window, expected, got)
                return
        msg = (
            f"{self.label} {window.interval}: the API counts {expected} records and every "
            f"re-read, down to 1-hour jobs, still found more or fewer (now {got}): records are "
            "missing and cannot be read reliably. Nothing after this day was written; try "
            "again later."
        )
        raise ExtractionError(msg)

    def _reread_halves(self, window: DateWindow, expected: int, got: int) -> Iterator[Record]:
        halves = window.halves()
        LOGGER.warning(
            "%s %s: %d unique records, the API counts %d; reading it again as %s",
            self.label,
            window.interval,
            got,
            expected,
            " and ".join(h.interval for h in halves),
        )
        returned = yield from self._read_pieces(halves, start_of_day=True)
        found = self.records.counted(window) - got
        if found == 0 and returned >= got:
            self.accept_below(window, expected, got)
            return
        LOGGER.info(
            "%s %s: the re-read found %d more; checking each half",
            self.label,
            window.interval,
            found,
        )
        assert self.spec.expected_count is not None  # noqa: S101 - checked by verify
        for half in halves:
            half_expected = self.spec.expected_count(half)
            half_got = self.records.counted(half)
            if not self.settled(half, half_expected, half_got):
                yield from self._reread(half, half_expected, half_got)

    def _read_pieces(
        self, pieces: list[DateWindow], *, start_of_day: bool
    ) -> Generator[Record, None, int]:
        """Run a job per piece; return how many distinct records they returned in all."""
        self.records.collect_returned()
        try:
            for piece in pieces:
                yield from self.jobs.read(piece, start_of_day=start_of_day, reread=True)
        finally:
            returned = self.records.stop_collecting()
        return returned
