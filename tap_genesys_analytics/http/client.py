"""The HTTP client every stream uses: auth, pacing, retries, streaming parse.

One instance per tap process (owned by the tap, never a module global), so the rate limiter
and the token are shared by all streams and worker threads.
"""

from __future__ import annotations

import dataclasses
import http.client
import logging
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import backoff
import requests
import urllib3
from requests.adapters import HTTPAdapter

from tap_genesys_analytics.config.settings import Settings
from tap_genesys_analytics.errors import (
    AuthError,
    Decision,
    FatalAPIError,
    RetriableError,
    RetriesExhaustedError,
    classify,
    describe,
    parse_error_body,
    retry_after_seconds,
)
from tap_genesys_analytics.http.auth import GenesysAuthenticator
from tap_genesys_analytics.http.parsing import (
    BadPageError,
    BodyReader,
    EnvelopeError,
    PageParser,
    warn_if_slow_backend,
)
from tap_genesys_analytics.http.ratelimit import RateLimiter, retry_waits

LOGGER = logging.getLogger("tap-genesys-analytics")
USER_AGENT = "tap-genesys-analytics/0.1"

#: Transport failures that another try can fix (raw reads raise urllib3's own errors).
TRANSIENT = (
    RetriableError,
    BadPageError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    ConnectionResetError,
    TimeoutError,
    http.client.HTTPException,
    urllib3.exceptions.HTTPError,
    zlib.error,
)


@dataclasses.dataclass
class Page:
    """One parsed page: the top-level scalars, filled in once its records were consumed."""

    scalars: dict[str, Any] = dataclasses.field(default_factory=dict)
    records: int = 0


