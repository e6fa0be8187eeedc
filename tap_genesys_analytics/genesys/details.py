"""The synchronous details query: counts (``totalHits``) and the fresh tail jobs cannot serve yet.

Paged by ``paging.pageNumber`` (no cursor), at most 100 per page and 100,000 results deep; it
selects conversations by start day, so windows are whole UTC days.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tap_genesys_analytics.config.settings import Settings
from tap_genesys_analytics.errors import FatalAPIError, GenesysError
from tap_genesys_analytics.genesys.by_id import ConversationsById
from tap_genesys_analytics.http.client import GenesysClient, Page
from tap_genesys_analytics.windows import DateWindow, split_for_limit

QUERY_PATH = "/api/v2/analytics/conversations/details/query"
MAX_RESULTS = 100_000


class QueryDepthError(GenesysError):
    """The day holds more results than the query pages (400 "Pagination may not exceed…")."""


class DetailsQuery:
    """``POST /api/v2/analytics/conversations/details/query`` with the tap's filters."""

    def __init__(self, client: GenesysClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.by_id = ConversationsById(client)

    @property
    def max_days(self) -> int:
        """The query accepts 7-day intervals without filters and 31-day ones with filters."""
        return 31 if self.settings.has_filters else 7

    def body(self, window: DateWindow, *, page_size: int, page_number: int) -> dict[str, Any]:
        """A ConversationQuery body with only fields the API defines."""
        body: dict[str, Any] = {
            "interval": window.day_matched_interval,
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

    def page(self, window: DateWindow, page_number: int, page: Page) -> Iterator[dict[str, Any]]:
        """Stream one page of the query; ``page.scalars['totalHits']`` is filled at the end."""
        if page_number * self.settings.query_page_size > MAX_RESULTS:
            msg = f"more than the {MAX_RESULTS} results the query pages through"
            raise QueryDepthError(msg)
        try:
            yield from self.client.stream(
                "POST",
                QUERY_PATH,
                array_key="conversations",
                scalar_keys=("totalHits",),
                page=page,
                body=self.body(
                    window, page_size=self.settings.query_page_size, page_number=page_number
                ),
                context=f"query {window.interval} page {page_number}",
            )
        except FatalAPIError as exc:
            if exc.status == 400 and "pagination may not exceed" in str(exc).lower():
                raise QueryDepthError(str(exc)) from None
            raise

    def by_ids(self, ids: list[str]) -> Iterator[dict[str, Any]]:
        """The current version of each conversation in ``ids`` (absent ones are left out).

        Through :class:`ConversationsById`: batches of ids, halved when refused, then one id
        at a time, so one purged conversation never stops a run.
        """
        yield from self.by_id.fetch(ids)
