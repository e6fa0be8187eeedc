"""User details (§2 and §6 of the fact sheet): job bodies, the count, and the flat status rows.

An ``AnalyticsUserDetail`` is ``{userId, primaryPresence[], routingStatus[]}`` for the interval
it was asked for; it has no interval of its own. The tap asks for cells of a fixed grid
(:func:`~tap_genesys_analytics.windows.grid_cell`) and keys each detail by its whole cell
(``intervalStart``/``intervalEnd``); ``coveredStart``/``coveredEnd`` say what the job really
covered, which is less than the cell only at the edges of the extracted range. Presence and
routing-status intervals become rows of their own, keyed by user, start and status, so a
warehouse needs no JSON columns. Nothing here imports the Singer SDK.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from tap_genesys_analytics.http.client import GenesysClient
from tap_genesys_analytics.windows import DateWindow, grid_cell, iso, parse_iso, split_for_limit

Record = dict[str, Any]

LOGGER = logging.getLogger("tap-genesys-analytics")
USERS_QUERY_PATH = "/api/v2/analytics/users/details/query"
#: The users query accepts at most 7 days without filters (31 with); the count uses none.
USERS_QUERY_MAX_DAYS = 7
#: The query's largest page, and how deep its page-number paging may go.
USERS_QUERY_PAGE_SIZE = 100
USERS_QUERY_MAX_RESULTS = 100_000
_MS = dt.timedelta(milliseconds=1)


def job_body(window: DateWindow, _start_of_day: bool = True) -> dict[str, Any]:
    """An ``AsyncUserDetailsQuery``: only ``interval`` and ``order`` of the fields it defines.

    User jobs have no ``startOfDayIntervalMatching``: a user detail is the user's statuses
    that overlap the interval, so the flag the runner passes is ignored.
    """
    return {"interval": window.interval, "order": "asc"}


class CellKeys:
    """Adds the grid cell (the key) and the covered interval to each user detail of a job.

    A job window is never longer than its cell and never crosses a cell boundary
    (:func:`~tap_genesys_analytics.windows.plan_grid`), so the cell of its start is its cell.
    """

    def __init__(self, chunk_days: int) -> None:
        self.chunk_days = chunk_days

    def __call__(self, record: Record, window: DateWindow) -> Record:
        """The runner's ``transform``: the key columns and the covered interval."""
        cell = grid_cell(window.start, self.chunk_days)
        record["intervalStart"] = iso(cell.start)
        record["intervalEnd"] = iso(cell.end)
        record["coveredStart"] = iso(window.start)
        record["coveredEnd"] = iso(window.end)
        return record


def filed_at(record: Record) -> str | None:
    """Where the runner files a user detail: the last millisecond its job covered.

    That instant lies in the job's window and in the run's range even when the window starts
    before the range (a run that begins inside a cell reads the whole cell), so the runner
    keeps, counts and emits every detail of every window it asked for.
    """
    value = record.get("coveredEnd")
    if not isinstance(value, str):
        return None
    return iso(parse_iso(value) - _MS)


def presence_rows(detail: Record) -> Iterator[Record]:
    """One row per ``primaryPresence`` interval, with its user."""
    yield from _rows(detail, "primaryPresence")


def routing_status_rows(detail: Record) -> Iterator[Record]:
    """One row per ``routingStatus`` interval, with its user."""
    yield from _rows(detail, "routingStatus")


def _rows(detail: Record, key: str) -> Iterator[Record]:
    user_id = detail.get("userId")
    for item in detail.get(key) or ():
        row = dict(item)
        row["userId"] = user_id
        yield row


def _instant(value: object) -> dt.datetime | None:
    return parse_iso(value) if isinstance(value, str) else None


