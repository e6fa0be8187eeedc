"""The two error shapes the simulator answers with: Genesys ``ErrorBody`` and OAuth errors."""

from __future__ import annotations

ERROR_CODES = {
    400: "bad.request",
    401: "bad.credentials",
    404: "not.found",
    405: "method.not.allowed",
    408: "request.timeout",
    413: "request.entity.too.large",
    429: "too.many.requests.retry.after",
    500: "internal.server.error",
    502: "bad.gateway",
    503: "service.unavailable",
    504: "gateway.timeout",
}
ERROR_MESSAGES = {
    408: "The request timed out.",
    500: "The server encountered an unexpected error.",
    502: "Bad gateway.",
    503: "The service is currently unavailable.",
    504: "The gateway timed out.",
}


class ApiError(Exception):
    """An error that becomes a Genesys ErrorBody response."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Remember the status, message, code and extra headers of the response."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or ERROR_CODES.get(status, "error")
        self.headers = headers or {}


class OAuthError(Exception):
    """An OAuth-style error (``{"error": ..., "description": ...}``)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        """Remember the status and the OAuth error fields."""
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