class GenesysClient:
    """Sends API requests with pacing, token handling and bounded, jittered retries."""

    def __init__(self, settings: Settings, *, limiter: RateLimiter | None = None) -> None:
        self.settings = settings
        self.limiter = limiter or RateLimiter(settings.max_requests_per_minute)
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update(
            {"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": "gzip"}
        )
        self.timeout = (settings.connect_timeout, settings.read_timeout)
        self.auth = GenesysAuthenticator(
            token_url=settings.token_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            session=self.session,
            timeout=self.timeout,
        )
        self._full_parse = False
        warn_if_slow_backend()

    # -- public calls ------------------------------------------------------------------------

    def check_connection(self) -> None:
        """Fetch a token now, so wrong credentials fail on the first request of a run."""
        self._with_retries("POST /oauth/token", "", self.auth.bearer)

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        context: str = "",
        tries: int | None = None,
        timeout: float | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """A small request (job submit/status/delete, counts): returns (status, JSON body).

        ``tries`` and ``timeout`` narrow the retry budget and the socket timeouts for calls
        that must not hold a run up, such as the clean-up at shutdown (one short try).
        """
        timeouts = self.timeout
        if timeout is not None:
            timeouts = (min(timeout, self.timeout[0]), min(timeout, self.timeout[1]))

        def once() -> tuple[int, dict[str, Any]]:
            response = self._send(
                method, path, body=body, params=params, stream=False, timeout=timeouts
            )
            try:
                self._check(method, path, response, context)
                if response.status_code == 204 or not response.content:
                    return response.status_code, {}
                try:
                    data = response.json()
                except ValueError:
                    msg = f"{method} {path}: response is not JSON"
                    raise RetriableError(msg) from None
                if not isinstance(data, dict):
                    msg = f"{method} {path}: response is not a JSON object"
                    raise RetriableError(msg)
                return response.status_code, data
            finally:
                response.close()

        result: tuple[int, dict[str, Any]] = self._with_retries(
            f"{method} {path}", context, once, tries=tries
        )
        return result

    def stream(
        self,
        method: str,
        path: str,
        *,
        array_key: str,
        scalar_keys: tuple[str, ...],
        page: Page,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        context: str = "",
        first: bool = True,
        end_scalar: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield a page's records as they are parsed from the socket, retrying the page.

        A try that fails half-way (cut-off body, garbled JSON, reset connection) is repeated
        from the start of the page, so records may be yielded twice: callers drop repeats by
        key. ``page.scalars`` is filled from the try that succeeded. A page without its records
        array is accepted only as the ``first`` page (an empty result: Genesys omits empty
        arrays), or when it carries ``end_scalar`` (the query's ``totalHits``: a page past the
        last one); anywhere else it is not what we asked for and is retried, so it can never
        end a chunk early.
        """
        label = f"{method} {path}"
        try:
            for attempt in self._attempts(label, context):
                with attempt:
                    parser = PageParser(array_key, scalar_keys, full=self._full_parse)
                    response = self._send(method, path, body=body, params=params, stream=True)
                    try:
                        self._check(method, path, response, context)
                        yield from self._parse(response, parser)
                    except EnvelopeError as exc:
                        LOGGER.info("%s: %s; parsing pages in full from now on", label, exc)
                        self._full_parse = True
                        raise RetriableError(str(exc), retry_after=0.0) from None
                    finally:
                        response.close()
                    ended = end_scalar is not None and parser.has_scalar(end_scalar)
                    if not parser.has_array and not first and not ended:
                        msg = f"{label}: the page has no {array_key!r} array"
                        raise RetriableError(msg)
                    page.scalars = {
                        k: parser.scalar(k) for k in scalar_keys if parser.has_scalar(k)
                    }
                    page.records = parser.count
        except TRANSIENT as exc:
            raise self._exhausted(label, context, exc) from None

    # -- internals ---------------------------------------------------------------------------

    def _attempts(
        self, label: str, context: str, tries: int | None = None
    ) -> Iterator[backoff.Attempt]:
        """Tries of one request: ``backoff`` with capped, jittered waits floored by Retry-After."""
        max_tries = self.settings.max_retries + 1 if tries is None else max(1, tries)

        def log_retry(details: Mapping[str, Any]) -> None:
            LOGGER.warning(
                "Retrying %s%s in %.1f s (try %d of %d): %s",
                label,
                f" [{context}]" if context else "",
                details["wait"],
                details["tries"] + 1,
                max_tries,
                _short(details["exception"]),
            )

        return backoff.retry_context(
            TRANSIENT,
            retry_waits,
            max_tries=max_tries,
            jitter=None,
            on_backoff=log_retry,
            logger=None,
            cap=self.settings.max_backoff_seconds,
        )

    def _exhausted(
        self, label: str, context: str, exc: BaseException, tries: int | None = None
    ) -> RetriesExhaustedError:
        where = f" ({context})" if context else ""
        count = self.settings.max_retries + 1 if tries is None else max(1, tries)
        msg = (
            f"{label}{where} still failing after {count} {'try' if count == 1 else 'tries'}; "
            f"last error: {_short(exc)}"
        )
        return RetriesExhaustedError(msg)

    def _with_retries(
        self, label: str, context: str, func: Any, *, tries: int | None = None
    ) -> Any:
        try:
            for attempt in self._attempts(label, context, tries):
                with attempt:
                    return func()
        except TRANSIENT as exc:
            raise self._exhausted(label, context, exc, tries) from None
        msg = f"{label}: no try was made"  # pragma: no cover - retry_context always tries
        raise RetriesExhaustedError(msg)

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None,
        params: Mapping[str, Any] | None,
        stream: bool,
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        # The token is taken after the limiter's wait: a long wait could outlive it.
        self.limiter.acquire()
        token = self.auth.bearer()
        response = self.session.request(
            method,
            f"{self.settings.api_url}{path}",
            json=body,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout or self.timeout,
            stream=stream,
        )
        if response.status_code < 500 and response.status_code != 401:
            self.auth.accepted(token)  # a 5xx may come from a gateway that never saw it
        return response

    def _check(self, method: str, path: str, response: requests.Response, context: str) -> None:
        status = response.status_code
        decision = classify(status)
        if decision is Decision.OK:
            return
        text = response.text
        body = parse_error_body(text)
        line = describe(
            method=method,
            path=path,
            status=status,
            body=body,
            headers=response.headers,
            context=context,
        )
        if status == 401:
            token = str(response.request.headers.get("Authorization", ""))[len("Bearer ") :]
            if not self.auth.invalidate(token):
                # A token the API never accepted: another token from the same login is refused
                # the same way (wrong region, a client without a role), so no try can fix it.
                raise AuthError(
                    f"{line} (A fresh token from {self.settings.token_url} was refused at once "
                    f"by {self.settings.api_url}: both must be the organisation's region.)",
                    status=status,
                    code=body.get("code"),
                )
            # An old token expired or was revoked: it is forgotten, so one more try renews it.
            raise RetriableError(line, retry_after=0.0)
        if decision is Decision.RETRY:
            retry_after = retry_after_seconds(response.headers)
            if status == 429:
                self.limiter.pause(retry_after if retry_after is not None else 3.0)
            raise RetriableError(line, retry_after=retry_after)
        raise FatalAPIError(line, status=status, code=body.get("code"))

    @staticmethod
    def _parse(response: requests.Response, parser: PageParser) -> Iterator[dict[str, Any]]:
        """The page's records, pulled by ijson from the socket (gzip inflated on the way)."""
        raw = response.raw
        gzipped = response.headers.get("Content-Encoding", "").lower() == "gzip"

        def raw_read(size: int) -> bytes:
            data: bytes = raw.read(size, decode_content=False)
            return data

        yield from parser.records(BodyReader(raw_read, gzipped=gzipped))


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 400 else text[:400] + "..."


__all__ = ["GenesysClient", "Page"]
