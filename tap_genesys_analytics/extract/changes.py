"""Items (evaluations, surveys) that changed since the bookmark: listed per interval, read by id.

The bookmark is the end of the last interval whose items were all written; STATE follows every
interval, so a killed run resumes at the interval it was in (and writes that interval's items
again, which a keyed load absorbs). Each item is read once per run: the by-id answer is the
item as it is now, which already includes every later event up to the end of the run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Protocol

from tap_genesys_analytics.errors import FatalAPIError
from tap_genesys_analytics.genesys.quality import Kind, changes, tombstone
from tap_genesys_analytics.windows import DateWindow, iso, parse_iso

Record = dict[str, Any]

#: One aggregates request per day of events: the groups of one request stay one day's changes
#: (the API's limit on groups per response is undocumented).
CHANGES_SLICE = dt.timedelta(days=1)


class Caller(Protocol):
    """The one method of the HTTP client this reader needs (retries and pacing are its own)."""

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Any = None,
        context: str = "",
    ) -> tuple[int, dict[str, Any]]:
        """Send one request; raise on an answer another try cannot fix."""


class ChangeFeed:
    """Reads the items of one kind that changed in ``[bookmark, end)``, interval by interval."""

    def __init__(
        self,
        client: Caller,
        kind: Kind,
        state: MutableMapping[str, Any],
        save_state: Callable[[], None],
        label: str,
    ) -> None:
        """``state`` is the stream's STATE (edited in place); ``save_state`` writes it."""
        self.client = client
        self.kind = kind
        self.state = state
        self.save_state = save_state
        self.label = label
        self.list_requests = 0
        self.item_requests = 0
        self.deleted = 0

    def windows(self, start: dt.datetime, end: dt.datetime) -> list[DateWindow]:
        """The intervals still to read: from the bookmark (or ``start``) to ``end``."""
        bookmark = self.state.get("bookmark")
        first = parse_iso(bookmark) if isinstance(bookmark, str) else start
        out = []
        while first < end:
            last = min(first + CHANGES_SLICE, end)
            out.append(DateWindow(first, last))
            first = last
        return out

    def run(self, start: dt.datetime, end: dt.datetime) -> Iterator[Record]:
        """Yield each changed item (or a deleted item's tombstone); STATE after each interval."""
        read: set[str] = set()
        for window in self.windows(start, end):
            _, data = self.client.call(
                "POST",
                self.kind.aggregates_path,
                body=self.kind.changes_body(window.interval),
                context=f"{self.label} changes {window.interval}",
            )
            self.list_requests += 1
            for change in changes(self.kind, data):
                if change.item_id in read:
                    continue
                read.add(change.item_id)
                item = (
                    None if change.deleted else self._read(change.conversation_id, change.item_id)
                )
                if item is None:
                    self.deleted += 1
                    yield tombstone(change)
                else:
                    yield item
            self.state["bookmark"] = iso(window.end)
            self.save_state()

    def _read(self, conversation_id: str, item_id: str) -> Record | None:
        """One item by id; None when the API no longer has it (deleted)."""
        self.item_requests += 1
        try:
            _, item = self.client.call(
                "GET",
                self.kind.item_path(conversation_id, item_id),
                context=f"{self.label} {item_id}",
            )
        except FatalAPIError as exc:
            if exc.status == 404:
                return None
            raise
        return item

    def summary(self) -> str:
        """Request counts for the log."""
        return (
            f"{self.list_requests} change listing request(s), {self.item_requests} item "
            f"request(s), {self.deleted} deleted"
        )
