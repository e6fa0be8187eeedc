"""Evaluation and survey aggregates over the quality items the simulator serves.

``POST /api/v2/analytics/evaluations/aggregates/query`` and ``.../surveys/aggregates/query``
with the documented groupBy, metrics and ``alternateTimeDimension`` lists of the SDK's
``EvaluationAggregationQuery``/``SurveyAggregationQuery`` (next-streams.md §1, §2); anything
else answers 400. The evaluation default time dimension is ``evaluationCreatedDate``
(F-5703), the survey one ``eventTime``.

With ``eventTime`` an item counts in the bucket of each of its events (so grouping by its id
lists the items that changed in an interval: what the tap's ``evaluations``/``surveys``
streams ask). With another dimension the item counts once, in the bucket of that moment,
with every event it has had by the clock. A group an item touched is listed even when no
asked metric counted anything there (its ``metrics`` is then empty).

Inferences (no definition found): ``nSurveyPartialResponses`` counts a started survey that
expired unfinished; NPS promoters score 9-10, detractors 0-6; question metrics count at the
``Finished`` event, one per answered question (group), grouped also by
``surveyQuestionGroupId``/``surveyQuestionId``/``surveyAnswerId``. Scores are whole numbers,
as the analytics models carry them. A documented dimension the simulated items lack
(``teamId``, ``calibrationId``, ``wrapUpCode``...) is simply absent from the groups.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from . import quality
from .aggregate_parts import Acc, SubjectQuery, new_acc, render, subject_query
from .aggregates import MAX_BUCKETS
from .dataset import Dataset

Json = dict[str, Any]

EVALUATION_GROUPS = (
    "assigneeApplicable",
    "assigneeId",
    "calibrationId",
    "contextId",
    "conversationId",
    "divisionId",
    "evaluationContextId",
    "evaluationId",
    "evaluatorId",
    "formId",
    "mediaType",
    "queueId",
    "released",
    "rescored",
    "teamId",
    "userId",
)
EVALUATION_METRICS = (
    "nEvaluations",
    "nEvaluationsDeleted",
    "nEvaluationsRescored",
    "oTotalCriticalScore",
    "oTotalScore",
)
EVALUATION_TIMES = (
    "conversationStart",
    "evaluationCreatedDate",
    "evaluationReleaseDate",
    "eventTime",
)
SURVEY_GROUPS = (
    "conversationId",
    "divisionId",
    "externalContactId",
    "mediaType",
    "queueId",
    "requestedLanguageId",
    "requestedRoutingSkillId",
    "surveyAnswerId",
    "surveyErrorReason",
    "surveyFormContextId",
    "surveyFormId",
    "surveyFormName",
    "surveyId",
    "surveyPartialResponse",
    "surveyPreviousStatus",
    "surveyPromoterScore",
    "surveyQuestionGroupId",
    "surveyQuestionId",
    "surveyStatus",
    "surveyType",
    "teamId",
    "userId",
    "wrapUpCode",
)
SURVEY_METRICS = (
    "nSurveyErrors",
    "nSurveyFullResponses",
    "nSurveyNpsDetractors",
    "nSurveyNpsPromoters",
    "nSurveyNpsResponses",
    "nSurveyPartialResponses",
    "nSurveyQuestionGroupResponses",
    "nSurveyQuestionResponses",
    "nSurveyResponses",
    "nSurveysAbandoned",
    "nSurveysDeleted",
    "nSurveysExpired",
    "nSurveysSent",
    "nSurveysStarted",
    "nVoiceSurveys",
    "nWebSurveys",
    "oSurveyQuestionGroupScore",
    "oSurveyQuestionScore",
    "oSurveyTotalScore",
)
SURVEY_TIMES = ("eventTime", "surveyCreatedDate")
QUESTION_METRICS = frozenset(
    {
        "nSurveyQuestionGroupResponses",
        "oSurveyQuestionGroupScore",
        "nSurveyQuestionResponses",
        "oSurveyQuestionScore",
    }
)
#: The survey event each plain count metric counts.
SURVEY_EVENT_METRICS = {
    "nSurveysSent": "Sent",
    "nSurveysStarted": "InProgress",
    "nSurveyResponses": "Finished",
    "nSurveyFullResponses": "Finished",
    "nSurveysAbandoned": "OptOut",
    "nSurveyErrors": "Error",
    "nSurveysExpired": "Expired",
}


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _evaluation_values(record: Json) -> Json:
    values = {
        "evaluationId": record["id"],
        "conversationId": record["conversation"]["id"],
        "userId": record["agent"]["id"],
        "queueId": record["queue"]["id"],
        "formId": record["evaluationForm"]["id"],
        "contextId": record["evaluationForm"]["contextId"],
        "evaluatorId": (record.get("evaluator") or {}).get("id"),
        "evaluationContextId": record["evaluationContextId"],
        "released": _flag(record["releaseDate"] is not None),
        "rescored": _flag(record["rescore"]),
    }
    return {k: v for k, v in values.items() if v is not None}


def _moments(item: quality.Item, time: str, now_ms: int) -> Iterator[tuple[int, list[Any]]]:
    """``(moment, events counted there)`` of one item for the query's time dimension."""
    happened = item.events_until(now_ms)
    if time == "eventTime":
        for e in happened:
            yield e.t, [e]
        return
    anchors = {
        "evaluationCreatedDate": [happened[0].t],
        "surveyCreatedDate": [happened[0].t],
        "conversationStart": [item.conversation_start],
        "evaluationReleaseDate": [e.t for e in happened if e.kind == "release"],
    }[time]
    for t in anchors:
        yield t, happened


def _items(ds: Dataset, query: SubjectQuery, kind: str) -> Iterator[quality.Item]:
    fr = query.frame
    for p in ds.quality_items(fr.start, fr.end):
        yield from getattr(p, kind)


