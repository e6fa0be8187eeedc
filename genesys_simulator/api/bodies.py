"""Request-body rules shared by the jobs and queries families: allowed fields and paging."""

from __future__ import annotations

from typing import Any

from .errors import ApiError

Json = dict[str, Any]

JOB_KEYS = frozenset(
    {
        "interval",
        "conversationFilters",
        "segmentFilters",
        "evaluationFilters",
        "surveyFilters",
        "resolutionFilters",
        "order",
        "orderBy",
        "limit",
        "startOfDayIntervalMatching",
    }
)
QUERY_KEYS = frozenset(
    (JOB_KEYS - {"limit", "startOfDayIntervalMatching"}) | {"aggregations", "paging"}
)
USER_JOB_KEYS = frozenset(
    {"interval", "userFilters", "presenceFilters", "routingStatusFilters", "order", "limit"}
)
USER_QUERY_KEYS = frozenset(
    (USER_JOB_KEYS - {"limit"}) | {"presenceAggregations", "routingStatusAggregations", "paging"}
)
QUERY_MAX_PAGE_SIZE = 100
QUERY_MAX_RESULTS = 100_000


def check_body(body: object, allowed: frozenset[str]) -> Json:
    """A JSON object with an ``interval`` and no field outside ``allowed``; else a 400."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(
            400,
            f'Unrecognized field "{unknown[0]}" is not allowed in the request body.',
        )
    if "interval" not in body:
        raise ApiError(400, "interval is required")
    return body


def positive_int(value: object, name: str) -> int | None:
    """``value`` when it is absent or a positive integer; else a 400."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ApiError(400, f"{name} must be a positive integer")
    return value


def paging(body: Json, max_results: int = QUERY_MAX_RESULTS) -> tuple[int, int]:
    """Validate a query's ``paging`` object; returns ``(pageSize, pageNumber)``."""
    spec = body.get("paging") or {}
    if not isinstance(spec, dict) or not set(spec) <= {"pageSize", "pageNumber"}:
        raise ApiError(400, "paging accepts only pageSize and pageNumber")
    page_size = spec.get("pageSize", 25)
    page_number = spec.get("pageNumber", 1)
    if not isinstance(page_size, int) or not 1 <= page_size <= QUERY_MAX_PAGE_SIZE:
        raise ApiError(400, f"pageSize must be between 1 and {QUERY_MAX_PAGE_SIZE}")
    if not isinstance(page_number, int) or page_number < 1:
        raise ApiError(400, "pageNumber must be 1 or greater")
    if page_size * page_number > max_results:
        raise ApiError(400, f"Pagination may not exceed {max_results} results.")
    return page_size, page_number