class StatusRows:
    """The rows of one status table for one run, each status key once.

    The API serves a status whole to every job whose interval it overlaps, so one that runs
    across a cell boundary (an agent offline over a weekend) comes in both cells' details. Only
    such statuses can repeat, and only in the next cells of the run, so only they are
    remembered: the keys of statuses still running at the end of the cell their detail covers,
    each forgotten once the cells read have passed its end. Memory is a few keys per user, not
    the run. A later run may emit a key again; the tables are upserted on it.
    """

    def __init__(self, key: str, status_field: str) -> None:
        self.key = key
        self.status_field = status_field
        #: Status key → its end (None: still running), for statuses past their cell's end.
        self._running: dict[tuple[Any, Any, Any], dt.datetime | None] = {}
        self._cell_start: dt.datetime | None = None
        #: Rows not written because an earlier cell of this run wrote them.
        self.repeats = 0

    def __call__(self, detail: Record) -> Iterator[Record]:
        """The detail's rows, without those an earlier cell of this run already gave."""
        covered_start = _instant(detail.get("coveredStart"))
        covered_end = _instant(detail.get("coveredEnd"))
        if covered_start is not None and covered_start != self._cell_start:
            self._forget_ended(covered_start)
            self._cell_start = covered_start
        for row in _rows(detail, self.key):
            key = (row["userId"], row.get("startTime"), row.get(self.status_field))
            start = _instant(row.get("startTime"))
            end = _instant(row.get("endTime"))
            began_before = start is not None and covered_start is not None and start < covered_start
            if began_before and key in self._running:
                self.repeats += 1
                continue
            if covered_end is not None and (end is None or end > covered_end):
                self._running[key] = end
            yield row

    def _forget_ended(self, cell_start: dt.datetime) -> None:
        """Drop statuses that ended before ``cell_start``: no later cell can serve them."""
        self._running = {
            k: end for k, end in self._running.items() if end is None or end > cell_start
        }


class UsersQuery:
    """``POST /api/v2/analytics/users/details/query``, used to count the users of a window.

    Its ``totalHits`` counts status records, one per user and day, and is approximate, so it
    is never compared with the job's users. The count pages the query instead and collects
    the distinct ``userId``s: the same thing the job's records are counted by.
    """

    def __init__(self, client: GenesysClient) -> None:
        self.client = client
        #: Query requests made for counts, for the closing log line.
        self.requests = 0

    def unique_users(self, window: DateWindow) -> int:
        """How many distinct users have a detail in ``window``, in pieces the query accepts."""
        seen: set[str] = set()
        for piece in split_for_limit(window, USERS_QUERY_MAX_DAYS):
            self._collect(piece, seen)
        return len(seen)

    def _collect(self, piece: DateWindow, seen: set[str]) -> None:
        """Page one piece to its end; a piece deeper than paging may go is counted by days."""
        page_number = 1
        while True:
            details, total = self._page(piece, page_number)
            if page_number == 1 and total > USERS_QUERY_MAX_RESULTS and len(piece.days) > 1:
                for one_day in split_for_limit(piece, 1):
                    self._collect(one_day, seen)
                return
            seen.update(str(d["userId"]) for d in details if d.get("userId"))
            # The page after the last one has no ``userDetails`` (the API omits empty arrays).
            if not details:
                return
            if (page_number + 1) * USERS_QUERY_PAGE_SIZE > USERS_QUERY_MAX_RESULTS:
                LOGGER.warning(
                    "users query %s: paging stops at %d results; the count of users may be low",
                    piece.interval,
                    USERS_QUERY_MAX_RESULTS,
                )
                return
            page_number += 1

    def _page(self, piece: DateWindow, page_number: int) -> tuple[list[Record], int]:
        # Ends on the piece's last millisecond: whether an end at 00:00:00.000Z also selects
        # the next day's status records is not documented.
        interval = f"{iso(piece.start)}/{iso(piece.end - _MS)}"
        body = {
            "interval": interval,
            "order": "asc",
            "paging": {"pageSize": USERS_QUERY_PAGE_SIZE, "pageNumber": page_number},
        }
        _, data = self.client.call(
            "POST", USERS_QUERY_PATH, body=body, context=f"count users {interval}"
        )
        self.requests += 1
        details = data.get("userDetails") or []
        return [d for d in details if isinstance(d, dict)], int(data.get("totalHits") or 0)
