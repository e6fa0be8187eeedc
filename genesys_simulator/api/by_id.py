"""Conversation details by id: ``GET .../conversations/details?id=`` and ``.../{id}/details``.

Both answer as of the simulator's clock and without participant attributes, as the API's
``AnalyticsConversationWithoutAttributes`` does.
"""

from __future__ import annotations

from typing import Any

from ..dataset import Dataset
from .core import Core
from .errors import ApiError
from .routes import Exchange, RouteTable

Json = dict[str, Any]


class ConversationsById:
    """Looks conversations up by id in the generated data."""

    def __init__(self, core: Core, dataset: Dataset) -> None:
        """Nothing to keep: ids map back to indices by arithmetic."""
        self.core = core
        self.dataset = dataset

    def register(self, routes: RouteTable) -> None:
        """The batch route and the single-id route."""
        root = "/api/v2/analytics/conversations"
        routes.add("GET", f"{root}/details", "details_multi", self._multi_route)
        routes.add("GET", f"{root}/([^/]+)/details", "details_one", self._one_route)

    def _multi_route(self, ex: Exchange) -> None:
        ids = [i for value in ex.query.get("id", []) for i in value.split(",") if i]
        ex.send_json(200, self.conversations_details(ids))

    def _one_route(self, ex: Exchange) -> None:
        ex.send_json(200, self.conversation_details(ex.args[0]))

    def _visible_conversation(self, conversation_id: str) -> Json | None:
        index = self.dataset.index_of(conversation_id)
        now_ms = self.core.now_ms
        if index is None or self.dataset.start_of(index) > now_ms:
            return None
        return self.dataset.record(index, now_ms, attributes=False)

    def conversation_details(self, conversation_id: str) -> Json:
        """One conversation by id, as it is at the clock; 404 when unknown or not started."""
        record = self._visible_conversation(conversation_id)
        if record is None:
            raise ApiError(404, f"Conversation {conversation_id} was not found.", "not.found")
        return record

    def conversations_details(self, conversation_ids: list[str]) -> Json:
        """Several conversations by id; unknown ids are left out."""
        if not conversation_ids:
            raise ApiError(400, "At least one id is required.")
        found = [r for r in map(self._visible_conversation, conversation_ids) if r is not None]
        return {"conversations": found} if found else {}
