"""Streaming JSON parsing of API pages with ijson's C backend.

Records are built one at a time from the bytes as they arrive, so memory does not grow with
the page size; numbers stay exact (``int`` or ``Decimal``).

The page's top-level scalars (``cursor``, ``totalHits``...) are read from its *envelope*: the
bytes before the records array and after it. Tokenising the whole body a second time just to
find them would double the parsing cost, so the parser keeps the first and last 64 KiB and
rebuilds the envelope from them, accepting it only when it is unambiguous (nothing but scalars
around the array, and at least one expected scalar found). Anything else raises
:class:`EnvelopeError`, and the caller parses the page again in *full* mode, which runs a
second ijson pass for each scalar.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Iterable
from typing import Any

import ijson

#: The backend every benchmark figure assumes; the others are 15-25x slower.
FAST_BACKEND = "yajl2_c"
EDGE_BYTES = 64 * 1024
_NESTING = re.compile(rb"[\[\]{}]")


class BadPageError(ValueError):
    """The body is not the JSON page we asked for (garbled, cut off, or missing its array)."""


class EnvelopeError(BadPageError):
    """The scalars around the array could not be read from the page's edges: parse in full."""


class PageParser:
    """Incremental parser for one page: feed bytes, collect finished records, then close.

    ``array_key`` names the top-level array of records (``conversations``, ``userDetails``,
    ``entities``...); ``scalar_keys`` are top-level values to capture (``cursor``, ``totalHits``).
    """

    def __init__(
        self, array_key: str, scalar_keys: Iterable[str] = (), *, full: bool = False
    ) -> None:
        self.array_key = array_key
        self.scalar_keys = tuple(scalar_keys)
        self.full = full
        self._records: Any = ijson.sendable_list()
        self._items = ijson.items_coro(self._records, f"{array_key}.item", use_float=False)
        self._scalar_sinks: dict[str, Any] = {}
        self._scalar_coros: dict[str, Any] = {}
        if full:
            for key in self.scalar_keys:
                sink = ijson.sendable_list()
                self._scalar_sinks[key] = sink
                self._scalar_coros[key] = ijson.items_coro(sink, key, use_float=False)
        self._head = bytearray()
        self._tail = b""
        self._scalars: dict[str, Any] = {}
        #: Whether the page had its records array at all (an empty one counts).
        self.has_array = False
        self.count = 0
        self.bytes = 0

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Parse the next bytes; return the records completed by them."""
        if not data:
            return []  # ijson takes an empty chunk for the end of the input
        self.bytes += len(data)
        if len(self._head) < EDGE_BYTES:
            self._head += data[: EDGE_BYTES - len(self._head)]
        self._tail = (
            data[-EDGE_BYTES:] if len(data) >= EDGE_BYTES else (self._tail + data)[-EDGE_BYTES:]
        )
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
        if self.full:
            self._scalars = {k: s[0] for k, s in self._scalar_sinks.items() if s}
            self.has_array = self.count > 0 or self._opening() is not None
        else:
            self._scalars = self._read_envelope()
        return done

    def _opening(self) -> re.Match[bytes] | None:
        pattern = rb'"' + re.escape(self.array_key.encode()) + rb'"\s*:\s*\['
        return re.search(pattern, bytes(self._head))

    def scalar(self, key: str) -> Any:
        """The captured top-level value of ``key`` (``None`` when absent)."""
        return self._scalars.get(key)

    def has_scalar(self, key: str) -> bool:
        """Whether the page carried ``key`` at the top level."""
        return key in self._scalars

    def _read_envelope(self) -> dict[str, Any]:
        if self.bytes <= EDGE_BYTES:  # the whole body is in the head: parse it outright
            whole = _loads(bytes(self._head))
            self.has_array = isinstance(whole.get(self.array_key), list)
            return _scalars_of(whole, self.scalar_keys)
        head = bytes(self._head)
        opening = self._opening()
        closing = self._tail.rfind(b"]")
        if opening is None or closing < 0:
            msg = f"no {self.array_key!r} array found at the page's edges"
            raise EnvelopeError(msg)
        prefix = head[: opening.start()]
        suffix = self._tail[closing + 1 :]
        if not self._tail[:closing].rstrip().endswith((b"}", b"[")):
            # The records array holds objects: its "]" follows a "}" (or its own "[").
            msg = "the last ']' of the page does not close an array of records"
            raise EnvelopeError(msg)
        prefix_body = prefix.lstrip()
        suffix_body = suffix.rstrip()
        if (
            not prefix_body.startswith(b"{")
            or not suffix_body.endswith(b"}")
            or _NESTING.search(prefix_body[1:])
            or _NESTING.search(suffix_body[:-1])
        ):
            msg = "the page's envelope holds more than scalars"
            raise EnvelopeError(msg)
        self.has_array = True
        envelope = _scalars_of(
            _loads(prefix + b'"' + self.array_key.encode() + b'":[]' + suffix), self.scalar_keys
        )
        if not envelope:
            # Every page we read carries at least one of its scalars (dataAvailabilityDate,
            # totalHits); none found means the last "]" may close some other array.
            msg = "none of the expected scalars found around the array"
            raise EnvelopeError(msg)
        return envelope


def _loads(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data, parse_float=decimal.Decimal)
    except ValueError:
        msg = "the page's envelope is not valid JSON"
        raise EnvelopeError(msg) from None
    if not isinstance(value, dict):
        msg = "the page is not a JSON object"
        raise BadPageError(msg)
    return value


def _scalars_of(envelope: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: envelope[k] for k in keys if k in envelope}


def parse_bytes(body: bytes, array_key: str, scalar_keys: Iterable[str] = ()) -> PageParser:
    """Parse a whole body at once (tests, small responses); records are in ``.records``."""
    parser = PageParser(array_key, scalar_keys)
    records = parser.feed(body)
    records += parser.close()
    parser.records = records  # type: ignore[attr-defined]
    return parser
