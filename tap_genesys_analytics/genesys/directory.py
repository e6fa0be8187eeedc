"""Directory entity listings (§7 of the fact sheet): paging by ``pageNumber``, each id once.

``{entities, pageSize, pageNumber, total, pageCount, nextUri, ...}`` is read until ``pageCount``
is reached or ``nextUri`` is empty; an endpoint without paging (presence definitions) answers a
plain listing, read once. Nothing here imports the Singer SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

Record = dict[str, Any]
Fetch = Callable[[Mapping[str, Any] | None], Mapping[str, Any]]

#: 25 is the API's default; 100 is the only documented cap (queue members) and keeps pages small.
DIRECTORY_PAGE_SIZE = 100


def has_next(page: Mapping[str, Any], page_number: int) -> bool:
    """Whether another page follows ``page`` (page ``page_number``)."""
    if not page.get("entities"):
        return False
    if "nextUri" in page and not page["nextUri"]:
        return False
    page_count = page.get("pageCount")
    if isinstance(page_count, int):
        return page_number < page_count
    return bool(page.get("nextUri"))


def entities(
    fetch: Fetch,
    *,
    page_size: int | None = DIRECTORY_PAGE_SIZE,
    params: Mapping[str, Any] | None = None,
) -> Iterator[Record]:
    """Yield every entity of a listing once, by ``id``.

    ``fetch(params)`` returns one page; ``page_size=None`` reads a listing without paging;
    ``params`` go with every page (the filters that widen a listing's defaults).
    Page-number listings shift when entities are added while they are read, so an entity can
    come twice: repeats are dropped. A page that adds nothing new ends the listing, so a server
    that ignores ``pageNumber`` cannot loop it forever.
    """
    seen: set[str] = set()
    page_number = 1
    while True:
        query: dict[str, Any] = dict(params or {})
        if page_size is not None:
            query.update(pageSize=page_size, pageNumber=page_number)
        page = fetch(query or None)
        new = 0
        for entity in page.get("entities") or ():
            entity_id = str(entity.get("id"))
            if entity_id in seen:
                continue
            seen.add(entity_id)
            new += 1
            yield dict(entity)
        if page_size is None or not new or not has_next(page, page_number):
            return
        page_number += 1
