"""conversation_details and its child tables: the async jobs, the query tail, live conversations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from tap_genesys_analytics.extract.bookmark import Bookmark
from tap_genesys_analytics.extract.runner import ChunkRunner
from tap_genesys_analytics.extract.spec import ExtractSpec
from tap_genesys_analytics.genesys import child_rows as children
from tap_genesys_analytics.genesys.details import DetailsQuery
from tap_genesys_analytics.genesys.jobs import CONVERSATION_JOBS, JobsAPI
from tap_genesys_analytics.streams.base import GenesysStream, child_stream
from tap_genesys_analytics.windows import DateWindow, parse_iso

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class ConversationDetailsStream(GenesysStream):
    """Conversation detail records from the async jobs API, by conversation start."""

    name = "conversation_details"
    primary_keys: ClassVar[list[str]] = ["conversationId"]
    replication_key = None
    selected_by_default = True

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Run the chunk runner over ``[start_date, end_date)``."""
        settings = self.genesys_tap.settings
        Bookmark.from_state(self.stream_state, self.name)  # checked before the first request
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
            refresh=query.by_ids,
            keys_job_body=self._ids_job_body,
        )
        runner = ChunkRunner(spec, settings, self.stream_state, self.save_state)
        end = settings.run_end()
        available = jobs.availability()
        availability = parse_iso(available) if available else None
        self.logger.info("%s: jobs hold data up to %s", self.name, available or "(not reported)")
        records = runner.run(settings.start_date, end, availability=availability, query=query)
        yield from self.with_children(records)
        self.logger.info(
            "%s: %d records emitted, %d repeats dropped; %s; %s so far",
            self.name,
            runner.emitted,
            runner.dedup.dropped,
            runner.counters.summary(),
            client.pages.summary(),
        )

    def _job_body(self, window: DateWindow, start_of_day: bool) -> dict[str, Any]:
        settings = self.genesys_tap.settings
        body: dict[str, Any] = {
            "interval": window.day_matched_interval if start_of_day else window.interval,
            "order": "asc",
            "orderBy": "conversationStart",
            "startOfDayIntervalMatching": start_of_day,
        }
        if settings.conversation_filters:
            body["conversationFilters"] = settings.conversation_filters
        if settings.segment_filters:
            body["segmentFilters"] = settings.segment_filters
        return body

    def _ids_job_body(self, window: DateWindow, ids: list[str]) -> dict[str, Any]:
        """A job over the start days of ``ids`` that selects only them (jobs carry attributes).

        The stream's own filters stay, so a conversation they no longer select is not served.
        """
        body = self._job_body(window, True)
        by_id = {
            "type": "or",
            "predicates": [
                {"type": "dimension", "dimension": "conversationId", "value": conversation_id}
                for conversation_id in ids
            ],
        }
        body["conversationFilters"] = [*body.get("conversationFilters", []), by_id]
        return body


def _conversation_start(record: dict[str, Any]) -> str | None:
    value = record.get("conversationStart")
    return value if isinstance(value, str) else None


_PARTICIPANT = ["conversationId", "participantId"]
_SESSION = [*_PARTICIPANT, "sessionId"]
ConversationParticipantsStream = child_stream(
    "conversation_participants", _PARTICIPANT, ConversationDetailsStream, children.participants
)
ConversationSessionsStream = child_stream(
    "conversation_sessions", _SESSION, ConversationDetailsStream, children.sessions
)
ConversationSegmentsStream = child_stream(
    "conversation_segments",
    [*_SESSION, "segmentStart", "segmentType"],
    ConversationDetailsStream,
    children.segments,
)
ConversationMetricsStream = child_stream(
    "conversation_metrics",
    [*_SESSION, "name", "emitDate"],
    ConversationDetailsStream,
    children.metrics,
)

CONVERSATION_CHILDREN = [
    ConversationParticipantsStream,
    ConversationSessionsStream,
    ConversationSegmentsStream,
    ConversationMetricsStream,
]
