"""Streaming JSON parsing of API pages with ijson's C backend, pulled from a file-like body.

Records are built one at a time from the bytes as they arrive, so memory does not grow with
the page size; numbers stay exact (``int`` or ``Decimal``).

ijson's *pull* API (``ijson.items`` over an object with ``read(n)``) runs about twice as fast
as its push API (``items_coro`` fed pieces) with the same C backend, so the body is handed to
ijson as a file: :class:`BodyReader` reads the socket and inflates gzip as it goes, and
:class:`PageParser` wraps it to count the bytes and keep the page's edges.

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
import logging
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, cast

import ijson


class Inflater(Protocol):
    """A gzip decompressor: the standard ``zlib`` one, or zlib-ng's (the same interface)."""

    unconsumed_tail: bytes
    eof: bool

    def decompress(self, data: bytes, max_length: int = 0, /) -> bytes:
        """Inflate ``data``, at most ``max_length`` bytes out; the rest stays in the tail."""
        ...

    def flush(self, length: int = ..., /) -> bytes:
        """What is left at the end of the stream."""
        ...


try:
    #: zlib-ng inflates the same gzip streams 3-5x faster than the standard zlib (README,
    #: implementation notes); the standard module stays the fallback.
    from zlib_ng import zlib_ng as _zlib_ng

    _new: Callable[[int], Inflater] = _zlib_ng.decompressobj
    INFLATE_ERRORS: tuple[type[Exception], ...] = (
        zlib.error,
        cast("type[Exception]", _zlib_ng.error),
    )
except ImportError:  # pragma: no cover - zlib-ng is a dependency; kept for odd platforms
    _new = cast("Callable[[int], Inflater]", zlib.decompressobj)
    INFLATE_ERRORS = (zlib.error,)


def new_inflater(wbits: int) -> Inflater:
    """A decompressor for ``wbits`` (``MAX_WBITS | 16``: gzip), zlib-ng's when installed."""
    return _new(wbits)


#: The backend every benchmark figure assumes; the others are 15-25x slower.
FAST_BACKEND = "yajl2_c"
#: ijson's backend in this process (its C one unless ijson was built without it).
BACKEND: str = ijson.backend
LOGGER = logging.getLogger("tap-genesys-analytics")


def warn_if_slow_backend() -> None:
    """One warning when ijson lacks its C backend: every figure in the README assumes it."""
    if BACKEND != FAST_BACKEND:
        LOGGER.warning(
            "ijson runs on its %s backend, not %s: pages parse 15-25x slower; reinstall ijson "
            "from a wheel for this platform",
            BACKEND,
            FAST_BACKEND,
        )


EDGE_BYTES = 64 * 1024
#: Bytes ijson asks for at a time (its own default); larger buffers measured no faster.
READ_SIZE = 64 * 1024
_NESTING = re.compile(rb"[\[\]{}]")
#: Fields of Genesys's ``ErrorBody``: a page carrying one is an error, not an empty page.
ERROR_BODY_KEYS = frozenset({"message", "code", "status", "contextId", "errors"})


class BadPageError(ValueError):
    """The body is not the JSON page we asked for (garbled, cut off, or missing its array)."""


class EnvelopeError(BadPageError):
    """The scalars around the array could not be read from the page's edges: parse in full."""


class Readable(Protocol):
    """What ijson needs of a body: ``read(n)`` returning at most ``n`` bytes, ``b""`` at the end."""

    def read(self, size: int, /) -> bytes:
        """Up to ``size`` bytes; ``b""`` only at the end of the body (or when ``size`` is 0)."""
        ...


