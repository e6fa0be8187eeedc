"""Error types and the retry decision for Genesys responses.

``classify`` is pure (status, headers, body in; decision out) so the whole policy is tested
without HTTP. Messages carry the Genesys ``code``, ``message`` and correlation id, never a token.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from typing import Any

#: Statuses that are worth another try: throttling, timeouts and server-side failures.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

#: A credential a server or gateway may quote back in an error body.
_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")

#: The permission each analytics endpoint needs, for the message of a 403.
PERMISSIONS = {
    "/api/v2/analytics/conversations/details": "analytics:conversationDetail:view",
    "/api/v2/analytics/users/details": "analytics:userDetail:view",
    "/api/v2/analytics/conversations/aggregates": "analytics:conversationAggregate:view",
    "/api/v2/analytics/evaluations/aggregates": "analytics:evaluationAggregate:view",
    "/api/v2/analytics/surveys/aggregates": "analytics:surveyAggregate:view",
    "/api/v2/quality/conversations/": "quality:evaluation:view",
    "/api/v2/quality/surveys/": "quality:survey:view",
    "/api/v2/quality/publishedforms/evaluations": "quality:evaluationForm:view",
    "/api/v2/quality/publishedforms/surveys": "quality:surveyForm:view",
}


class Decision(enum.Enum):
    """What to do with a response."""

    OK = "ok"
    RETRY = "retry"
    FATAL = "fatal"


class GenesysError(Exception):
    """Base of every error this tap raises on purpose; its text is one line for the user."""


class RetriableError(GenesysError):
    """A transient failure: throttling, a 5xx, a cut-off or garbled body."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalAPIError(GenesysError):
    """An answer that another try cannot fix (400, 403, 404, ...)."""

    def __init__(self, message: str, *, status: int, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AuthError(FatalAPIError):
    """The OAuth client was refused: wrong client_id or client_secret, or a disabled client."""


class RetriesExhaustedError(GenesysError):
    """Transient failures went on longer than the configured number of tries."""


class StateError(GenesysError):
    """The STATE handed to the tap is not one it wrote (another tap, or a damaged file)."""


class ExtractionError(GenesysError):
    """The data could not be extracted completely (a job kept failing, counts never matched)."""


def classify(status: int) -> Decision:
    """Decide from the status alone: 2xx OK, the retry set RETRY, anything else FATAL."""
    if 200 <= status < 300:
        return Decision.OK
    if status in RETRY_STATUSES:
        return Decision.RETRY
    return Decision.FATAL


def parse_error_body(text: str) -> dict[str, Any]:
    """Return the Genesys ErrorBody (``message``, ``code``, ``contextId`` ...) or ``{}``."""
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header (Genesys sends whole seconds), else ``None``."""
    raw = headers.get("Retry-After") or headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def describe(
    *,
    method: str,
    path: str,
    status: int,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    context: str = "",
) -> str:
    """One line naming the request, the status, the Genesys code/message and the correlation id."""
    code = body.get("code")
    message = body.get("message") or body.get("error_description") or body.get("error")
    correlation = body.get("contextId") or headers.get("ININ-Correlation-Id")
    parts = [f"{method} {path} -> HTTP {status}"]
    if context:
        parts.append(context)
    if code:
        parts.append(f"code={code}")
    if message:
        # A gateway may echo the Authorization header back; the line goes to logs.
        quoted = _CREDENTIAL.sub(lambda m: f"{m.group(1)} [redacted]", str(message))
        parts.append(f"message={quoted[:300]!r}")
    if correlation:
        parts.append(f"correlation-id={correlation}")
    line = "; ".join(parts)
    if status == 403:
        line += f". The OAuth client's role lacks a permission: grant {permission_for(path)}."
    elif status == 401:
        line += ". The access token was refused: check client_id, client_secret and region."
    return line


def permission_for(path: str) -> str:
    """The Genesys permission an endpoint needs, for a 403's message."""
    for prefix, permission in PERMISSIONS.items():
        if path.startswith(prefix):
            return permission
    return "the permission this endpoint needs (see the Genesys API reference)"
