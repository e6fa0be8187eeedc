"""Singer streams: thin classes that wire a record kind to the chunk runner."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_genesys_analytics.chunks import ChunkRunner, ExtractSpec
from tap_genesys_analytics.jobs import CONVERSATION_JOBS, JobsAPI
from tap_genesys_analytics.query import DetailsQuery
from tap_genesys_analytics.windows import DateWindow, parse_iso

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_genesys_analytics.tap import TapGenesysAnalytics

UTC = dt.timezone.utc


def load_schema(name: str) -> dict[str, Any]:
    """The JSON Schema shipped in ``schemas/<name>.json``."""
    text = resources.files("tap_genesys_analytics.schemas").joinpath(f"{name}.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


class GenesysStream(Stream):
    """Base for every stream: schema from the package, settings and client from the tap."""

    schema_name: ClassVar[str] = ""
    #: Records are emitted as parsed from the API (JSON in, JSON out); the schemas are complete,
    #: so per-record conformance would only cost time (see README, implementation notes).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: TapGenesysAnalytics) -> None:
        super().__init__(tap, schema=load_schema(self.schema_name or self.name))
        self.genesys_tap = tap

    def save_state(self) -> None:
        """Write a STATE message now: called by the runner after every page."""
        self.state_manager.is_flushed = False
        self._write_state_message()


class ConversationDetailsStream(GenesysStream):
    """Conversation detail records from the async jobs API, by conversation start."""

    name = "conversation_details"
    primary_keys: ClassVar[list[str]] = ["conversationId"]
    replication_key = None

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Run the chunk runner over ``[start_date, end_date)``."""
        settings = self.genesys_tap.settings
        client = self.genesys_tap.client
        query = DetailsQuery(client, settings)
        jobs = JobsAPI(client, CONVERSATION_JOBS)
        spec = ExtractSpec(
            jobs=jobs,
            key=lambda r: str(r.get("conversationId")),
            start_of=_conversation_start,
            job_body=self._job_body,
            expected_count=query.total_hits,
            label=self.name,
            is_final=lambda r: bool(r.get("conversationEnd")),
        )
        runner = ChunkRunner(spec, settings, self.stream_state, self.save_state)
        lag = dt.timedelta(minutes=settings.safety_lag_minutes)
        end = settings.end_date or dt.datetime.now(UTC) - lag
        available = jobs.availability()
        availability = parse_iso(available) if available else None
        self.logger.info("%s: jobs hold data up to %s", self.name, available or "(not reported)")
        yield from runner.run(settings.start_date, end, availability=availability, query=query)
        self.logger.info(
            "%s: %d records emitted, %d repeats dropped, %d windows re-read after a short "
            "count, %d live conversations left for a later run",
            self.name,
            runner.emitted,
            runner.dedup.dropped,
            runner.splits,
            runner.live_skipped,
        )

    def _job_body(self, window: DateWindow, start_of_day: bool) -> dict[str, Any]:
        settings = self.genesys_tap.settings
        body: dict[str, Any] = {
            "interval": window.interval,
            "order": "asc",
            "orderBy": "conversationStart",
            "startOfDayIntervalMatching": start_of_day,
        }
        if settings.conversation_filters:
            body["conversationFilters"] = settings.conversation_filters
        if settings.segment_filters:
            body["segmentFilters"] = settings.segment_filters
        return body


def _conversation_start(record: dict[str, Any]) -> str | None:
    value = record.get("conversationStart")
    return value if isinstance(value, str) else None
