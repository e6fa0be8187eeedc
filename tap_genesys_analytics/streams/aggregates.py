"""Aggregates of every subject: each named query (or built-in one), window by window.

One class, :class:`AggregatesStream`, runs the queries of one subject; the streams below differ
only in their subject, except ``user_aggregates``, whose API takes at most 100 users per query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from tap_genesys_analytics.config.aggregates import AggregateQuery
from tap_genesys_analytics.genesys.aggregates import (
    MAX_BUCKETS,
    MAX_WINDOW_DAYS,
    aggregates_path,
    builtin_queries,
    flatten,
    plan_windows,
    presence_index,
    query_body,
    user_batches,
    user_filter,
    user_rows,
    window_days,
)
from tap_genesys_analytics.genesys.directory import DIRECTORY_PAGE_SIZE, entities
from tap_genesys_analytics.streams.base import GenesysStream
from tap_genesys_analytics.windows import DateWindow, iso, parse_iso

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

Row = dict[str, Any]


class AggregatesStream(GenesysStream):
    """One row per (query, group, interval, metric, qualifier), incremental by interval.

    The bookmark holds one watermark per query name (the end of its last window read), saved
    after every window, so adding a query starts that query at ``start_date`` without touching
    others. Each run re-reads ``lookback_days`` before a watermark: statuses still open at the
    last run have grown since, and Genesys's nightly reprocessing corrects data up to about
    three days old (fact sheet §8), so the trailing days are read again and upserted.
    """

    #: The ``{subject}`` of ``POST /api/v2/analytics/{subject}/aggregates/query``.
    subject: ClassVar[str] = "conversations"
    primary_keys: ClassVar[list[str]] = [
        "query_name",
        "group_key",
        "interval_start",
        "metric",
        "qualifier",
    ]
    replication_key = None

    def queries(self) -> tuple[AggregateQuery, ...]:
        """The configured queries of this subject, else its built-in ones (users, flows)."""
        settings = self.genesys_tap.settings
        configured = tuple(q for q in settings.aggregates if q.subject == self.subject)
        if configured:
            return configured
        return builtin_queries(
            self.subject, settings.aggregates_granularity, settings.aggregates_time_zone
        )

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Run every query of the subject over whole days of ``[start_date, end_date)``."""
        settings = self.genesys_tap.settings
        queries = self.queries()
        if not queries:
            self.logger.info("%s: no %s queries in the aggregates setting", self.name, self.subject)
            return
        end = settings.run_end()
        watermarks: dict[str, str] = self.stream_state.setdefault("watermarks", {})
        for query in queries:
            start = settings.start_date
            if query.name in watermarks:
                back = parse_iso(watermarks[query.name]) - dt.timedelta(days=settings.lookback_days)
                start = max(start, back)
            yield from self._run_query(query, start, end, watermarks)

    def bodies(self, query: AggregateQuery, window: DateWindow) -> Iterator[dict[str, Any]]:
        """The request bodies that together answer ``query`` over ``window``: one by default."""
        yield query_body(query, window)

    def rows(self, query: AggregateQuery, data: Mapping[str, Any]) -> Iterable[Row]:
        """The flat rows of one response."""
        return flatten(query.name, data.get("results") or ())

    def _run_query(
        self,
        query: AggregateQuery,
        start: dt.datetime,
        end: dt.datetime,
        watermarks: dict[str, str],
    ) -> Iterable[dict[str, Any]]:
        client = self.genesys_tap.client
        windows = plan_windows(start, end, query)
        self.logger.info(
            "%s %s: %d window(s) of up to %d days (at most %d days and %d buckets each)",
            self.name,
            query.name,
            len(windows),
            window_days(query),
            MAX_WINDOW_DAYS,
            MAX_BUCKETS,
        )
        rows = 0
        path = aggregates_path(query.subject)
        for window in windows:
            for part, body in enumerate(self.bodies(query, window), start=1):
                _, data = client.call(
                    "POST",
                    path,
                    body=body,
                    context=f"{self.name} {query.name} {window.interval} part {part}",
                )
                for row in self.rows(query, data):
                    rows += 1
                    yield row
            watermarks[query.name] = iso(window.end)
            self.save_state()
        self.logger.info("%s %s: %d rows written", self.name, query.name, rows)


class ConversationAggregatesStream(AggregatesStream):
    """Conversation aggregates: the queries of the ``aggregates`` setting without a subject."""

    name = "conversation_aggregates"
    subject: ClassVar[str] = "conversations"


class UserAggregatesStream(AggregatesStream):
    """Time per system presence, organisation presence and routing status, per user.

    The API groups and filters user aggregates by ``userId`` only, at most 100 ``userId``
    predicates per query: a query without a filter is asked for every user of the users
    directory (``state=any``, so agents who left are counted too) in batches of
    ``user_aggregates_batch_size``. A query with its own ``userId`` filter is sent as it is.
    """

    name = "user_aggregates"
    subject: ClassVar[str] = "users"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._user_ids: list[str] | None = None
        self._presences: dict[str, str] = {}

    def user_ids(self) -> list[str]:
        """Every user id of ``GET /api/v2/users?state=any``, read once per run, sorted."""
        if self._user_ids is None:
            client = self.genesys_tap.client

            def fetch(params: Mapping[str, Any] | None) -> Mapping[str, Any]:
                page = (params or {}).get("pageNumber", 1)
                context = f"{self.name} users state=any page {page}"
                _, data = client.call("GET", "/api/v2/users", params=params, context=context)
                return data

            listed = entities(fetch, page_size=DIRECTORY_PAGE_SIZE, params={"state": "any"})
            self._user_ids = sorted({str(u["id"]) for u in listed})
            self.logger.info("%s: %d users in the directory", self.name, len(self._user_ids))
        return self._user_ids

    def bodies(self, query: AggregateQuery, window: DateWindow) -> Iterator[dict[str, Any]]:
        """One body per batch of users, or the query's own body when it names its users."""
        if query.filter:
            yield query_body(query, window)
            return
        size = self.genesys_tap.settings.user_aggregates_batch_size
        for batch in user_batches(self.user_ids(), size):
            yield {**query_body(query, window), "filter": user_filter(batch)}

    def rows(self, query: AggregateQuery, data: Mapping[str, Any]) -> Iterable[Row]:
        """Rows with ``user_id`` and ``system_presence`` (from this and earlier responses)."""
        self._presences.update(presence_index(data.get("systemToOrganizationMappings")))
        return user_rows(super().rows(query, data), self._presences)


class FlowAggregatesStream(AggregatesStream):
    """Flow (IVR, bot) entries, outcomes and milestones per flow: containment reporting."""

    name = "flow_aggregates"
    subject: ClassVar[str] = "flows"


class EvaluationAggregatesStream(AggregatesStream):
    """Evaluation aggregates of the named ``evaluations`` queries.

    Without ``alternate_time_dimension`` the API buckets them by ``evaluationCreatedDate``.
    """

    name = "evaluation_aggregates"
    subject: ClassVar[str] = "evaluations"


class SurveyAggregatesStream(AggregatesStream):
    """Survey aggregates of the named ``surveys`` queries."""

    name = "survey_aggregates"
    subject: ClassVar[str] = "surveys"


AGGREGATE_STREAMS: list[type[AggregatesStream]] = [
    ConversationAggregatesStream,
    UserAggregatesStream,
    FlowAggregatesStream,
    EvaluationAggregatesStream,
    SurveyAggregatesStream,
]
