"""The ``aggregates`` setting: named aggregate queries of every subject, validated at start-up.

Each query names its subject (``conversations`` unless told), metrics, grouping, granularity (an
ISO-8601 period that divides a day), filter, time zone and alternate time dimension. Each
subject's allowed dimensions and metrics (:data:`SUBJECTS`, from the API's own query models) are
checked here, so a query the API would refuse fails at start-up with the query's name rather
than after hours of other streams. What a query becomes on the wire (request bodies, windows,
flat rows) is ``genesys.aggregates``; this module only reads and checks the setting.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.timezone.utc
DAY = dt.timedelta(days=1)

DEFAULT_GRANULARITY = "PT30M"
DEFAULT_SUBJECT = "conversations"
QUERY_FIELDS = frozenset(
    {
        "name",
        "subject",
        "group_by",
        "metrics",
        "granularity",
        "filter",
        "time_zone",
        "alternate_time_dimension",
    }
)
#: At most this many ``userId`` predicates in one users aggregates query (the API's own limit).
MAX_USER_PREDICATES = 100
_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


@dataclasses.dataclass(frozen=True)
class AggregateQuery:
    """One named query of the ``aggregates`` setting, validated."""

    name: str
    metrics: tuple[str, ...]
    group_by: tuple[str, ...] = ()
    granularity: str = DEFAULT_GRANULARITY
    filter: Mapping[str, Any] | None = None
    time_zone: str | None = None
    subject: str = DEFAULT_SUBJECT
    alternate_time_dimension: str | None = None

    @property
    def step(self) -> dt.timedelta:
        """The granularity as a duration."""
        return parse_granularity(self.granularity)

    @property
    def zone(self) -> dt.tzinfo:
        """The zone whose midnights bound the windows (UTC unless ``time_zone`` is set)."""
        return ZoneInfo(self.time_zone) if self.time_zone else UTC


@dataclasses.dataclass(frozen=True)
class SubjectRules:
    """What one subject's aggregates query accepts; ``None`` leaves a list unchecked.

    The lists are the enums of the API's ``<Subject>AggregationQuery`` and
    ``<Subject>AggregateQueryPredicate`` models (Genesys Java SDK, the models that list them;
    next-streams.md §1-§4). Conversations keep today's behaviour: their lists are not in the
    fact sheet, so only the API checks them. Left out, ``alternateTimeDimension`` is the API's
    default: ``evaluationCreatedDate`` for evaluations (since 2024, the forum announcement in
    next-streams.md §1), the start of the conversation, flow or status otherwise.
    """

    group_by: frozenset[str] | None
    metrics: frozenset[str] | None
    filter_dimensions: frozenset[str] | None
    time_dimensions: frozenset[str]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FLOW_DIMENSIONS = _words(
    """activeRouting activeSkillId addressFrom addressTo agentAssistantId agentBullseyeRing
    agentOwned agentRank agentScore ani assignerId authenticated conversationId
    conversationInitiator convertedFrom convertedTo customerParticipation deliveryStatus
    destinationAddress direction disconnectType divisionId dnis edgeId eligibleAgentCount
    endingLanguage entryReason entryType errorCode exitReason extendedDeliveryStatus
    externalContactId externalMediaCount externalOrganizationId externalTag firstQueue
    flaggedReason flowId flowInType flowMilestoneId flowName flowOutType flowOutcome
    flowOutcomeId flowOutcomeValue flowSubType flowType flowVersion groupId interactionType
    journeyActionId journeyActionMapId journeyActionMapVersion journeyCustomerId
    journeyCustomerIdType journeyCustomerSessionId journeyCustomerSessionIdType knowledgeBaseId
    mediaCount mediaType messageType originatingDirection outboundCampaignId outboundContactId
    outboundContactListId participantName peerId proposedAgentId provider purpose queueId
    recognitionFailureReason remote removedSkillId requestedLanguageId requestedRouting
    requestedRoutingSkillId roomId routingPriority routingRing routingRule routingRuleType
    scoredAgentId selectedAgentId selectedAgentRank selfServed sessionDnis sessionId
    startingLanguage stationId teamId transferTargetAddress transferTargetName transferType
    usedRouting userId videoPresent waitingInteractionCount wrapUpCode"""
)
_EVALUATION_GROUPS = _words(
    """assigneeApplicable assigneeId calibrationId contextId conversationId divisionId
    evaluationContextId evaluationId evaluatorId formId mediaType queueId released rescored
    teamId userId"""
)
_SURVEY_GROUPS = _words(
    """conversationId divisionId externalContactId mediaType queueId requestedLanguageId
    requestedRoutingSkillId surveyAnswerId surveyErrorReason surveyFormContextId surveyFormId
    surveyFormName surveyId surveyPartialResponse surveyPreviousStatus surveyPromoterScore
    surveyQuestionGroupId surveyQuestionId surveyStatus surveyType teamId userId wrapUpCode"""
)
USER_METRICS = ("tSystemPresence", "tOrganizationPresence", "tAgentRoutingStatus")

#: Subject -> its rules; the subject is also the path segment of
#: ``POST /api/v2/analytics/{subject}/aggregates/query``.
SUBJECTS: dict[str, SubjectRules] = {
    "conversations": SubjectRules(None, None, None, frozenset({"eventTime"})),
    "users": SubjectRules(
        group_by=frozenset({"userId"}),
        metrics=frozenset(USER_METRICS),
        filter_dimensions=frozenset({"userId"}),
        time_dimensions=frozenset({"eventTime"}),
    ),
    "flows": SubjectRules(
        group_by=_FLOW_DIMENSIONS,
        metrics=_words(
            """nFlow nFlowMilestone nFlowOutcome nFlowOutcomeFailed oFlowMilestone tFlow
            tFlowDisconnect tFlowExit tFlowOutcome"""
        ),
        filter_dimensions=_FLOW_DIMENSIONS | {"canonicalExternalContactId"},
        time_dimensions=frozenset({"eventTime"}),
    ),
    "evaluations": SubjectRules(
        group_by=_EVALUATION_GROUPS,
        metrics=_words(
            "nEvaluations nEvaluationsDeleted nEvaluationsRescored oTotalCriticalScore oTotalScore"
        ),
        filter_dimensions=_EVALUATION_GROUPS
        | {"conversationStart", "evaluationCreatedDate", "evaluationReleaseDate"},
        time_dimensions=_words(
            "conversationStart evaluationCreatedDate evaluationReleaseDate eventTime"
        ),
    ),
    "surveys": SubjectRules(
        group_by=_SURVEY_GROUPS,
        metrics=_words(
            """nSurveyErrors nSurveyFullResponses nSurveyNpsDetractors nSurveyNpsPromoters
            nSurveyNpsResponses nSurveyPartialResponses nSurveyQuestionGroupResponses
            nSurveyQuestionResponses nSurveyResponses nSurveysAbandoned nSurveysDeleted
            nSurveysExpired nSurveysSent nSurveysStarted nVoiceSurveys nWebSurveys
            oSurveyQuestionGroupScore oSurveyQuestionScore oSurveyTotalScore"""
        ),
        filter_dimensions=_SURVEY_GROUPS | {"surveyCreatedDate"},
        time_dimensions=_words("eventTime surveyCreatedDate"),
    ),
}


def parse_granularity(text: str) -> dt.timedelta:
    """An ISO-8601 period of weeks, days, hours, minutes and seconds (``PT30M``, ``P1D``)."""
    match = _DURATION.match(text)
    if not match or text in {"P", "PT"} or text.endswith("T"):
        msg = f"granularity must be an ISO-8601 period such as PT30M or P1D, got {text!r}"
        raise ValueError(msg)
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    value = dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    if value <= dt.timedelta(0):
        msg = f"granularity must be longer than zero, got {text!r}"
        raise ValueError(msg)
    return value


def parse_aggregates(value: Any) -> tuple[AggregateQuery, ...]:
    """Validate the ``aggregates`` setting (a list, or its JSON text from an env variable).

    Raises ``ValueError`` with a sentence that names the query and the field to fix.
    """
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            msg = "aggregates must be a JSON array of named queries"
            raise ValueError(msg) from None
    if not isinstance(value, list) or not all(isinstance(q, Mapping) for q in value):
        msg = (
            'aggregates must be a list of queries such as {"name": "queue_daily", '
            '"group_by": ["queueId"], "metrics": ["nOffered", "tHandle"]}'
        )
        raise ValueError(msg)
    queries = tuple(_parse_query(i, raw) for i, raw in enumerate(value))
    names = [q.name for q in queries]
    if len(set(names)) != len(names):
        msg = "aggregates: every query needs its own name (the name is part of each row's key)"
        raise ValueError(msg)
    return queries


def _parse_query(index: int, raw: Mapping[str, Any]) -> AggregateQuery:
    name = raw.get("name")
    where = f"aggregates[{index}]"
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where} needs a name")
    where = f"aggregates query {name!r}"
    unknown = sorted(set(raw) - QUERY_FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    subject = raw.get("subject") or DEFAULT_SUBJECT
    if subject not in SUBJECTS:
        msg = f"{where}: subject {subject!r} is not one of {', '.join(SUBJECTS)}"
        raise ValueError(msg)
    rules = SUBJECTS[subject]
    metrics = raw.get("metrics")
    if not _strings(metrics) or not metrics:
        raise ValueError(f"{where}: metrics must be a non-empty list of metric names")
    group_by = raw.get("group_by") or []
    if not _strings(group_by):
        raise ValueError(f"{where}: group_by must be a list of dimension names")
    granularity = raw.get("granularity") or DEFAULT_GRANULARITY
    check_granularity(where, str(granularity))
    flt = raw.get("filter")
    if flt is not None and not isinstance(flt, Mapping):
        raise ValueError(f"{where}: filter must be one Genesys filter object")
    time_zone = raw.get("time_zone") or None
    if time_zone is not None:
        check_time_zone(where, str(time_zone))
    alternate = raw.get("alternate_time_dimension") or None
    if alternate is not None and alternate not in rules.time_dimensions:
        allowed = ", ".join(sorted(rules.time_dimensions))
        msg = f"{where}: alternate_time_dimension {alternate!r} is not one of {allowed}"
        raise ValueError(msg)
    _check_subject(where, subject, metrics, group_by, flt)
    return AggregateQuery(
        name=name.strip(),
        metrics=tuple(metrics),
        group_by=tuple(group_by),
        granularity=str(granularity),
        filter=dict(flt) if flt else None,
        time_zone=str(time_zone) if time_zone else None,
        subject=subject,
        alternate_time_dimension=alternate,
    )


def check_granularity(where: str, granularity: str) -> None:
    """An ISO-8601 period that divides a day, or a ``ValueError`` that starts with ``where``."""
    try:
        step = parse_granularity(granularity)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if DAY % step:
        msg = (
            f"{where}: granularity {granularity} must divide a day (PT15M, PT30M, PT1H, P1D...) "
            "so that buckets line up with the day-aligned windows on every run"
        )
        raise ValueError(msg)


def check_time_zone(where: str, time_zone: str) -> None:
    """An IANA zone name, or a ``ValueError`` that starts with ``where``."""
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{where}: time_zone {time_zone!r} is not an IANA zone") from None


def _check_subject(
    where: str,
    subject: str,
    metrics: list[str],
    group_by: list[str],
    flt: Mapping[str, Any] | None,
) -> None:
    """Refuse what the subject's API refuses, naming the query, the field and what is allowed."""
    rules = SUBJECTS[subject]
    dimensions = filter_dimensions(flt)
    for field, used, allowed in (
        ("metrics", metrics, rules.metrics),
        ("group_by", group_by, rules.group_by),
        ("filter dimension", dimensions, rules.filter_dimensions),
    ):
        wrong = sorted(set(used) - allowed) if allowed is not None else []
        if wrong:
            shown = ", ".join(sorted(allowed or ())) if len(allowed or ()) <= 30 else ""
            hint = f"; {subject} allows {shown}" if shown else ""
            msg = f"{where}: {field} {', '.join(wrong)} not allowed for subject {subject}{hint}"
            raise ValueError(msg)
    if subject == "users" and not dimensions and "userId" not in group_by:
        msg = (
            f"{where}: group_by must hold userId (or the filter name at most "
            f"{MAX_USER_PREDICATES} users): users are asked for in batches of at most "
            f"{MAX_USER_PREDICATES}, and a total over all users would come back split in parts"
        )
        raise ValueError(msg)
    if subject == "users" and len(dimensions) > MAX_USER_PREDICATES:
        msg = (
            f"{where}: {len(dimensions)} userId predicates; the API allows at most "
            f"{MAX_USER_PREDICATES} (leave the filter out to read every user in batches)"
        )
        raise ValueError(msg)


def filter_dimensions(flt: Mapping[str, Any] | None) -> list[str]:
    """The ``dimension`` of each predicate of a filter and of its clauses, in order."""
    if not flt:
        return []
    predicates = list(flt.get("predicates") or ())
    for clause in flt.get("clauses") or ():
        if isinstance(clause, Mapping):
            predicates.extend(clause.get("predicates") or ())
    return [str(p["dimension"]) for p in predicates if isinstance(p, Mapping) and "dimension" in p]


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)
