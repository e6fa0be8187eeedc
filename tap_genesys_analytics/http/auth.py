"""OAuth client credentials for Genesys Cloud, shared by every stream and thread.

A plain class of the tap's own that fetches, renews and forgets tokens. The token URL is
``{login_url}/oauth/token``; the request carries ``Authorization: Basic
base64(client_id:client_secret)`` and the form ``grant_type=client_credentials``. A token is
renewed shortly before ``expires_in`` runs out and after a 401. Before the API ever accepted a
token, a 401 is final: every token from this login would be refused the same way (another
region, a client without a role). Once one was accepted, a 401 even on a just-renewed token is
a passing refusal (a revocation racing the renewal, one node behind): renewed and retried with
backoff, within the request's retry budget. Secrets never reach a log line or an exception
message.
"""

from __future__ import annotations

import base64
import enum
import logging
import threading
import time

import requests

from tap_genesys_analytics.errors import (
    AuthError,
    RetriableError,
    parse_error_body,
    retry_after_seconds,
)

LOGGER = logging.getLogger("tap-genesys-analytics")
#: Token lifetime assumed when the login answers without ``expires_in``.
DEFAULT_EXPIRATION_SECONDS = 3600
#: The client-credentials grant: no scope, no client id in the body (it is in Basic).
GRANT = {"grant_type": "client_credentials"}


class Refusal(enum.Enum):
    """What a 401 of a token means, and so what the caller does next."""

    #: No token of this login was ever accepted: another would be refused too; stop.
    FINAL = "final"
    #: A token the API accepted before has expired or was revoked: renew it and retry at once.
    EXPIRED = "expired"
    #: A renewed token refused on its first use after others were accepted: renew, back off.
    RENEWED_REFUSED = "renewed_refused"


class GenesysAuthenticator:
    """Client-credentials authenticator; thread-safe, with early renewal."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        session: requests.Session,
        timeout: tuple[float, float],
    ) -> None:
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        self.token_url = token_url
        self._login_headers = {"Authorization": f"Basic {basic}"}
        self.access_token: str | None = None
        self.expires_in: int | None = None
        self._http = session
        self._timeout = timeout
        self._lock = threading.Lock()
        self._expires_at = 0.0
        #: The newest token while the API has not accepted it yet.
        self._unproven: str | None = None
        #: Whether the API accepted any token of this login (the region and client are right).
        self._ever_accepted = False

    def is_token_valid(self) -> bool:
        """Valid until a margin before expiry: 60 s, or a tenth of a short token's lifetime."""
        if self.access_token is None or self.expires_in is None:
            return False
        margin = min(60.0, 0.1 * self.expires_in)
        return time.monotonic() < self._expires_at - margin

    def bearer(self) -> str:
        """A valid access token, fetching a new one first when needed."""
        with self._lock:
            if not self.is_token_valid():
                self.update_access_token()
            assert self.access_token is not None  # noqa: S101 - set by update_access_token
            return self.access_token

    def accepted(self, token: str) -> None:
        """Note that the API answered a request made with ``token`` (it is not refused)."""
        if token == self._unproven or not self._ever_accepted:
            with self._lock:
                self._ever_accepted = True
                if token == self._unproven:
                    self._unproven = None

    def invalidate(self, token: str) -> Refusal:
        """Forget ``token`` after a 401 and say whether renewing it can help.

        Before any token was accepted, the refusal is final: the next token of this login
        would be refused the same way. Afterwards the token is forgotten (unless another
        thread renewed it already) and the next request fetches a new one; a token refused on
        its first use is :attr:`Refusal.RENEWED_REFUSED`, so the caller backs off first.
        """
        with self._lock:
            if not self._ever_accepted:
                return Refusal.FINAL
            if self.access_token == token:
                self.access_token = None
            if token == self._unproven:
                self._unproven = None
                return Refusal.RENEWED_REFUSED
            return Refusal.EXPIRED

    def update_access_token(self) -> None:
        """Fetch a token; a refused client is fatal, a 5xx or network error retriable."""
        started = time.monotonic()
        try:
            response = self._http.post(
                self.token_url,
                headers=self._login_headers,
                data=GRANT,
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            msg = f"POST {self.token_url} failed: {type(exc).__name__}"
            raise RetriableError(msg) from None
        if response.status_code in {400, 401, 403}:
            body = parse_error_body(response.text)
            reason = body.get("error_description") or body.get("error") or body.get("message")
            msg = (
                f"OAuth login at {self.token_url} was refused (HTTP {response.status_code}"
                f"{', ' + str(reason) if reason else ''}): check client_id and client_secret, "
                "and that region matches the org's Genesys Cloud region."
            )
            raise AuthError(msg, status=response.status_code, code=body.get("error"))
        if response.status_code >= 300:
            # A 429 or 503 of the login host names its wait in Retry-After, like the API's.
            msg = f"POST {self.token_url} -> HTTP {response.status_code}"
            raise RetriableError(msg, retry_after=retry_after_seconds(response.headers))
        try:
            token_json = response.json()
            token = str(token_json["access_token"])
        except (ValueError, KeyError):
            msg = f"POST {self.token_url} answered without an access_token"
            raise RetriableError(msg) from None
        self.access_token = token
        self._unproven = token
        self.expires_in = int(token_json.get("expires_in") or DEFAULT_EXPIRATION_SECONDS)
        self._expires_at = started + self.expires_in
        LOGGER.info("Obtained an access token valid for %s s", self.expires_in)
