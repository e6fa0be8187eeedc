"""Asynchronous analytics detail jobs: submit, wait, page results by cursor, delete.

Shaped like a job repository: the chunk runner composes these calls and owns state; this
module only speaks the API (§2 of the fact sheet): ``POST {base}`` → ``{"jobId"}``,
``GET {base}/{id}`` → ``{"state", "errorMessage", ...}``,
``GET {base}/{id}/results?cursor=&pageSize=`` → ``{<array>, "cursor", "dataAvailabilityDate"}``
and ``DELETE {base}/{id}``.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from tap_genesys_analytics.errors import FatalAPIError, GenesysError
from tap_genesys_analytics.http.client import GenesysClient, Page

LOGGER = logging.getLogger("tap-genesys-analytics")

#: Connect and read timeout of a job deletion: a clean-up must not hold a run's exit up.
DELETE_TIMEOUT_SECONDS = 5.0


class JobState(enum.Enum):
    """States of ``AsyncQueryStatus``."""

    QUEUED = "QUEUED"
    PENDING = "PENDING"
    FULFILLED = "FULFILLED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        """Whether polling can stop."""
        return self not in {JobState.QUEUED, JobState.PENDING}


class JobLostError(GenesysError):
    """The job cannot give (more) results: failed, cancelled, expired, gone, or cursor refused."""


class PageSizeRefusedError(GenesysError):
    """The first results page was refused with a 400: most likely a page size above the cap."""


@dataclasses.dataclass(frozen=True)
class JobKind:
    """What differs between conversation and user detail jobs."""

    base_path: str
    array_key: str


CONVERSATION_JOBS = JobKind("/api/v2/analytics/conversations/details/jobs", "conversations")
USER_JOBS = JobKind("/api/v2/analytics/users/details/jobs", "userDetails")


class JobsAPI:
    """The four job calls plus availability, for one kind of job."""

    def __init__(
        self,
        client: GenesysClient,
        kind: JobKind,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.kind = kind
        self._sleep = sleep
        self._clock = clock

    def submit(self, body: Mapping[str, Any], *, context: str) -> str:
        """Create a job; return its id."""
        _, data = self.client.call("POST", self.kind.base_path, body=body, context=context)
        job_id = data.get("jobId")
        if not job_id:
            msg = f"POST {self.kind.base_path} ({context}) answered without a jobId: {data!r:.200}"
            raise GenesysError(msg)
        return str(job_id)

    def status(self, job_id: str, *, context: str) -> tuple[JobState, dict[str, Any]]:
        """The job's state and its raw status body; a 404 means the job is gone."""
        try:
            _, data = self.client.call("GET", f"{self.kind.base_path}/{job_id}", context=context)
        except FatalAPIError as exc:
            if exc.status == 404:
                raise JobLostError(f"job {job_id} no longer exists ({context})") from None
            raise
        try:
            return JobState(str(data.get("state", "")).upper()), data
        except ValueError:
            msg = f"job {job_id} ({context}) reported an unknown state {data.get('state')!r}"
            raise GenesysError(msg) from None

    def wait(self, job_id: str, *, context: str, poll_max: float, timeout: float) -> None:
        """Poll with growing waits until FULFILLED; raise :class:`JobLostError` on failure."""
        delay = min(0.25, poll_max)
        deadline = self._clock() + timeout
        while True:
            state, data = self.status(job_id, context=context)
            if state is JobState.FULFILLED:
                return
            if state.is_terminal:
                reason = data.get("errorMessage") or "no errorMessage given"
                msg = f"job {job_id} for {context} ended {state.value}: {reason}"
                raise JobLostError(msg)
            if self._clock() + delay > deadline:
                msg = (
                    f"job {job_id} for {context} still {state.value} after {timeout / 60:.0f} "
                    "minutes (raise job_timeout_minutes, or lower chunk_days)"
                )
                raise GenesysError(msg)
            self._sleep(delay)
            delay = min(delay * 2, poll_max)

    def results(
        self, job_id: str, *, cursor: str | None, page_size: int, page: Page, context: str
    ) -> Iterator[dict[str, Any]]:
        """Stream one results page; ``page.scalars['cursor']`` is the next cursor, if any."""
        params: dict[str, Any] = {"pageSize": page_size}
        if cursor:
            params["cursor"] = cursor
        try:
            yield from self.client.stream(
                "GET",
                f"{self.kind.base_path}/{job_id}/results",
                array_key=self.kind.array_key,
                scalar_keys=("cursor", "dataAvailabilityDate"),
                page=page,
                params=params,
                context=context,
            )
        except FatalAPIError as exc:
            if exc.status == 400 and not cursor:
                raise PageSizeRefusedError(f"pageSize={page_size} refused: {exc}") from None
            if exc.status in {400, 404}:
                what = "refused the cursor" if exc.status == 400 else "is gone"
                raise JobLostError(f"job {job_id} {what}: {exc}") from None
            raise

    def run_through(
        self,
        body: Mapping[str, Any],
        *,
        context: str,
        page_size: int,
        poll_max: float,
        timeout: float,
    ) -> Iterator[dict[str, Any]]:
        """Submit a small job, wait for it, yield every record of every page, delete it.

        For jobs read whole in one go (a few filtered ids): nothing is saved between pages, so
        a lost job raises :class:`JobLostError` and the caller decides what to do.
        """
        job_id = self.submit(body, context=context)
        try:
            self.wait(job_id, context=context, poll_max=poll_max, timeout=timeout)
            cursor: str | None = None
            while True:
                page = Page()
                yield from self.results(
                    job_id, cursor=cursor, page_size=page_size, page=page, context=context
                )
                next_cursor = page.scalars.get("cursor")
                if not next_cursor:
                    return
                cursor = str(next_cursor)
        finally:
            self.delete(job_id)

    def delete(self, job_id: str) -> None:
        """Delete a job so it does not count against the org's job limits: one short try.

        Deleting is a courtesy (the API expires jobs on its own), and it runs on the way out
        after SIGTERM or an outage too, where full retries would hold the exit up for minutes.
        """
        try:
            self.client.call(
                "DELETE",
                f"{self.kind.base_path}/{job_id}",
                context="cleanup",
                tries=1,
                timeout=DELETE_TIMEOUT_SECONDS,
            )
        except GenesysError as exc:
            LOGGER.info("Could not delete job %s (ignored): %s", job_id, exc)

    def availability(self) -> str | None:
        """``dataAvailabilityDate``: jobs are complete only for data before it.

        ``None`` when the endpoint does not answer it (a proxy without it, an older API): jobs
        then serve the whole range, and the completeness check still guards each chunk.
        """
        try:
            _, data = self.client.call("GET", f"{self.kind.base_path}/availability")
        except FatalAPIError as exc:
            if exc.status in {400, 404, 405}:
                LOGGER.warning("No data availability date (%s); jobs serve the whole range", exc)
                return None
            raise
        value = data.get("dataAvailabilityDate")
        return str(value) if value else None
