"""OAuth: ``POST /oauth/token``, the client-credentials grant that mints bearer tokens."""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any
from urllib.parse import parse_qs

from .core import Core
from .errors import OAuthError
from .routes import Exchange, RouteTable

Json = dict[str, Any]


class OAuth:
    """Checks client credentials and issues tokens into the core, which checks them later."""

    def __init__(self, core: Core, client_id: str, client_secret: str) -> None:
        """Accept only ``client_id`` / ``client_secret``."""
        self.core = core
        self.client_id = client_id
        self.client_secret = client_secret

    def register(self, routes: RouteTable) -> None:
        """The token endpoint needs no bearer token, so it is unguarded."""
        routes.add("POST", r"/oauth/token", "token", self._token_route, guarded=False)

    def issue_token(self, authorization: str | None, form: dict[str, list[str]]) -> Json:
        """Client-credentials grant: check Basic credentials and mint a bearer token."""
        ok = False
        if authorization and authorization.lower().startswith("basic "):
            try:
                raw = base64.b64decode(authorization[6:].strip(), validate=True).decode()
                cid, _, secret = raw.partition(":")
                ok = secrets.compare_digest(cid, self.client_id) and secrets.compare_digest(
                    secret, self.client_secret
                )
            except (binascii.Error, UnicodeDecodeError):
                ok = False
        if not ok:
            raise OAuthError(401, "invalid_client", "client authentication failed")
        grant = form.get("grant_type", [""])[0]
        if grant != "client_credentials":
            raise OAuthError(
                400, "unsupported_grant_type", f"grant type {grant!r} is not supported"
            )
        token = secrets.token_urlsafe(32)
        ttl = self.core.faults.token_ttl_seconds
        self.core.add_token(token, ttl)
        return {"access_token": token, "token_type": "bearer", "expires_in": ttl}

    def _token_route(self, ex: Exchange) -> None:
        form = parse_qs(ex.raw.decode("utf-8", "replace"))
        try:
            data = self.issue_token(ex.header("Authorization"), form)
        except OAuthError as err:
            ex.send_json(
                err.status,
                {
                    "error": err.error,
                    "description": err.description,
                    "error_description": err.description,
                },
            )
            return
        ex.send_json(200, data)
