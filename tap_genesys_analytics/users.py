"""User details (§2 and §6 of the fact sheet): job bodies, the count, and the flat status rows.

An ``AnalyticsUserDetail`` is ``{userId, primaryPresence[], routingStatus[]}`` for the interval
it was asked for; it has no interval of its own, so the chunk's window is added to it and is
part of its key. Presence and routing-status intervals become rows of their own, keyed by user,
start and status, so a warehouse needs no JSON columns. Nothing here imports the Singer SDK.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tap_genesys_analytics.client import GenesysClient
from tap_genesys_analytics.windows import DateWindow, iso

Record = dict[str, Any]

USERS_QUERY_PATH = "/api/v2/analytics/users/details/query"


def job_body(window: DateWindow, _start_of_day: bool = True) -> dict[str, Any]:
    """An ``AsyncUserDetailsQuery``: only ``interval`` and ``order`` of the fields it defines.

    User jobs have no ``startOfDayIntervalMatching``: a user detail is the user's statuses
    that overlap the interval, so the flag the runner passes is ignored.
    """
    return {"interval": window.interval, "order": "asc"}


def with_interval(record: Record, window: DateWindow) -> Record:
    """Add the window the job covered (``intervalStart``/``intervalEnd``) to a user detail."""
    record["intervalStart"] = iso(window.start)
    record["intervalEnd"] = iso(window.end)
    return record


def interval_start(record: Record) -> str | None:
    """The start the runner files a user detail under (set by :func:`with_interval`)."""
    value = record.get("intervalStart")
    return value if isinstance(value, str) else None


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


class UsersQuery:
    """``POST /api/v2/analytics/users/details/query``, used only for its ``totalHits``."""

    def __init__(self, client: GenesysClient) -> None:
        self.client = client

    def total_hits(self, window: DateWindow) -> int:
        """The API's count of users with a detail in ``window`` (one call: users are distinct)."""
        body = {
            "interval": window.interval,
            "order": "asc",
            "paging": {"pageSize": 1, "pageNumber": 1},
        }
        _, data = self.client.call(
            "POST", USERS_QUERY_PATH, body=body, context=f"count users {window.interval}"
        )
        return int(data.get("totalHits") or 0)
