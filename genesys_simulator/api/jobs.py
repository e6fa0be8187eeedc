"""Conversation and user details jobs: availability, submit, status, delete.

A job's state is a function of wall time (``QUEUED -> PENDING -> FULFILLED/FAILED ->
EXPIRED``); its results pages are served by ``pages.py``, which looks jobs up here.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from ..dataset import Dataset
from ..filters import FilterError
from ..selection import FilterSet, ResultSource, Selection, validate_order
from ..timeutil import DAY_MS, iso, parse_interval
from ..users import UserSelection
from .bodies import JOB_KEYS, USER_JOB_KEYS, check_body, positive_int
from .core import Core
from .errors import ApiError
from .routes import Exchange, RouteHandler, RouteTable

Json = dict[str, Any]

JOB_RETENTION_SECONDS = 86_400.0
#: Job API roots by kind; the route names of user jobs carry a ``user_`` prefix.
JOB_ROOTS = {
    "conversation": "/api/v2/analytics/conversations/details/jobs",
    "user": "/api/v2/analytics/users/details/jobs",
}


@dataclass
class Job:
    """A submitted conversation details job; its state is a function of wall time."""

    job_id: str
    selection: ResultSource
    signature: str
    limit: int | None
    submitted: float
    latency: float
    fails: bool
    available_ms: int
    kind: str = "conversation"
    #: The simulator's clock at submission: a record live as of ``available_ms`` but ended
    #: by then is what the ``job_live_as_of_availability`` counter shows.
    clock_ms: int = 0
    deleted: bool = False
    expired: bool = False
    #: Order among the jobs submitted while ``complete_jobs_max`` is set (0: not counted).
    seq: int = 0
    cancels: bool = False
    #: Start of the job's interval (epoch ms), for ``hold_jobs_interval``.
    start_ms: int = 0

    @property
    def completed(self) -> float:
        """Wall time at which the job finishes."""
        return self.submitted + self.latency


def wall_iso(t: float) -> str:
    """Wall time (epoch seconds) as the API's ISO-8601 text."""
    return iso(int(t * 1000))


