"""Directory dimensions (queues, users, codes...): full entity listings on every run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from tap_genesys_analytics.listings import DIRECTORY_PAGE_SIZE, entities
from tap_genesys_analytics.streams import GenesysStream, stream_class

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class DimensionStream(GenesysStream):
    """A directory listing read in full each run: small tables that analytics ids join to."""

    primary_keys: ClassVar[list[str]] = ["id"]
    replication_key = None
    path: ClassVar[str] = ""
    #: Entities per page, or None for an endpoint that takes no paging parameters.
    page_size: ClassVar[int | None] = DIRECTORY_PAGE_SIZE

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Every entity of the listing, each once."""
        client = self.genesys_tap.client

        def fetch(params: Mapping[str, Any] | None) -> Mapping[str, Any]:
            page = (params or {}).get("pageNumber", 1)
            context = f"{self.name} page {page}"
            _, data = client.call("GET", self.path, params=params, context=context)
            return data

        count = 0
        for entity in entities(fetch, page_size=self.page_size):
            count += 1
            yield entity
        self.logger.info("%s: %d entities", self.name, count)


def _dimension(
    name: str, path: str, page_size: int | None = DIRECTORY_PAGE_SIZE
) -> type[DimensionStream]:
    doc = f"``{name}``: the entities of ``GET {path}``."
    return stream_class(DimensionStream, name, doc, path=path, page_size=page_size)


DIMENSION_STREAMS: list[type[DimensionStream]] = [
    _dimension("queues", "/api/v2/routing/queues"),
    _dimension("users", "/api/v2/users"),
    _dimension("wrapup_codes", "/api/v2/routing/wrapupcodes"),
    _dimension("divisions", "/api/v2/authorization/divisions"),
    _dimension("skills", "/api/v2/routing/skills"),
    _dimension("groups", "/api/v2/groups"),
    # The presence definitions endpoint takes no paging parameters (SDK 269.0.0).
    _dimension("presence_definitions", "/api/v2/presence/definitions", page_size=None),
]
