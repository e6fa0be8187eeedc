"""Quality evaluations and surveys: what changed (aggregates by eventTime), and flat rows.

There is no list of evaluations or surveys changed since a moment. Evaluation and survey
aggregates grouped by item id with ``alternateTimeDimension=eventTime`` come closest: an item
counts in the interval of each of its events (created, edited, re-scored, released,
retracted, deleted; sent, started, finished, expired), so one request per interval names every
item that changed in it, system-submitted evaluations included. Each named item is then read by
id, once. Pure functions and constants: nothing here sends a request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    """One item kind: where its changes are listed and how one item is read."""

    name: str
    aggregates_path: str
    id_dimension: str
    metrics: tuple[str, ...]
    #: The metric whose count means "deleted in this interval" (None: the kind is never deleted).
    deleted_metric: str | None

    def changes_body(self, interval: str) -> Record:
        """The aggregates query naming every item with an event in ``interval``."""
        return {
            "interval": interval,
            "groupBy": [self.id_dimension, "conversationId"],
            "metrics": list(self.metrics),
            "alternateTimeDimension": "eventTime",
        }

    def item_path(self, conversation_id: str, item_id: str) -> str:
        """The by-id route of one item."""
        if self.name == "evaluations":
            return f"/api/v2/quality/conversations/{conversation_id}/evaluations/{item_id}"
        return f"/api/v2/quality/surveys/{item_id}"


EVALUATIONS = Kind(
    "evaluations",
    "/api/v2/analytics/evaluations/aggregates/query",
    "evaluationId",
    ("nEvaluations", "nEvaluationsDeleted"),
    "nEvaluationsDeleted",
)
SURVEYS = Kind(
    "surveys",
    "/api/v2/analytics/surveys/aggregates/query",
    "surveyId",
    ("nSurveysSent", "nSurveysStarted", "nSurveyResponses", "nSurveysExpired"),
    None,
)


@dataclass(frozen=True)
class Change:
    """An item named by the aggregates: its ids, and whether it was deleted."""

    conversation_id: str
    item_id: str
    deleted: bool


def changes(kind: Kind, response: Mapping[str, Any]) -> list[Change]:
    """The items of one aggregates response, in a stable order (by conversation, then id)."""
    found: dict[tuple[str, str], bool] = {}
    for result in response.get("results") or ():
        group = result.get("group") or {}
        cid, iid = group.get("conversationId"), group.get(kind.id_dimension)
        if not cid or not iid:
            continue
        deleted = any(
            m.get("metric") == kind.deleted_metric and (m.get("stats") or {}).get("count")
            for data in result.get("data") or ()
            for m in data.get("metrics") or ()
        )
        found[(cid, iid)] = found.get((cid, iid), False) or deleted
    return [Change(c, i, d) for (c, i), d in sorted(found.items())]


def _id(value: Any) -> Any:
    return value.get("id") if isinstance(value, Mapping) else None


# ----------------------------------------------------------------------------- evaluations
def evaluation_row(evaluation: Mapping[str, Any]) -> Record:
    """One flat row per evaluation: status, dates, version, people, form and total scores."""
    answers = evaluation.get("answers") or {}
    form = evaluation.get("evaluationForm") or {}
    return {
        "id": evaluation.get("id"),
        "conversationId": _id(evaluation.get("conversation")),
        "conversationDate": evaluation.get("conversationDate"),
        "formId": form.get("id"),
        "formName": form.get("name"),
        "formContextId": form.get("contextId"),
        "agentId": _id(evaluation.get("agent")),
        "evaluatorId": _id(evaluation.get("evaluator")),
        "assigneeId": _id(evaluation.get("assignee")),
        "queueId": _id(evaluation.get("queue")),
        "calibrationId": _id(evaluation.get("calibration")),
        "status": evaluation.get("status"),
        "createdDate": evaluation.get("createdDate"),
        "changedDate": evaluation.get("changedDate"),
        "assignedDate": evaluation.get("assignedDate"),
        "submittedDate": evaluation.get("submittedDate"),
        "releaseDate": evaluation.get("releaseDate"),
        "neverRelease": evaluation.get("neverRelease"),
        "rescore": evaluation.get("rescore"),
        "version": evaluation.get("version"),
        "evaluationContextId": evaluation.get("evaluationContextId"),
        "retractedEvaluationId": _id(evaluation.get("retractedEvaluation")),
        "redacted": evaluation.get("redacted"),
        "systemSubmitted": evaluation.get("systemSubmitted"),
        "evaluationSourceType": (evaluation.get("evaluationSource") or {}).get("type"),
        "agentHasRead": evaluation.get("agentHasRead"),
        "totalScore": answers.get("totalScore"),
        "totalCriticalScore": answers.get("totalCriticalScore"),
        "totalNonCriticalScore": answers.get("totalNonCriticalScore"),
        "anyFailedKillQuestions": answers.get("anyFailedKillQuestions"),
        "comments": answers.get("comments"),
        "agentComments": answers.get("agentComments"),
        "deleted": False,
    }


def tombstone(change: Change) -> Record:
    """The row that says an item is gone: its keys and ``deleted`` true, nothing else."""
    return {"id": change.item_id, "conversationId": change.conversation_id, "deleted": True}


def evaluation_group_rows(evaluation: Mapping[str, Any]) -> Iterator[Record]:
    """One row per question group scored (``evaluation_question_group_scores``)."""
    base = _answer_base(evaluation, "evaluationId")
    for group in (evaluation.get("answers") or {}).get("questionGroupScores") or ():
        row = {k: v for k, v in group.items() if k != "questionScores"}
        row.update(base)
        yield row


def evaluation_question_rows(evaluation: Mapping[str, Any]) -> Iterator[Record]:
    """One row per question answered (``evaluation_question_scores``)."""
    yield from _question_rows(evaluation, "evaluationId")


# ----------------------------------------------------------------------------- surveys
def survey_row(survey: Mapping[str, Any]) -> Record:
    """One flat row per survey: status, scores, completion, agent, queue, form."""
    answers = survey.get("answers") or {}
    form = survey.get("surveyForm") or {}
    return {
        "id": survey.get("id"),
        "conversationId": _id(survey.get("conversation")),
        "formId": form.get("id"),
        "formName": form.get("name"),
        "formContextId": form.get("contextId"),
        "agentId": _id(survey.get("agent")),
        "agentTeamId": _id(survey.get("agentTeam")),
        "queueId": _id(survey.get("queue")),
        "status": survey.get("status"),
        "surveyType": survey.get("surveyType"),
        "completedDate": survey.get("completedDate"),
        "missingRequiredAnswer": survey.get("missingRequiredAnswer"),
        "totalScore": answers.get("totalScore"),
        "npsScore": answers.get("npsScore"),
        "deleted": False,
    }


def survey_question_rows(survey: Mapping[str, Any]) -> Iterator[Record]:
    """One row per question answered (``survey_question_scores``), NPS and free text included."""
    yield from _question_rows(survey, "surveyId")


def _answer_base(item: Mapping[str, Any], key: str) -> Record:
    return {
        key: item.get("id"),
        "conversationId": _id(item.get("conversation")),
        "version": item.get("version"),
    }


def _question_rows(item: Mapping[str, Any], key: str) -> Iterator[Record]:
    base = _answer_base(item, key)
    for group in (item.get("answers") or {}).get("questionGroupScores") or ():
        for question in group.get("questionScores") or ():
            row = dict(question)
            row.update(base)
            row["questionGroupId"] = group.get("questionGroupId")
            yield row
