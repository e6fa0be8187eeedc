"""Conversation aggregates: each named query of the ``aggregates`` setting, window by window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from tap_genesys_analytics.config.aggregates import AggregateQuery
from tap_genesys_analytics.genesys.aggregates import (
    AGGREGATES_PATH,
    MAX_BUCKETS,
    MAX_WINDOW_DAYS,
    flatten,
    plan_windows,
    query_body,
    window_days,
)
from tap_genesys_analytics.streams.base import GenesysStream
from tap_genesys_analytics.windows import iso, parse_iso

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class ConversationAggregatesStream(GenesysStream):
    """One row per (query, group, interval, metric), incremental by interval with a lookback.

    The bookmark holds one watermark per query name (the end of its last window read), so
    adding a query to the setting starts that query at ``start_date`` without touching others.
    """

    name = "conversation_aggregates"
    primary_keys: ClassVar[list[str]] = [
        "query_name",
        "group_key",
        "interval_start",
        "metric",
        "qualifier",
    ]
    replication_key = None

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Run every configured query over whole days of ``[start_date, end_date)``."""
        settings = self.genesys_tap.settings
        if not settings.aggregates:
            self.logger.info("%s: no queries in the aggregates setting", self.name)
            return
        end = settings.run_end()
        watermarks: dict[str, str] = self.stream_state.setdefault("watermarks", {})
        for query in settings.aggregates:
            start = settings.start_date
            if query.name in watermarks:
                back = parse_iso(watermarks[query.name]) - dt.timedelta(days=settings.lookback_days)
                start = max(start, back)
            yield from self._run_query(query, start, end, watermarks)

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
            "%s %s: %d request(s) of up to %d days (at most %d days and %d buckets each)",
            self.name,
            query.name,
            len(windows),
            window_days(query),
            MAX_WINDOW_DAYS,
            MAX_BUCKETS,
        )
        rows = 0
        for window in windows:
            _, data = client.call(
                "POST",
                AGGREGATES_PATH,
                body=query_body(query, window),
                context=f"{self.name} {query.name} {window.interval}",
            )
            for row in flatten(query.name, data.get("results") or ()):
                rows += 1
                yield row
            watermarks[query.name] = iso(window.end)
            self.save_state()
        self.logger.info("%s %s: %d rows written", self.name, query.name, rows)
