"""Reading one page of a streamed response: the process's parse mode and what a page holds.

Pages are parsed as they stream, their scalars rebuilt from the bytes at their edges. A page
whose envelope cannot be read that way (:class:`EnvelopeError`) is requested again and every
later page is parsed in full (a second ijson pass per scalar): whatever made one page's edges
ambiguous is likely to recur. The counts of both kinds are reported in the closing lines, so
a run that fell back to the slower parse says so.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from typing import Any

import requests

from tap_genesys_analytics.errors import RetriableError
from tap_genesys_analytics.http.parsing import BadPageError, BodyReader, EnvelopeError, PageParser

LOGGER = logging.getLogger("tap-genesys-analytics")


@dataclasses.dataclass
class Page:
    """One parsed page: the top-level scalars, filled in once its records were consumed."""

    scalars: dict[str, Any] = dataclasses.field(default_factory=dict)
    records: int = 0


class PageReading:
    """Parses pages for one client: streaming until an envelope forces the full parse."""

    def __init__(self) -> None:
        self.full = False
        self.streamed = 0
        self.in_full = 0
        self._lock = threading.Lock()

    def records(
        self,
        label: str,
        response: requests.Response,
        *,
        array_key: str,
        scalar_keys: tuple[str, ...],
        page: Page,
    ) -> Iterator[dict[str, Any]]:
        """Yield the records of ``response`` as they arrive; fill ``page`` once it is whole.

        A page without its records array is an empty page when it is the envelope alone
        (Genesys omits empty arrays, after a cursor too); anything else is a bad page, to be
        requested again, so a broken body can never end a job or a day early.
        """
        parser = PageParser(array_key, scalar_keys, full=self.full)
        try:
            yield from parser.records(_body(response))
        except EnvelopeError as exc:
            LOGGER.info("%s: %s; parsing pages in full from now on", label, exc)
            self.full = True
            raise RetriableError(str(exc), retry_after=0.0) from None
        if not parser.has_array and not parser.is_envelope():
            msg = f"{label}: the page has neither its {array_key!r} array nor its envelope"
            raise BadPageError(msg)
        with self._lock:
            if parser.full:
                self.in_full += 1
            else:
                self.streamed += 1
        page.scalars = {k: parser.scalar(k) for k in scalar_keys if parser.has_scalar(k)}
        page.records = parser.count

    def summary(self) -> str:
        """How this process parsed its pages so far, for a closing line."""
        return f"{self.streamed} page(s) parsed as they streamed, {self.in_full} in full"


def _body(response: requests.Response) -> BodyReader:
    """The page's bytes, pulled from the socket (gzip inflated on the way)."""
    raw = response.raw
    gzipped = response.headers.get("Content-Encoding", "").lower() == "gzip"

    def raw_read(size: int) -> bytes:
        data: bytes = raw.read(size, decode_content=False)
        return data

    return BodyReader(raw_read, gzipped=gzipped)
