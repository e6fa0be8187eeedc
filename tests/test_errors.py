"""Unit tests for the retry decision and the one-line error descriptions."""

from __future__ import annotations

from typing import Any

import pytest
from requests.structures import CaseInsensitiveDict

from tap_genesys_analytics.errors import (
    AuthError,
    Decision,
    FatalAPIError,
    GenesysError,
    RetriableError,
    classify,
    describe,
    parse_error_body,
    permission_for,
    retry_after_seconds,
)

DETAILS = "/api/v2/analytics/conversations/details/query"


@pytest.mark.parametrize(
    ("status", "decision"),
    [
        (200, Decision.OK),
        (201, Decision.OK),
        (202, Decision.OK),
        (204, Decision.OK),
        (299, Decision.OK),
        (408, Decision.RETRY),
        (429, Decision.RETRY),
        (500, Decision.RETRY),
        (502, Decision.RETRY),
        (503, Decision.RETRY),
        (504, Decision.RETRY),
        (199, Decision.FATAL),
        (300, Decision.FATAL),
        (304, Decision.FATAL),
        (400, Decision.FATAL),
        (401, Decision.FATAL),
        (403, Decision.FATAL),
        (404, Decision.FATAL),
        (409, Decision.FATAL),
        (413, Decision.FATAL),
        (422, Decision.FATAL),
        (501, Decision.FATAL),
        (505, Decision.FATAL),
    ],
)
def test_classify(status: int, decision: Decision) -> None:
    assert classify(status) is decision


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"message": "bad", "code": "bad.request", "status": 400}',
            {
                "message": "bad",
                "code": "bad.request",
                "status": 400,
            },
        ),
        ('{"error": "invalid_client"}', {"error": "invalid_client"}),
        ("{}", {}),
        ("[1, 2]", {}),
        ('"just a string"', {}),
        ("null", {}),
        ("42", {}),
        ("", {}),
        ("<html><body>502 Bad Gateway</body></html>", {}),
        ('{"message": "cut', {}),
    ],
)
def test_parse_error_body(text: str, expected: dict[str, Any]) -> None:
    assert parse_error_body(text) == expected


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "30"}, 30.0),
        ({"retry-after": "7"}, 7.0),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"Retry-After": "-5"}, 0.0),
        ({"Retry-After": " 12 "}, 12.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": ""}, None),
        ({}, None),
        ({"Content-Type": "application/json"}, None),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(headers) == seconds


def test_retry_after_seconds_with_case_insensitive_response_headers() -> None:
    assert retry_after_seconds(CaseInsensitiveDict({"RETRY-AFTER": "9"})) == 9.0


@pytest.mark.parametrize(
    ("path", "permission"),
    [
        ("/api/v2/analytics/conversations/details/query", "analytics:conversationDetail:view"),
        ("/api/v2/analytics/conversations/details/jobs", "analytics:conversationDetail:view"),
        (
            "/api/v2/analytics/conversations/details/jobs/abc/results",
            "analytics:conversationDetail:view",
        ),
        ("/api/v2/analytics/users/details/query", "analytics:userDetail:view"),
        ("/api/v2/analytics/users/details/jobs/1/results", "analytics:userDetail:view"),
        (
            "/api/v2/analytics/conversations/aggregates/query",
            "analytics:conversationAggregate:view",
        ),
    ],
)
def test_permission_for_known_endpoints(path: str, permission: str) -> None:
    assert permission_for(path) == permission


@pytest.mark.parametrize("path", ["/api/v2/users", "/api/v2/routing/queues", "/oauth/token"])
def test_permission_for_unknown_endpoint_points_to_the_reference(path: str) -> None:
    text = permission_for(path)
    assert "analytics:" not in text
    assert "Genesys API reference" in text


def _describe(status: int, body: dict[str, Any] | None = None, **kwargs: Any) -> str:
    return describe(
        method=kwargs.pop("method", "POST"),
        path=kwargs.pop("path", DETAILS),
        status=status,
        body=body or {},
        headers=kwargs.pop("headers", {}),
        **kwargs,
    )


def test_describe_names_request_status_code_message_and_correlation() -> None:
    line = _describe(
        400,
        {"message": "Invalid interval", "code": "bad.request", "contextId": "ctx-123"},
        context="chunk 2024-02-29",
    )
    assert line == (
        f"POST {DETAILS} -> HTTP 400; chunk 2024-02-29; code=bad.request; "
        "message='Invalid interval'; correlation-id=ctx-123"
    )


def test_describe_bare_response_is_just_the_request_and_status() -> None:
    assert _describe(502, method="GET", path="/api/v2/x") == "GET /api/v2/x -> HTTP 502"


def test_describe_takes_correlation_from_header_when_body_lacks_it() -> None:
    line = _describe(503, headers={"ININ-Correlation-Id": "hdr-9"})
    assert line.endswith("correlation-id=hdr-9")


def test_describe_prefers_body_context_id_over_header() -> None:
    line = _describe(503, {"contextId": "body-1"}, headers={"ININ-Correlation-Id": "hdr-9"})
    assert "correlation-id=body-1" in line
    assert "hdr-9" not in line


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ({"error": "invalid_client", "error_description": "Client not found"}, "Client not found"),
        ({"error": "invalid_client"}, "invalid_client"),
        ({"message": "m", "error_description": "d", "error": "e"}, "m"),
    ],
)
def test_describe_message_fallbacks(body: dict[str, Any], shown: str) -> None:
    assert f"message={shown!r}" in _describe(400, body)


