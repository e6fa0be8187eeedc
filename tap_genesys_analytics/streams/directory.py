"""Directory dimensions (queues, users, codes...): full entity listings on every run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from tap_genesys_analytics.genesys.directory import DIRECTORY_PAGE_SIZE, entities
from tap_genesys_analytics.streams.base import GenesysStream, stream_class

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class DimensionStream(GenesysStream):
    """A directory listing read in full each run: small tables that analytics ids join to."""

    primary_keys: ClassVar[list[str]] = ["id"]
    replication_key = None
    path: ClassVar[str] = ""
    #: Entities per page, or None for an endpoint that takes no paging parameters.
    page_size: ClassVar[int | None] = DIRECTORY_PAGE_SIZE
    #: One listing per entry, each with these filters: a listing whose default hides entities
    #: that historical analytics still name (users who left, deactivated presences) is asked
    #: for them too. An entity listed by several reads is emitted once.
    filters: ClassVar[tuple[Mapping[str, str], ...]] = ({},)

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Every entity of the listing, each once."""
        client = self.genesys_tap.client

        def fetch(params: Mapping[str, Any] | None) -> Mapping[str, Any]:
            query = dict(params or {})
            page = query.pop("pageNumber", 1)
            query.pop("pageSize", None)
            shown = "".join(f" {k}={v}" for k, v in query.items())
            context = f"{self.name}{shown} page {page}"
            _, data = client.call("GET", self.path, params=params, context=context)
            return data

        seen: set[str] = set()
        for filters in self.filters:
            for entity in entities(fetch, page_size=self.page_size, params=filters):
                entity_id = str(entity.get("id"))
                if entity_id not in seen:
                    seen.add(entity_id)
                    yield entity
        self.logger.info("%s: %d entities", self.name, len(seen))


def _dimension(
    name: str,
    path: str,
    page_size: int | None = DIRECTORY_PAGE_SIZE,
    filters: tuple[Mapping[str, str], ...] = ({},),
) -> type[DimensionStream]:
    doc = f"``{name}``: the entities of ``GET {path}``."
    return stream_class(DimensionStream, name, doc, path=path, page_size=page_size, filters=filters)


DIMENSION_STREAMS: list[type[DimensionStream]] = [
    _dimension("queues", "/api/v2/routing/queues"),
    # Only active users unless asked: agents who left still appear in historical data.
    _dimension("users", "/api/v2/users", filters=({"state": "any"},)),
    _dimension("wrapup_codes", "/api/v2/routing/wrapupcodes"),
    _dimension("divisions", "/api/v2/authorization/divisions"),
    _dimension("skills", "/api/v2/routing/skills"),
    _dimension("groups", "/api/v2/groups"),
    # No paging parameters (SDK 269.0.0); deactivated definitions only when asked, and the
    # parameter takes TRUE or FALSE (that casing is the documented one), not both: read both.
    _dimension(
        "presence_definitions",
        "/api/v2/presence/definitions",
        page_size=None,
        filters=({"deactivated": "FALSE"}, {"deactivated": "TRUE"}),
    ),
    # Deleted flows are listed only when asked (``deleted=true``), yet flow aggregates of past
    # days still name them: read both listings, each flow once.
    _dimension("flows", "/api/v2/flows", filters=({}, {"deleted": "true"})),
    # Outcomes can be renamed, never deleted; milestones are the org's pool (<= 1000).
    _dimension("flow_outcomes", "/api/v2/flows/outcomes"),
    _dimension("flow_milestones", "/api/v2/flows/milestones"),
]
