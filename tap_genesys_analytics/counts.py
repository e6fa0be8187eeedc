"""The details query, used to count: ``totalHits`` for a window, to catch silent truncation."""

from __future__ import annotations

from typing import Any

from tap_genesys_analytics.client import GenesysClient
from tap_genesys_analytics.settings import Settings
from tap_genesys_analytics.windows import DateWindow, split_for_limit

QUERY_PATH = "/api/v2/analytics/conversations/details/query"


class DetailsQuery:
    """``POST /api/v2/analytics/conversations/details/query`` with the tap's filters."""

    def __init__(self, client: GenesysClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    @property
    def max_days(self) -> int:
        """The query accepts 7-day intervals without filters and 31-day ones with filters."""
        return 31 if self.settings.has_filters else 7

    def body(self, window: DateWindow, *, page_size: int, page_number: int) -> dict[str, Any]:
        """A ConversationQuery body with only fields the API defines."""
        body: dict[str, Any] = {
            "interval": window.interval,
            "order": "asc",
            "orderBy": "conversationStart",
            "paging": {"pageSize": page_size, "pageNumber": page_number},
        }
        if self.settings.conversation_filters:
            body["conversationFilters"] = self.settings.conversation_filters
        if self.settings.segment_filters:
            body["segmentFilters"] = self.settings.segment_filters
        return body

    def total_hits(self, window: DateWindow) -> int:
        """The API's count of conversations that started in the (day-aligned) window."""
        total = 0
        for piece in split_for_limit(window, self.max_days):
            _, data = self.client.call(
                "POST",
                QUERY_PATH,
                body=self.body(piece, page_size=1, page_number=1),
                context=f"count {piece.interval}",
            )
            total += int(data.get("totalHits") or 0)
        return total