def test_describe_truncates_long_messages_to_300_characters() -> None:
    line = _describe(400, {"message": "x" * 1000})
    assert f"message={'x' * 300!r}" in line
    assert "x" * 301 not in line


@pytest.mark.parametrize(
    ("path", "permission"),
    [
        (DETAILS, "analytics:conversationDetail:view"),
        ("/api/v2/analytics/users/details/query", "analytics:userDetail:view"),
        (
            "/api/v2/analytics/conversations/aggregates/query",
            "analytics:conversationAggregate:view",
        ),
    ],
)
def test_describe_403_says_which_permission_to_grant(path: str, permission: str) -> None:
    line = _describe(
        403, {"message": "Missing permission", "code": "missing.permissions"}, path=path
    )
    assert line.endswith(f"grant {permission}.")
    assert "role lacks a permission" in line


def test_describe_401_points_at_credentials_and_region() -> None:
    line = _describe(401, {"message": "Invalid login credentials."})
    assert "client_id, client_secret and region" in line
    assert "grant" not in line


@pytest.mark.parametrize("status", [400, 404, 429, 500])
def test_describe_other_statuses_carry_no_auth_hint(status: int) -> None:
    line = _describe(status, {"message": "m"})
    assert "grant" not in line
    assert "client_secret" not in line


def test_describe_never_leaks_the_token() -> None:
    # describe never reads the request's headers; the token can reach it only through a body
    # that quotes it back (a gateway echoing the Authorization header). Fails on 86a853e,
    # which printed the message as it came.
    line = _describe(
        401,
        {"message": "Token Bearer SECRET-TOKEN-abc is not valid (Basic c2ltOnNlY3JldA==)"},
        headers={"ININ-Correlation-Id": "c1"},
    )
    assert "message=" in line, "the message is still shown"
    assert "SECRET-TOKEN-abc" not in line
    assert "c2ltOnNlY3JldA==" not in line
    assert "Bearer [redacted]" in line
    assert "correlation-id=c1" in line


def test_exception_hierarchy_and_attributes() -> None:
    retriable = RetriableError("slow down", retry_after=12.5)
    assert retriable.retry_after == 12.5
    assert str(retriable) == "slow down"
    assert RetriableError("boom").retry_after is None

    fatal = FatalAPIError("nope", status=404, code="not.found")
    assert (fatal.status, fatal.code) == (404, "not.found")
    auth = AuthError("refused", status=401)
    assert auth.code is None
    assert isinstance(auth, FatalAPIError)
    for error in (retriable, fatal, auth):
        assert isinstance(error, GenesysError)
    assert not isinstance(retriable, FatalAPIError)
