"""Synchronous details queries: ``POST .../conversations/details/query`` and users' twin.

Start-day matching and page-number paging; ``totalHits`` is approximate under the
``overcount_*`` faults (and varies between requests under ``overcount_varies``), and pages come
short mid-stream under ``query_repeat_share``, as the real API's do.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from typing import Any

from ..dataset import Dataset
from ..faults import Faults, approximate_part
from ..filters import FilterError
from ..selection import (
    FilterSet,
    Selection,
    page_without_repeats,
    validate_order,
    with_repeats,
)
from ..timeutil import DAY_MS, day_floor, iso, parse_interval, parse_iso
from ..users import UserSelection
from .bodies import QUERY_KEYS, USER_QUERY_KEYS, check_body, paging
from .core import Core
from .errors import ApiError
from .routes import Exchange, RouteTable

Json = dict[str, Any]

QUERY_MAX_DAYS_UNFILTERED = 7
QUERY_MAX_DAYS_FILTERED = 31


class DetailsQueries:
    """Conversation and user details queries over the generated data."""

    def __init__(self, core: Core, dataset: Dataset) -> None:
        """An empty cache of filtered queries' matching indices."""
        self.core = core
        self.dataset = dataset
        self._query_cache: OrderedDict[str, list[int]] = OrderedDict()
        #: A number per request, so that ``overcount_varies`` draws each count anew.
        self._draws = itertools.count()

    def register(self, routes: RouteTable) -> None:
        """One query route per kind."""
        routes.add(
            "POST", r"/api/v2/analytics/conversations/details/query", "details_query", self._route
        )
        routes.add(
            "POST",
            r"/api/v2/analytics/users/details/query",
            "user_details_query",
            self._user_route,
        )

    def _route(self, ex: Exchange) -> None:
        ex.send_json(200, self.details_query(ex.json_body()))

    def _user_route(self, ex: Exchange) -> None:
        ex.send_json(200, self.user_details_query(ex.json_body()))

    def details_query(self, body: object) -> Json:
        """Run a ``ConversationQuery``: start-day matching, page-number paging."""
        body = check_body(body, QUERY_KEYS)
        try:
            filters = FilterSet.from_body(body)
            descending = validate_order(body)
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc
        faults = self.core.faults
        try:
            page_size, page_number = paging(body, faults.query_max_results)
        except ApiError as exc:
            if exc.message.startswith("Pagination may not exceed"):
                self.core.fault_fired("query_depth_refused")
            raise
        interval = body.get("interval")
        try:
            a, b = parse_interval(interval)
        except ValueError as exc:
            raise ApiError(400, f"Invalid interval {interval!r}: {exc}") from exc
        max_days = QUERY_MAX_DAYS_FILTERED if filters else QUERY_MAX_DAYS_UNFILTERED
        if b - a > max_days * DAY_MS:
            raise ApiError(
                400,
                f"Query interval may not exceed {max_days} days"
                + (" when filters are used." if filters else " without filters."),
            )
        now_ms = self.core.now_ms
        selection = Selection.build(
            self.dataset,
            interval,
            start_day=True,
            started_before=now_ms + 1,
            now_ms=now_ms,
            filters=filters,
            attributes=False,
            descending=descending,
            end_inclusive=faults.day_match_end_inclusive,
        )
        if faults.day_match_end_inclusive and b % DAY_MS == 0:
            self.core.fault_fired("day_match_end_inclusive")  # the next day is taken in
        indices = self._query_indices(selection, body, now_ms)
        # The index may hold a record twice; each page drops the repeats it holds.
        raw = with_repeats(indices, faults.query_repeat_share, str(self.dataset.seed))
        first = (page_number - 1) * page_size
        page, dropped = page_without_repeats(raw, first, page_size)
        if dropped and first + page_size < len(raw):
            self.core.fault_fired("query_short_page")
        out: Json = {}
        if page:
            out["conversations"] = self.core.served([selection.record(i) for i in page])
            self.core.count_records(len(page))
        draw = next(self._draws) if faults.overcount_varies else None
        extra = self._overcount(a, b, faults, draw)
        if extra:
            self.core.fault_fired("approximate_total")
        if draw is not None and extra != self._overcount(a, b, faults):
            self.core.fault_fired("total_varied")
        out["totalHits"] = max(0, len(indices) + extra)
        return out

    def _overcount(self, a: int, b: int, faults: Faults, draw: int | None = None) -> int:
        """The approximate part of ``totalHits`` over the days ``[a, b]`` touches."""
        return sum(
            approximate_part(self.dataset.seed, day, faults, draw)
            for day in range(day_floor(a), b, DAY_MS)
        )

    def overcounted_days(self, start: str, end: str) -> list[str]:
        """The UTC days in ``[start, end)`` whose ``totalHits`` the simulator inflates."""
        a, b = parse_iso(start), parse_iso(end)
        days = []
        for day in range(day_floor(a), b, DAY_MS):
            if self._overcount(day, day + DAY_MS - 1, self.core.faults):
                days.append(iso(day)[:10])
        return days

    def _query_indices(self, selection: Selection, body: Json, now_ms: int) -> Any:
        if selection.simple:
            return selection.all_indices()
        key = json.dumps([body.get(k) for k in sorted(body) if k != "paging"] + [now_ms])
        with self.core.lock:
            cached = self._query_cache.get(key)
        if cached is not None:
            return cached
        found = list(selection.all_indices())
        with self.core.lock:
            self._query_cache[key] = found
            while len(self._query_cache) > 32:
                self._query_cache.popitem(last=False)
        return found

    def user_details_query(self, body: object) -> Json:
        """Run a ``UserDetailsQuery``: page-number paging over (user, day) status records.

        ``totalHits`` counts those records and each page merges its records into one item per
        user (``UserSelection.query_page``); the page after the last has no ``userDetails``.
        """
        body = check_body(body, USER_QUERY_KEYS)
        page_size, page_number = paging(body)
        try:
            selection = UserSelection.build(self.dataset, body, self.core.now_ms)
        except FilterError as exc:
            raise ApiError(400, str(exc)) from exc
        max_days = QUERY_MAX_DAYS_FILTERED if selection.filtered else QUERY_MAX_DAYS_UNFILTERED
        if selection.end_ms - selection.start_ms > max_days * DAY_MS:
            raise ApiError(
                400,
                f"Query interval may not exceed {max_days} days"
                + (" when filters are used." if selection.filtered else " without filters."),
            )
        hits = selection.query_hits()
        first = (page_number - 1) * page_size
        out: Json = {}
        page = selection.query_page(hits[first : first + page_size])
        if page:
            out["userDetails"] = self.core.served(page)
        out["totalHits"] = len(hits)
        return out