def evaluation_aggregate(
    ds: Dataset, body: Mapping[str, Any], now_ms: int, max_buckets: int = MAX_BUCKETS
) -> Json:
    """Answer an ``EvaluationAggregationQuery`` as of ``now_ms``; raises ``FilterError``."""
    query = subject_query(
        "evaluations",
        body,
        max_buckets,
        groups=EVALUATION_GROUPS,
        metrics=EVALUATION_METRICS,
        times=EVALUATION_TIMES,
        default_time="evaluationCreatedDate",
    )
    wanted = set(query.metrics)
    acc = new_acc()
    for item in _items(ds, query, "evaluations"):
        record = quality.evaluation_at(item, now_ms)
        if record is None:
            continue
        values = _evaluation_values(record)
        if not query.matches(values):
            continue
        answers = record.get("answers")
        for t, events in _moments(item, query.time, now_ms):
            bucket = query.frame.bucket(t)
            if bucket is None:
                continue
            cells = acc[query.key(values)][bucket]
            counts = {
                "nEvaluations": 1,
                "nEvaluationsDeleted": sum(e.kind == "delete" for e in events),
                "nEvaluationsRescored": sum(e.kind == "rescore" for e in events),
            }
            for metric, n in counts.items():
                if n and metric in wanted:
                    cells[(metric, None)].append(n)
            if answers:
                for metric, field in (
                    ("oTotalScore", "totalScore"),
                    ("oTotalCriticalScore", "totalCriticalScore"),
                ):
                    if metric in wanted:
                        cells[(metric, None)].append(round(answers[field]))
    return _answer(acc, query)


def _survey_values(record: Json) -> Json:
    answers = record.get("answers") or {}
    values = {
        "surveyId": record["id"],
        "conversationId": record["conversation"]["id"],
        "userId": (record.get("agent") or {}).get("id"),
        "queueId": record["queue"]["id"],
        "surveyFormId": record["surveyForm"]["id"],
        "surveyFormName": record["surveyForm"]["name"],
        "surveyFormContextId": record["surveyForm"]["contextId"],
        "surveyStatus": record["status"],
        "surveyType": record["surveyType"],
        "surveyPartialResponse": _flag(record["status"] == "InProgress"),
        "surveyPromoterScore": answers.get("npsScore"),
    }
    return {k: v for k, v in values.items() if v is not None}


def survey_aggregate(
    ds: Dataset, body: Mapping[str, Any], now_ms: int, max_buckets: int = MAX_BUCKETS
) -> Json:
    """Answer a ``SurveyAggregationQuery`` as of ``now_ms``; raises ``FilterError``."""
    query = subject_query(
        "surveys",
        body,
        max_buckets,
        groups=SURVEY_GROUPS,
        metrics=SURVEY_METRICS,
        times=SURVEY_TIMES,
        default_time="eventTime",
    )
    acc = new_acc()
    for item in _items(ds, query, "surveys"):
        record = quality.survey_at(item, now_ms)
        if record is None:
            continue
        values = _survey_values(record)
        if not query.matches(values):
            continue
        started = any(e.kind == "InProgress" for e in item.events_until(now_ms))
        for t, events in _moments(item, query.time, now_ms):
            bucket = query.frame.bucket(t)
            if bucket is None:
                continue
            acc[query.key(values)][bucket]
            for e in events:
                _survey_event(acc, query, (values, bucket), (e.kind, started), record)
    return _answer(acc, query)


def _survey_event(
    acc: Acc,
    query: SubjectQuery,
    where: tuple[Json, int],
    event: tuple[str, bool],
    record: Json,
) -> None:
    """Count one survey event (its kind, and whether the survey was ever started)."""
    values, bucket = where
    kind, started = event
    wanted = set(query.metrics)
    cells = acc[query.key(values)][bucket]

    def add(metric: str, value: int, where: Any = cells) -> None:
        if metric in wanted:
            where[(metric, None)].append(value)

    for metric, event_kind in SURVEY_EVENT_METRICS.items():
        if kind == event_kind:
            add(metric, 1)
    if kind == "Sent":
        add("nVoiceSurveys" if record["surveyType"] == "Voice" else "nWebSurveys", 1)
    if kind == "Expired" and started:
        add("nSurveyPartialResponses", 1)
    answers = record.get("answers") or {}
    if kind != "Finished" or not answers:
        return
    nps = answers.get("npsScore")
    if nps is not None:
        add("nSurveyNpsResponses", 1)
        if nps >= 9:
            add("nSurveyNpsPromoters", 1)
        elif nps <= 6:
            add("nSurveyNpsDetractors", 1)
    add("oSurveyTotalScore", round(answers["totalScore"]))
    if not wanted & QUESTION_METRICS:
        return
    for group in answers.get("questionGroupScores", []):
        at_group = dict(values, surveyQuestionGroupId=group["questionGroupId"])
        if query.matches(at_group):
            group_cells = acc[query.key(at_group)][bucket]
            add("nSurveyQuestionGroupResponses", 1, group_cells)
            add("oSurveyQuestionGroupScore", round(group["totalScore"]), group_cells)
        for q in group.get("questionScores", []):
            at_question = dict(at_group, surveyQuestionId=q["questionId"])
            if q.get("answerId"):
                at_question["surveyAnswerId"] = q["answerId"]
            if query.matches(at_question):
                q_cells = acc[query.key(at_question)][bucket]
                add("nSurveyQuestionResponses", 1, q_cells)
                add("oSurveyQuestionScore", round(q["score"]), q_cells)


def _answer(acc: Acc, query: SubjectQuery) -> Json:
    results = render(acc, query)
    return {"results": results} if results else {}
