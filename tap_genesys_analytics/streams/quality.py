"""Quality streams: evaluations and surveys with their answers, and their forms.

Also the ``evaluations[]``/``surveys[]`` headers of conversation details (no extra request).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from tap_genesys_analytics.extract.changes import ChangeFeed
from tap_genesys_analytics.genesys import quality
from tap_genesys_analytics.streams.base import GenesysStream, child_stream, stream_class
from tap_genesys_analytics.streams.conversations import ConversationDetailsStream
from tap_genesys_analytics.streams.directory import DimensionStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

Record = dict[str, Any]


class ChangedItemsStream(GenesysStream):
    """Items that changed since the last run, by the item's own events, not the conversation's.

    An evaluation can be edited, re-scored, released, retracted or deleted up to 90 days after
    it is created, a survey finishes or expires days after its conversation: each run lists what
    changed since its bookmark and reads only those items (README, Quality). A deleted item is
    written once more as ``{id, conversationId, deleted: true}``.
    """

    primary_keys: ClassVar[list[str]] = ["id"]
    replication_key = None
    kind: ClassVar[quality.Kind]
    row: ClassVar[Callable[[Record], Record]]

    def get_records(self, context: Context | None) -> Iterable[Record]:
        """The changed items of ``[bookmark or start_date, end_date or now - lag)``."""
        settings = self.genesys_tap.settings
        feed = ChangeFeed(
            self.genesys_tap.client, self.kind, self.stream_state, self.save_state, self.name
        )
        row = type(self).row
        for item in self.with_children(feed.run(settings.start_date, settings.run_end())):
            yield item if item.get("deleted") else row(item)
        self.logger.info("%s: %s", self.name, feed.summary())


def _conversation_items(key: str) -> Callable[[Record], Iterator[Record]]:
    def rows(conversation: Record) -> Iterator[Record]:
        for item in conversation.get(key) or ():
            row = dict(item)
            row["conversationId"] = conversation.get("conversationId")
            row["conversationStart"] = conversation.get("conversationStart")
            yield row

    rows.__doc__ = f"One row per item of a conversation's ``{key}[]``."
    return rows


EvaluationsStream = stream_class(
    ChangedItemsStream,
    "evaluations",
    "``evaluations``: one row per evaluation, latest version, human and system-submitted.",
    kind=quality.EVALUATIONS,
    row=staticmethod(quality.evaluation_row),
)
SurveysStream = stream_class(
    ChangedItemsStream,
    "surveys",
    "``surveys``: one row per survey, from sent to finished, opted out, failed or expired.",
    kind=quality.SURVEYS,
    row=staticmethod(quality.survey_row),
)

QUALITY_STREAMS: list[type[GenesysStream]] = [
    child_stream(
        "conversation_evaluations",
        ["conversationId", "evaluationId"],
        ConversationDetailsStream,
        _conversation_items("evaluations"),
    ),
    child_stream(
        "conversation_surveys",
        ["conversationId", "surveyId"],
        ConversationDetailsStream,
        _conversation_items("surveys"),
    ),
    EvaluationsStream,
    child_stream(
        "evaluation_question_group_scores",
        ["evaluationId", "questionGroupId"],
        EvaluationsStream,
        quality.evaluation_group_rows,
    ),
    child_stream(
        "evaluation_question_scores",
        ["evaluationId", "questionId"],
        EvaluationsStream,
        quality.evaluation_question_rows,
    ),
    SurveysStream,
    child_stream(
        "survey_question_scores",
        ["surveyId", "questionId"],
        SurveysStream,
        quality.survey_question_rows,
    ),
    # Every published version: answer ids belong to a version, contextId is the stable key.
    stream_class(
        DimensionStream,
        "evaluation_forms",
        "``evaluation_forms``: every published evaluation form version.",
        path="/api/v2/quality/publishedforms/evaluations",
        filters=({"onlyLatestPerContext": "false"},),
    ),
    stream_class(
        DimensionStream,
        "survey_forms",
        "``survey_forms``: every published survey form version.",
        path="/api/v2/quality/publishedforms/surveys",
        filters=({"onlyLatestEnabledPerContext": "false"},),
    ),
]
