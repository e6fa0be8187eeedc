"""The HTTP client every stream uses: auth, pacing, retries, streaming parse.

One instance per tap process (owned by the tap, never a module global), so the rate limiter
and the token are shared by all streams and worker threads.
"""

from __future__ import annotations

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
from tap_genesys_analytics.http.auth import GenesysAuthenticator, Refusal
from tap_genesys_analytics.http.pages import Page, PageReading
from tap_genesys_analytics.http.parsing import BadPageError, warn_if_slow_backend
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
        self.pages = PageReading()
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
    ) -> Iterator[dict[str, Any]]:
        """Yield a page's records as they are parsed from the socket, retrying the page.

        A try that fails half-way (cut-off body, garbled JSON, reset connection) is repeated
        from the start of the page, so records may be yielded twice: callers drop repeats by
        key. ``page.scalars`` is filled from the try that succeeded. A page without its records
        array is an empty page only when it is the envelope alone (:class:`PageReading`).
        """
        label = f"{method} {path}"
        try:
            for attempt in self._attempts(label, context):
                with attempt:
                    response = self._send(method, path, body=body, params=params, stream=True)
                    try:
                        self._check(method, path, response, context)
                        yield from self.pages.records(
                            label, response, array_key=array_key, scalar_keys=scalar_keys, page=page
                        )
                    finally:
                        response.close()
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
            refusal = self.auth.invalidate(token)
            if refusal is Refusal.FINAL:
                # No token of this login was ever accepted: another from the same login is
                # refused the same way (wrong region, a client without a role).
                raise AuthError(
                    f"{line} (A fresh token from {self.settings.token_url} was refused at once "
                    f"by {self.settings.api_url}: both must be the organisation's region.)",
                    status=status,
                    code=body.get("code"),
                )
            # The token is forgotten, so the next try renews it: at once after an expiry or a
            # revocation, after the usual backoff when a just-renewed token was refused too.
            raise RetriableError(line, retry_after=0.0 if refusal is Refusal.EXPIRED else None)
        if decision is Decision.RETRY:
            retry_after = retry_after_seconds(response.headers)
            if status == 429:
                self.limiter.pause(retry_after if retry_after is not None else 3.0)
            raise RetriableError(line, retry_after=retry_after)
        raise FatalAPIError(line, status=status, code=body.get("code"))


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 400 else text[:400] + "..."


__all__ = ["GenesysClient", "Page"]
