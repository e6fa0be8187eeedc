"""The job reader: one window → one async job → its cursor pages, with the position saved per page.

A lost job (expired, failed, cursor refused) is submitted again up to ``job_max_attempts``
times. A refused page size is halved (the API's maximum is undocumented). Pipelining: the jobs
of the next chunks are submitted ahead, so the server prepares them while this one is paged.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator

from tap_genesys_analytics.errors import ExtractionError, GenesysError
from tap_genesys_analytics.extract.bookmark import ChunkPosition
from tap_genesys_analytics.extract.context import RunContext
from tap_genesys_analytics.extract.spec import Record
from tap_genesys_analytics.genesys.jobs import JobLostError, JobState, PageSizeRefusedError
from tap_genesys_analytics.http.client import Page
from tap_genesys_analytics.windows import DateWindow

LOGGER = logging.getLogger("tap-genesys-analytics")
MIN_PAGE_SIZE = 100


class JobReader:
    """Runs jobs and pages them; the chunk's position in the bookmark moves with every page."""

    def __init__(self, run: RunContext) -> None:
        self.spec = run.spec
        self.settings = run.settings
        self.bookmark = run.bookmark
        self.records = run.records
        self.counters = run.counters
        self.progress = run.progress
        self._save = run.save
        #: Jobs submitted ahead, by interval.
        self.ahead: dict[str, str] = {}
        #: Lowered when the API refuses the configured page size.
        self.page_size = run.settings.page_size

    def read(
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
                job_id = self.ahead.pop(window.interval, None) if start_of_day else None
                if job_id is None:
                    body = self.spec.job_body(window, start_of_day)
                    job_id = self.spec.jobs.submit(body, context=context)
                    self.counters.extra_jobs += int(reread)
                cursor = None
                self._save_position(job_id=job_id, cursor=None, pages=0)
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
                    self.records.forget_days(window)
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
        admit = self.records.admit
        transform = self.spec.transform
        pages = self._position().pages
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
                self._save_position(job_id=job_id, cursor=cursor, pages=pages)
                self.progress.maybe_log()
                continue
            # The last page: the chunk's position stays on the last good cursor until verified.
            self._save_position(job_id=job_id, cursor=cursor, pages=pages, done=True)
            return

    def _position(self) -> ChunkPosition:
        position = self.bookmark.chunk
        assert position is not None  # noqa: S101 - set by the runner before reading
        return position

    def _save_position(
        self, *, job_id: str, cursor: str | None, pages: int, done: bool = False
    ) -> None:
        position = self._position()
        position.job_id = job_id
        position.cursor = cursor
        position.pages = pages
        position.counts = dict(sorted(self.records.counts.items()))
        if done and position.phase == "main":
            position.phase = "verify"
        self._save()

    def submit_ahead(self, upcoming: list[DateWindow]) -> None:
        """Pipelining: the next chunks' jobs run on the server while this chunk is paged."""
        for window in upcoming:
            if window.interval in self.ahead:
                continue
            body = self.spec.job_body(window, True)
            context = f"{self.spec.label} {window.interval}"
            try:
                self.ahead[window.interval] = self.spec.jobs.submit(body, context=context)
            except GenesysError as exc:
                # Only an optimisation: the chunk submits its own job when its turn comes.
                LOGGER.warning("Could not submit the job for %s ahead: %s", context, exc)
                return

    def delete_ahead(self) -> None:
        """Delete the jobs submitted ahead that were not read (one short try each)."""
        for job_id in self.ahead.values():
            self.spec.jobs.delete(job_id)
        self.ahead.clear()
