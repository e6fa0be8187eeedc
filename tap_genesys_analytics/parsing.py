"""Streaming JSON parsing of API pages with ijson's C backend.

Records are built one at a time from the bytes as they arrive, so memory does not grow with
the page size; numbers stay exact (``int`` or ``Decimal``). Top-level scalars such as the
``cursor`` are captured in the same pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ijson

#: The backend every benchmark figure assumes; the others are 15-25x slower.
FAST_BACKEND = "yajl2_c"


class BadPageError(ValueError):
    """The body is not the JSON page we asked for (garbled, cut off, or missing its array)."""


class PageParser:
    """Incremental parser for one page: feed bytes, collect finished records, then close.

    ``array_key`` names the top-level array of records (``conversations``, ``userDetails``,
    ``entities``...); ``scalar_keys`` are top-level values to capture (``cursor``, ``totalHits``).
    """

    def __init__(self, array_key: str, scalar_keys: Iterable[str] = ()) -> None:
        self.array_key = array_key
        self._records: Any = ijson.sendable_list()
        self._items = ijson.items_coro(self._records, f"{array_key}.item", use_float=False)
        self._scalar_sinks: dict[str, Any] = {}
        self._scalar_coros: dict[str, Any] = {}
        for key in scalar_keys:
            sink = ijson.sendable_list()
            self._scalar_sinks[key] = sink
            self._scalar_coros[key] = ijson.items_coro(sink, key, use_float=False)
        self.count = 0
        self.bytes = 0

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Parse the next bytes; return the records completed by them."""
        self.bytes += len(data)
        try:
            self._items.send(data)
            for coro in self._scalar_coros.values():
                coro.send(data)
        except ijson.JSONError as exc:
            msg = f"response is not valid JSON near byte {self.bytes}: {exc}"
            raise BadPageError(msg) from None
        if not self._records:
            return []
        done: list[dict[str, Any]] = list(self._records)
        del self._records[:]
        self.count += len(done)
        return done

    def close(self) -> list[dict[str, Any]]:
        """Finish the page; raise :class:`BadPageError` when the JSON was cut off."""
        try:
            self._items.close()
            for coro in self._scalar_coros.values():
                coro.close()
        except ijson.JSONError as exc:
            msg = f"response JSON ends early after {self.bytes} bytes: {exc}"
            raise BadPageError(msg) from None
        done: list[dict[str, Any]] = list(self._records)
        del self._records[:]
        self.count += len(done)
        return done

    def scalar(self, key: str) -> Any:
        """The captured top-level value of ``key`` (``None`` when absent)."""
        sink = self._scalar_sinks.get(key)
        return sink[0] if sink else None

    def has_scalar(self, key: str) -> bool:
        """Whether the page carried ``key`` at the top level."""
        return bool(self._scalar_sinks.get(key))


def parse_bytes(body: bytes, array_key: str, scalar_keys: Iterable[str] = ()) -> PageParser:
    """Parse a whole body at once (tests, small responses); records are in ``.records``."""
    parser = PageParser(array_key, scalar_keys)
    records = parser.feed(body)
    records += parser.close()
    parser.records = records  # type: ignore[attr-defined]
    return parser
