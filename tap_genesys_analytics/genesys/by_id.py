"""Conversations fetched again by id, robust to ids the API no longer serves.

``GET /api/v2/analytics/conversations/details?id=a,b,...`` answers a whole batch; a purged or
GDPR-deleted id can make it answer 404, too many ids 400, and a long URL 413 or 414. None of
that may stop a run (the ids live in STATE, so every later run would stop the same way): a
refused batch is halved until each id goes alone to
``GET /api/v2/analytics/conversations/{conversationId}/details``, and an id refused there is
skipped, named in one warning line. A batch refused for its size also lowers the batch size
for the rest of the run. Both endpoints serve conversations without participant ``attributes``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from tap_genesys_analytics.errors import AuthError, FatalAPIError
from tap_genesys_analytics.http.client import GenesysClient, Page

LOGGER = logging.getLogger("tap-genesys-analytics")
BY_IDS_PATH = "/api/v2/analytics/conversations/details"
ONE_PATH = "/api/v2/analytics/conversations/{}/details"
#: Answers that say the batch was too large (too many ids, too long a URL), not that an id is.
SIZE_REFUSALS = frozenset({400, 413, 414})


class ConversationsById:
    """The by-id endpoints of one run: batches, halved when refused, one id at a time last."""

    def __init__(self, client: GenesysClient) -> None:
        self.client = client
        #: The largest batch the API may take, once a batch was refused for its size.
        self.max_ids: int | None = None

    def fetch(self, ids: list[str]) -> Iterator[dict[str, Any]]:
        """The current version of each conversation in ``ids``; ids not served are left out."""
        skipped: list[str] = []
        yield from self._batch(ids, skipped)
        if skipped:
            LOGGER.warning(
                "%d conversation id(s) are no longer served by "
                "GET /api/v2/analytics/conversations/{conversationId}/details (purged or "
                "deleted), skipped and forgotten: %s",
                len(skipped),
                ", ".join(skipped),
            )

    def _batch(self, ids: list[str], skipped: list[str]) -> Iterator[dict[str, Any]]:
        if self.max_ids is not None and len(ids) > self.max_ids:
            for offset in range(0, len(ids), self.max_ids):
                yield from self._batch(ids[offset : offset + self.max_ids], skipped)
            return
        if len(ids) == 1:
            yield from self._one(ids[0], skipped)
            return
        try:
            yield from self.client.stream(
                "GET",
                BY_IDS_PATH,
                array_key="conversations",
                scalar_keys=(),
                page=Page(),
                params={"id": ",".join(ids)},
                context=f"{len(ids)} open conversation(s) by id",
            )
        except AuthError:
            raise
        except FatalAPIError as exc:
            if not 400 <= exc.status < 500:
                raise
            half = (len(ids) + 1) // 2
            if exc.status in SIZE_REFUSALS:
                self.max_ids = half if self.max_ids is None else min(self.max_ids, half)
            LOGGER.info(
                "%s: HTTP %d for a batch of %d id(s); asking in batches of %d",
                BY_IDS_PATH,
                exc.status,
                len(ids),
                half,
            )
            yield from self._batch(ids[:half], skipped)
            yield from self._batch(ids[half:], skipped)

    def _one(self, conversation_id: str, skipped: list[str]) -> Iterator[dict[str, Any]]:
        try:
            _, record = self.client.call(
                "GET", ONE_PATH.format(conversation_id), context="open conversation by id"
            )
        except AuthError:
            raise
        except FatalAPIError as exc:
            if not 400 <= exc.status < 500:
                raise
            if exc.status != 404:
                LOGGER.warning("conversation %s skipped: %s", conversation_id, exc)
            skipped.append(conversation_id)
            return
        if record:
            yield record