class BodyReader:
    """A response body as a file: raw reads, inflated when gzipped, never more than asked.

    ``raw_read(n)`` returns up to ``n`` bytes as they came off the wire (``urllib3``'s
    ``raw.read(n, decode_content=False)``). Inflating here with zlib-ng measured faster than
    urllib3's own decoding. A gzip stream that stops before its end, or is corrupt, raises
    :class:`BadPageError`, like a cut-off JSON body.
    """

    def __init__(self, raw_read: Callable[[int], bytes], *, gzipped: bool) -> None:
        self._raw_read = raw_read
        self._inflate = new_inflater(zlib.MAX_WBITS | 16) if gzipped else None
        self._raw_done = False

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes of the (inflated) body; all of the rest when ``size`` < 0."""
        if size < 0:
            parts = []
            while part := self.read(READ_SIZE):
                parts.append(part)
            return b"".join(parts)
        if size == 0:
            return b""  # ijson probes with read(0) for bytes vs str
        if self._inflate is None:
            return self._raw_read(size)
        try:
            return self._inflated(self._inflate, size)
        except INFLATE_ERRORS as exc:
            msg = f"gzip body is corrupt ({exc})"
            raise BadPageError(msg) from None

    def _inflated(self, inflate: Inflater, size: int) -> bytes:
        while True:
            if inflate.unconsumed_tail:
                out = inflate.decompress(inflate.unconsumed_tail, size)
            elif self._raw_done:
                return b""
            else:
                chunk = self._raw_read(size)
                if not chunk:
                    self._raw_done = True
                    if not inflate.eof:
                        msg = "gzip body ends early"
                        raise BadPageError(msg)
                    return inflate.flush()
                out = inflate.decompress(chunk, size)
            if out:
                return out


class PageParser:
    """Parser for one page: iterate :meth:`records` over its body, then read its scalars.

    ``array_key`` names the top-level array of records (``conversations``, ``userDetails``,
    ``entities``...); ``scalar_keys`` are top-level values to capture (``cursor``, ``totalHits``).
    """

    def __init__(
        self, array_key: str, scalar_keys: Iterable[str] = (), *, full: bool = False
    ) -> None:
        self.array_key = array_key
        self.scalar_keys = tuple(scalar_keys)
        self.full = full
        self._scalar_sinks: dict[str, Any] = {}
        self._scalar_coros: list[Any] = []
        if full:
            for key in self.scalar_keys:
                sink = ijson.sendable_list()
                self._scalar_sinks[key] = sink
                self._scalar_coros.append(ijson.items_coro(sink, key, use_float=False))
        self._source: Readable | None = None
        self._head = b""
        self._tail = b""
        self._at_end = False
        self._scalars: dict[str, Any] = {}
        #: The top-level keys of a body small enough to be read whole (``None`` otherwise).
        self._keys: frozenset[str] | None = None
        #: Whether the page had its records array at all (an empty one counts).
        self.has_array = False
        #: Whether the whole body was read and its scalars are known.
        self.done = False
        self.count = 0
        self.bytes = 0

    def records(self, source: Readable) -> Iterator[dict[str, Any]]:
        """Yield the page's records as their bytes arrive from ``source``, then read its scalars.

        Raises :class:`BadPageError` when the body is not valid JSON or ends early; the
        records yielded before that are valid ones (the caller decides what to do with them).
        """
        self._source = source
        try:
            for record in ijson.items(
                self, f"{self.array_key}.item", use_float=False, buf_size=READ_SIZE
            ):
                self.count += 1
                yield record
            for coro in self._scalar_coros:
                coro.close()
        except ijson.JSONError as exc:
            raise self._bad(exc) from None
        if self.full:
            self._scalars = {k: s[0] for k, s in self._scalar_sinks.items() if s}
            self.has_array = self.count > 0 or self._opening() is not None
            if self.bytes <= EDGE_BYTES:
                self._keys = frozenset(_loads(self._head))
        elif not self.scalar_keys and self.bytes > EDGE_BYTES:
            # No scalar asked for (the by-id endpoint): nothing to rebuild from the edges, and
            # no reason to suspect the page or parse later ones in full.
            self.has_array = self.count > 0 or self._opening() is not None
        else:
            self._scalars = self._read_envelope()
        self.done = True

    def read(self, size: int, /) -> bytes:
        """The file ijson reads: the source's bytes, counted, with the page's edges kept."""
        assert self._source is not None  # noqa: S101 - set by records()
        data = self._source.read(size)
        if not data:
            self._at_end = size != 0
            return data
        self.bytes += len(data)
        if len(self._head) < EDGE_BYTES:
            self._head += data[: EDGE_BYTES - len(self._head)]
        self._tail = (
            data[-EDGE_BYTES:] if len(data) >= EDGE_BYTES else (self._tail + data)[-EDGE_BYTES:]
        )
        for coro in self._scalar_coros:
            coro.send(data)
        return data

    def _bad(self, exc: Exception) -> BadPageError:
        text = str(exc).strip()
        detail = text.splitlines()[0] if text else type(exc).__name__
        if "premature EOF" in text or (self._at_end and "trailing garbage" not in text):
            # A body cut inside a value (``0.``, ``tru``) fails as a lexical error at the end.
            return BadPageError(f"response JSON ends early after {self.bytes} bytes ({detail})")
        return BadPageError(f"response is not valid JSON near byte {self.bytes}: {detail}")

    def _opening(self) -> re.Match[bytes] | None:
        pattern = rb'"' + re.escape(self.array_key.encode()) + rb'"\s*:\s*\['
        return re.search(pattern, self._head)

    def scalar(self, key: str) -> Any:
        """The captured top-level value of ``key`` (``None`` when absent)."""
        return self._scalars.get(key)

    def has_scalar(self, key: str) -> bool:
        """Whether the page carried ``key`` at the top level."""
        return key in self._scalars

    def is_envelope(self) -> bool:
        """Whether a page without its records array is still the page asked for: an empty one.

        Genesys omits empty arrays, so the last page of a job (even one reached by a cursor)
        or the query's page past the end can be the envelope alone, such as
        ``{"dataAvailabilityDate": ...}``. That is a JSON object holding at least one of the
        expected scalars (or nothing, when none is expected) and no field of an error body;
        anything else (HTML from a proxy, ``{"message": ...}``) is a bad page.
        """
        if self._keys is None or self._keys & ERROR_BODY_KEYS:
            return False
        return not self.scalar_keys or any(k in self._keys for k in self.scalar_keys)

    def _read_envelope(self) -> dict[str, Any]:
        if self.bytes <= EDGE_BYTES:  # the whole body is in the head: parse it outright
            whole = _loads(self._head)
            self._keys = frozenset(whole)
            self.has_array = isinstance(whole.get(self.array_key), list)
            return _scalars_of(whole, self.scalar_keys)
        head = self._head
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
