"""Job results pages: cursors, rendering, the page cache and the faults of a results body.

Serves ``GET .../jobs/{jobId}/results`` for both job kinds; the jobs themselves live in
``jobs.py``.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
from collections import OrderedDict
from typing import Any

from ..faults import Faults
from ..selection import Selection
from ..timeutil import iso
from ..users import StatusLedger, UserSelection
from .core import Core
from .errors import ApiError
from .jobs import JOB_ROOTS, Job, Jobs
from .routes import Exchange, RouteHandler, RouteTable

Json = dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ResultPages:
    """Renders a job's results one cursor page at a time."""

    def __init__(self, core: Core, jobs: Jobs) -> None:
        """An empty page cache; a fault change that turns the cache off empties it."""
        self.core = core
        self.jobs = jobs
        self._bad_json_toggle = 0
        #: Rendered pages and their record counts (counting a cached page again would cost a
        #: parse of it on every request, and the benchmarks would measure the server).
        self._page_cache: OrderedDict[tuple[Any, ...], tuple[bytes, int]] = OrderedDict()
        self._page_cache_size = 0
        #: User statuses served whole to more than one job (counter ``status_in_two_jobs``).
        self._status_ledger = StatusLedger()
        core.watch_faults(self._faults_changed)

    def register(self, routes: RouteTable) -> None:
        """One results route per job kind."""
        for kind, root in JOB_ROOTS.items():
            prefix = "" if kind == "conversation" else "user_"
            routes.add("GET", f"{root}/([^/]+)/results", f"{prefix}job_results", self._route(kind))

    def _faults_changed(self, faults: Faults) -> None:
        if faults.page_cache_bytes <= 0:
            self._page_cache.clear()
            self._page_cache_size = 0

    def _route(self, kind: str) -> RouteHandler:
        def results(ex: Exchange) -> None:
            self._send_results(ex, ex.args[0], kind)

        return results

    def _send_results(self, ex: Exchange, job_id: str, kind: str) -> None:
        core = self.core
        gzip_ok = core.faults.gzip and "gzip" in (ex.header("Accept-Encoding") or "")
        body, count = self.job_results(job_id, ex.query, gzip_ok, kind)
        faults = core.faults
        headers = {"Content-Encoding": "gzip"} if gzip_ok else {}
        if core.roll(faults.bad_json_rate):
            core.fault_fired("bad_json")
            ex.send(200, self.bad_json_body(), compress=False)
            return
        if core.roll(faults.cut_body_rate):
            core.fault_fired("cut_gzip_body" if gzip_ok else "cut_identity_body")
            ex.send_cut(200, body, headers)
            return
        # Counted before sending so a client that reads stats right after sees this page.
        core.note_result_page(job_id, ex.query.get("cursor", [""])[0], count)
        core.count_encoding("gzip" if gzip_ok else "identity")
        ex.send(200, body, headers, compress=False)

    # ----------------------------------------------------------------- cursors
    def _encode_cursor(self, job: Job, position: int, repeats: int, emitted: int) -> str:
        payload = json.dumps({"s": job.signature, "p": position, "r": repeats, "n": emitted})
        return _b64(payload.encode())

    def _decode_cursor(self, job: Job, cursor: str) -> tuple[int, int, int]:
        try:
            data = json.loads(_unb64(cursor))
            fields = (data["s"], int(data["p"]), int(data["r"]), int(data["n"]))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise ApiError(400, "Invalid cursor value.") from exc
        if fields[0] != job.signature:
            raise ApiError(400, "Invalid cursor value: it belongs to another job.")
        return fields[1], fields[2], fields[3]

    # ----------------------------------------------------------------- pages
    def job_results(
        self, job_id: str, query: dict[str, list[str]], gzip_ok: bool, kind: str = "conversation"
    ) -> tuple[bytes, int]:
        """Render one results page; returns ``(body bytes, record count)``.

        Raises for unknown/expired jobs (404), unfinished jobs and bad parameters (400).
        """
        job = self.jobs.get(job_id, kind)
        state = self.jobs.job_state(job)
        if state == "EXPIRED":
            self.core.fault_fired("job_expired")
            raise ApiError(404, f"Job {job_id} has expired", "not.found")
        if state != "FULFILLED":
            raise ApiError(400, f"Job {job_id} is not complete: state is {state}")
        faults = self.core.faults
        size_text = query.get("pageSize", ["100"])[0]
        try:
            page_size = int(size_text)
        except ValueError as exc:
            raise ApiError(400, f"Invalid pageSize {size_text!r}") from exc
        if not 1 <= page_size <= faults.max_results_page_size:
            self.core.fault_fired("page_size_refused")
            raise ApiError(400, f"pageSize must be between 1 and {faults.max_results_page_size}")
        cursor = query.get("cursor", [""])[0]
        state_tuple = self._decode_cursor(job, cursor) if cursor else None
        cap = job.limit
        if faults.truncate_jobs_over is not None:
            cap = faults.truncate_jobs_over if cap is None else min(cap, faults.truncate_jobs_over)
        key = (job.signature, cursor, page_size, gzip_ok, cap, faults.repeat_records)
        if faults.page_cache_bytes > 0:
            with self.core.lock:
                cached = self._page_cache.get(key)
                if cached is not None:
                    self._page_cache.move_to_end(key)
            if cached is not None:
                return cached
        body, count = self._render_page(job, state_tuple, page_size, cap, faults.repeat_records)
        payload = gzip.compress(body, compresslevel=1) if gzip_ok else body
        if faults.page_cache_bytes > 0:
            with self.core.lock:
                self._page_cache[key] = (payload, count)
                self._page_cache_size += len(payload)
                while self._page_cache_size > faults.page_cache_bytes and self._page_cache:
                    _, (old, _count) = self._page_cache.popitem(last=False)
                    self._page_cache_size -= len(old)
        return payload, count

    def _render_page(
        self,
        job: Job,
        cursor: tuple[int, int, int] | None,
        page_size: int,
        cap: int | None,
        repeat: int,
    ) -> tuple[bytes, int]:
        sel = job.selection
        position, repeats, emitted = cursor if cursor else (sel.first_position(), 0, 0)
        records: list[Json] = []
        indices: list[int] = []
        new_indices: list[int] = []
        scan = sel.items(position)
        exhausted = False
        for _ in range(repeats):
            item = next(scan, None)
            if item is None:
                break
            records.append(item[1])
            indices.append(item[0])
        if repeats:
            self.core.fault_fired("repeated_records", repeats)
        while len(records) < page_size and (cap is None or emitted < cap):
            item = next(scan, None)
            if item is None:
                exhausted = True
                break
            records.append(item[1])
            indices.append(item[0])
            new_indices.append(item[0])
            emitted += 1
        more = not exhausted and (cap is None or emitted < cap) and next(scan, None) is not None
        truncate = self.core.faults.truncate_jobs_over
        if (
            truncate is not None
            and cap == truncate
            and emitted >= cap
            and not exhausted
            and (job.limit is None or job.limit > cap)
            and next(scan, None) is not None
        ):
            self.core.fault_fired("truncated")
        if isinstance(sel, UserSelection):
            repeats = sum(self._status_ledger.note(job.job_id, sel, r) for r in records)
            if repeats:
                self.core.fault_fired("status_in_two_jobs", repeats)
        self._count_as_of_availability(job, new_indices, records[len(records) - len(new_indices) :])
        out: Json = {sel.records_key: self.core.served(records)} if records else {}
        if cursor is not None and not records:
            self.core.fault_fired("empty_page")
        if not more and records and self.core.faults.empty_page_after_cursor:
            # The API omits empty arrays: a cursor may lead to a page that is the envelope alone.
            step = -1 if sel.descending else 1
            out["cursor"] = self._encode_cursor(job, indices[-1] + step, 0, emitted)
        elif more:
            step = -1 if sel.descending else 1
            k = min(repeat, len(new_indices), page_size - 1) if repeat > 0 else 0
            if k > 0:
                next_pos, next_repeats = new_indices[-k], k
            else:
                next_pos, next_repeats = indices[-1] + step, 0
            out["cursor"] = self._encode_cursor(job, next_pos, next_repeats, emitted)
        out["dataAvailabilityDate"] = iso(job.available_ms)
        return json.dumps(out, separators=(",", ":")).encode(), len(records)

    def _count_as_of_availability(self, job: Job, indices: list[int], records: list[Json]) -> None:
        """Count records served live that had ended by the job's clock (jobs lag the clock)."""
        sel = job.selection
        if not isinstance(sel, Selection) or job.available_ms >= job.clock_ms:
            return
        stale = sum(
            1
            for i, record in zip(indices, records, strict=True)
            if "conversationEnd" not in record and sel.ds.core(i).end_ms <= job.clock_ms
        )
        if stale:
            self.core.fault_fired("job_live_as_of_availability", stale)

    def bad_json_body(self) -> bytes:
        """Alternate between a non-JSON body and JSON lacking the records array."""
        with self.core.lock:
            self._bad_json_toggle += 1
            odd = self._bad_json_toggle % 2 == 1
        if odd:
            return b"<html><body>upstream error</body></html>"
        data = {
            "message": "partial response",
            "dataAvailabilityDate": iso(self.core.available_ms()),
        }
        return json.dumps(data).encode()