class Jobs:
    """The registry of submitted jobs of both kinds."""

    def __init__(self, core: Core, dataset: Dataset) -> None:
        """No job yet."""
        self.core = core
        self.dataset = dataset
        self._jobs: dict[str, Job] = {}
        self._failed_intervals: set[str] = set()
        self._cancelled_intervals: set[str] = set()
        self._held_seq = 0

    def register(self, routes: RouteTable) -> None:
        """Availability before status: ``availability`` would also match a job id."""
        for kind, root in JOB_ROOTS.items():
            prefix = "" if kind == "conversation" else "user_"
            routes.add("GET", f"{root}/availability", f"{prefix}availability", self._availability)
            submit = self._submit_route if kind == "conversation" else self._submit_user_route
            routes.add("POST", root, f"{prefix}job_submit", submit)
            routes.add("GET", f"{root}/([^/]+)", f"{prefix}job_status", self._status_route(kind))
            routes.add("DELETE", f"{root}/([^/]+)", f"{prefix}job_delete", self._delete_route(kind))

    # ----------------------------------------------------------------- routes
    def _availability(self, ex: Exchange) -> None:
        ex.send_json(200, {"dataAvailabilityDate": iso(self.core.available_ms())})

    def _submit_route(self, ex: Exchange) -> None:
        ex.send_json(202, self.submit_job(ex.json_body()))

    def _submit_user_route(self, ex: Exchange) -> None:
        ex.send_json(202, self.submit_user_job(ex.json_body()))

    def _status_route(self, kind: str) -> RouteHandler:
        def status(ex: Exchange) -> None:
            ex.send_json(200, self.job_status(ex.args[0], kind))

        return status

    def _delete_route(self, kind: str) -> RouteHandler:
        def delete(ex: Exchange) -> None:
            self.delete_job(ex.args[0], kind)
            ex.send(204, b"")

        return delete

    # ----------------------------------------------------------------- submit
    def submit_job(self, body: object) -> Json:
        """Validate an ``AsyncConversationQuery`` and register the job."""
        body = check_body(body, JOB_KEYS)
        try:
            filters = FilterSet.from_body(body)
            descending = validate_order(body)
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc
        limit = positive_int(body.get("limit"), "limit")
        start_day = body.get("startOfDayIntervalMatching", False)
        if not isinstance(start_day, bool):
            raise ApiError(400, "startOfDayIntervalMatching must be a boolean")
        now_ms = self.core.now_ms
        available = self.core.available_ms()
        try:
            # The datalake serves what it holds as of dataAvailabilityDate: a conversation
            # still live then comes back live, whatever happened since (fact sheet §2).
            selection = Selection.build(
                self.dataset,
                body.get("interval"),
                start_day=start_day,
                started_before=available,
                now_ms=min(now_ms, available),
                filters=filters,
                attributes=True,
                descending=descending,
                end_inclusive=self.core.faults.day_match_end_inclusive,
            )
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc
        widens = start_day and self.core.faults.day_match_end_inclusive
        if widens and parse_interval(body["interval"])[1] % DAY_MS == 0:
            self.core.fault_fired("day_match_end_inclusive")  # the next day is taken in
        return self._register_job(
            "conversation",
            body=body,
            selection=selection,
            limit=limit,
            now_ms=now_ms,
            available=available,
        )

    def submit_user_job(self, body: object) -> Json:
        """Validate an ``AsyncUserDetailsQuery`` and register the job."""
        body = check_body(body, USER_JOB_KEYS)
        limit = positive_int(body.get("limit"), "limit")
        available = self.core.available_ms()
        try:
            selection = UserSelection.build(self.dataset, body, available)
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc
        return self._register_job(
            "user",
            body=body,
            selection=selection,
            limit=limit,
            now_ms=self.core.now_ms,
            available=available,
        )

    def _register_job(
        self,
        kind: str,
        *,
        body: Json,
        selection: ResultSource,
        limit: int | None,
        now_ms: int,
        available: int,
    ) -> Json:
        faults = self.core.faults
        signature = hashlib.sha256(
            json.dumps([kind, body, now_ms, available], sort_keys=True).encode()
        ).hexdigest()[:16]
        fails = False
        with self.core.lock:
            fail_key = f"{kind}:{body['interval']}"
            if faults.job_fail_once and fail_key not in self._failed_intervals:
                self._failed_intervals.add(fail_key)
                fails = True
                self.core.fault_fired("job_failed")
            cancels = False
            if faults.job_cancel_once and fail_key not in self._cancelled_intervals:
                self._cancelled_intervals.add(fail_key)
                cancels = True
                self.core.fault_fired("job_cancelled")
            # Counted among the jobs submitted while the switch is set (0: never held).
            self._held_seq = 0 if faults.complete_jobs_max is None else self._held_seq + 1
            job = Job(
                job_id=str(uuid.uuid4()),
                selection=selection,
                signature=signature,
                limit=limit,
                submitted=time.time(),
                latency=faults.job_latency_seconds,
                fails=fails,
                available_ms=available,
                kind=kind,
                seq=self._held_seq,
                cancels=cancels,
                clock_ms=now_ms,
                start_ms=parse_interval(body["interval"])[0],
            )
            self._jobs[job.job_id] = job
        return {"jobId": job.job_id}

    # ----------------------------------------------------------------- lifecycle
    def get(self, job_id: str, kind: str) -> Job:
        """The live job ``job_id`` of ``kind``; 404 when unknown, deleted or of another kind."""
        with self.core.lock:
            job = self._jobs.get(job_id)
        if job is None or job.deleted or job.kind != kind:
            raise ApiError(404, f"Unable to find job {job_id}", "not.found")
        return job

    def expiry(self, job: Job) -> float:
        """Wall time at which the job's results are gone."""
        expire = self.core.faults.job_expire_seconds
        return job.completed + (JOB_RETENTION_SECONDS if expire is None else expire)

    def held(self, job: Job) -> bool:
        """Whether ``complete_jobs_max`` or ``hold_jobs_interval`` keeps ``job`` from finishing."""
        faults = self.core.faults
        if faults.complete_jobs_max is not None and job.seq > faults.complete_jobs_max:
            return True
        if faults.hold_jobs_interval is None:
            return False
        start, end = parse_interval(faults.hold_jobs_interval)
        return start <= job.start_ms < end

    def job_state(self, job: Job) -> str:
        """QUEUED -> PENDING -> FULFILLED/FAILED/CANCELLED -> EXPIRED, by wall time and switches."""
        now = time.time()
        if now < job.submitted + job.latency / 2:
            return "QUEUED"
        if now < job.completed or self.held(job):
            return "PENDING"
        if job.expired or now >= self.expiry(job):
            return "EXPIRED"
        if job.cancels:
            return "CANCELLED"
        return "FAILED" if job.fails else "FULFILLED"

    def job_status(self, job_id: str, kind: str = "conversation") -> Json:
        """Return the ``AsyncQueryStatus`` of a job."""
        job = self.get(job_id, kind)
        state = self.job_state(job)
        if state == "EXPIRED":
            self.core.fault_fired("job_expired")
        if state == "PENDING" and self.held(job):
            self.core.fault_fired("job_held")
        out: Json = {"state": state}
        if state == "FAILED":
            out["errorMessage"] = "The job failed to complete. Please resubmit the query."
        if state == "CANCELLED":
            out["errorMessage"] = "The job was cancelled."
        out["submissionDate"] = wall_iso(job.submitted)
        if state in ("FULFILLED", "FAILED", "CANCELLED", "EXPIRED"):
            out["completionDate"] = wall_iso(job.completed)
        out["expirationDate"] = wall_iso(self.expiry(job))
        return out

    def expire_jobs(self) -> int:
        """Let every job submitted so far expire now (its results are gone); returns how many."""
        with self.core.lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.expired = True
        return len(jobs)

    def job_state_of(self, job_id: str) -> str:
        """The state a status request for ``job_id`` would report now (tests look at it)."""
        with self.core.lock:
            job = self._jobs.get(job_id)
        return "GONE" if job is None else self.job_state(job)

    def delete_job(self, job_id: str, kind: str = "conversation") -> None:
        """Delete (or cancel) a job; later calls for it get 404."""
        job = self.get(job_id, kind)
        with self.core.lock:
            job.deleted = True
            self._jobs.pop(job_id, None)  # forget it: long benchmarks submit many jobs
