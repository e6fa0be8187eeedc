"""Flow aggregates: ``POST /api/v2/analytics/flows/aggregates/query``.

Computed from the same IVR sessions whose ``flow`` (and its ``outcomes[]``) conversation
details serve, as of the clock, so outcome counts agree with the details. Each metric counts
at its event (``alternateTimeDimension`` has the one documented value, ``eventTime``):

* ``nFlow`` when the flow starts (the session's ``nFlow``); ``tFlow`` when it ends, and the
  same duration as ``tFlowDisconnect`` when the caller hung up in it (``exitReason``
  ``DISCONNECT``), else as ``tFlowExit`` (it left the flow: a transfer). Inference: the
  metric names, no definition was found.
* ``nFlowOutcome``, ``nFlowOutcomeFailed`` (value ``FAILURE``) and ``tFlowOutcome`` (outcome
  start to end) when an outcome ends, grouped also by ``flowOutcome``/``Id``/``Value``.
* ``nFlowMilestone`` per milestone hit, ``oFlowMilestone`` once per run that reached the
  milestone (inference: "o" metrics are observations), grouped also by ``flowMilestoneId`` and
  by the outcome in progress. Milestones beyond the analytics caps (``flows.Catalogue.used``;
  switches ``flow_milestones_per_outcome``/``_per_flow``) are dropped, counted as
  ``flow_milestones_capped``. A run's milestones are reported with its outcome, once the
  outcome has ended.

A dimension a session does not have (``flowSubType``, a flow-level metric grouped by
``flowOutcomeId``...) is left out of the group, as the API omits absent values. ``queueId``
is the queue the flow transferred to (inference).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .aggregate_parts import Acc, SubjectQuery, counted, new_acc, render, subject_query
from .aggregates import MAX_BUCKETS
from .dataset import Dataset
from .flows import MILESTONES_PER_FLOW, MILESTONES_PER_OUTCOME, catalogue
from .timeutil import parse_iso

Json = dict[str, Any]

FLOW_METRICS = (
    "nFlow",
    "nFlowMilestone",
    "nFlowOutcome",
    "nFlowOutcomeFailed",
    "oFlowMilestone",
    "tFlow",
    "tFlowDisconnect",
    "tFlowExit",
    "tFlowOutcome",
)
#: ``FlowAggregationQuery.groupBy`` (SDK 269 / Java model enum).
FLOW_GROUPS = (
    "activeRouting",
    "activeSkillId",
    "addressFrom",
    "addressTo",
    "agentAssistantId",
    "agentBullseyeRing",
    "agentOwned",
    "agentRank",
    "agentScore",
    "ani",
    "assignerId",
    "authenticated",
    "conversationId",
    "conversationInitiator",
    "convertedFrom",
    "convertedTo",
    "customerParticipation",
    "deliveryStatus",
    "destinationAddress",
    "direction",
    "disconnectType",
    "divisionId",
    "dnis",
    "edgeId",
    "eligibleAgentCount",
    "endingLanguage",
    "entryReason",
    "entryType",
    "errorCode",
    "exitReason",
    "extendedDeliveryStatus",
    "externalContactId",
    "externalMediaCount",
    "externalOrganizationId",
    "externalTag",
    "firstQueue",
    "flaggedReason",
    "flowId",
    "flowInType",
    "flowMilestoneId",
    "flowName",
    "flowOutType",
    "flowOutcome",
    "flowOutcomeId",
    "flowOutcomeValue",
    "flowSubType",
    "flowType",
    "flowVersion",
    "groupId",
    "interactionType",
    "journeyActionId",
    "journeyActionMapId",
    "journeyActionMapVersion",
    "journeyCustomerId",
    "journeyCustomerIdType",
    "journeyCustomerSessionId",
    "journeyCustomerSessionIdType",
    "knowledgeBaseId",
    "mediaCount",
    "mediaType",
    "messageType",
    "originatingDirection",
    "outboundCampaignId",
    "outboundContactId",
    "outboundContactListId",
    "participantName",
    "peerId",
    "proposedAgentId",
    "provider",
    "purpose",
    "queueId",
    "recognitionFailureReason",
    "remote",
    "removedSkillId",
    "requestedLanguageId",
    "requestedRouting",
    "requestedRoutingSkillId",
    "roomId",
    "routingPriority",
    "routingRing",
    "routingRule",
    "routingRuleType",
    "scoredAgentId",
    "selectedAgentId",
    "selectedAgentRank",
    "selfServed",
    "sessionDnis",
    "sessionId",
    "startingLanguage",
    "stationId",
    "teamId",
    "transferTargetAddress",
    "transferTargetName",
    "transferType",
    "usedRouting",
    "userId",
    "videoPresent",
    "waitingInteractionCount",
    "wrapUpCode",
)
FLOW_TIMES = ("eventTime",)
_SESSION_KEYS: tuple[str, ...] = ("mediaType", "direction", "ani", "dnis", "addressFrom")
_SESSION_KEYS += ("addressTo", "provider", "peerId", "sessionId")
_FLOW_KEYS: tuple[str, ...] = ("flowId", "flowName", "flowType", "flowVersion", "entryType")
_FLOW_KEYS += ("entryReason", "exitReason", "transferType", "transferTargetAddress")
_FLOW_KEYS += ("transferTargetName", "startingLanguage", "endingLanguage")


def _context(conv: Mapping[str, Any], participant: Json, session: Json) -> Json:
    flow = session["flow"]
    ctx: Json = {
        "conversationId": conv["conversationId"],
        "originatingDirection": conv.get("originatingDirection"),
        "divisionId": (conv.get("divisionIds") or [None])[0],
        "externalTag": conv.get("externalTag"),
        "purpose": participant.get("purpose"),
        "participantName": participant.get("participantName"),
    }
    ctx.update({k: session.get(k) for k in _SESSION_KEYS})
    ctx.update({k: flow.get(k) for k in _FLOW_KEYS})
    if flow.get("transferType") == "ACD":
        ctx["queueId"] = flow.get("transferTargetAddress")
    return {k: v for k, v in ctx.items() if v is not None}


class _Run:
    """Adds one IVR run's events to the accumulator."""

    def __init__(self, query: SubjectQuery, acc: Acc, seed: int, caps: tuple[int, int]) -> None:
        self.catalogue = catalogue(seed)
        self.used = self.catalogue.used(*caps)
        self.query = query
        self.acc = acc
        self.wanted = set(query.metrics)
        self.capped = 0

    def add(self, values: Json, t: int, metric: str, value: int) -> None:
        if metric not in self.wanted or not self.query.matches(values):
            return
        bucket = self.query.frame.bucket(t)
        if bucket is not None:
            self.acc[self.query.key(values)][bucket][(metric, None)].append(value)

    def session(self, conv: Mapping[str, Any], participant: Json, session: Json) -> None:
        ctx = _context(conv, participant, session)
        flow = session["flow"]
        for m in session.get("metrics", []):
            t = parse_iso(m["emitDate"])
            if m["name"] == "nFlow":
                self.add(ctx, t, "nFlow", m["value"])
            elif m["name"] == "tFlow":
                self.add(ctx, t, "tFlow", m["value"])
                out = "tFlowDisconnect" if flow.get("exitReason") == "DISCONNECT" else "tFlowExit"
                self.add(ctx, t, out, m["value"])
        for outcome in flow.get("outcomes", []):
            self.outcome(ctx, flow["flowId"], outcome)

    def outcome(self, ctx: Json, flow_id: str, outcome: Json) -> None:
        values = dict(ctx)
        for k in ("flowOutcome", "flowOutcomeId", "flowOutcomeValue"):
            values[k] = outcome[k]
        start = parse_iso(outcome["flowOutcomeStartTimestamp"])
        end = parse_iso(outcome["flowOutcomeEndTimestamp"])
        self.add(values, end, "nFlowOutcome", 1)
        if outcome["flowOutcomeValue"] == "FAILURE":
            self.add(values, end, "nFlowOutcomeFailed", 1)
        self.add(values, end, "tFlowOutcome", end - start)
        seen: set[str] = set()
        for t, milestone in self.catalogue.milestone_hits(
            ctx["conversationId"], outcome["flowOutcomeId"], (start, end)
        ):
            if (flow_id, milestone) not in self.used:
                if self.query.frame.bucket(t) is not None and self.wanted & _MILESTONE_METRICS:
                    self.capped += 1
                continue
            hit = dict(values, flowMilestoneId=milestone)
            self.add(hit, t, "nFlowMilestone", 1)
            if milestone not in seen:
                seen.add(milestone)
                self.add(hit, t, "oFlowMilestone", 1)


_MILESTONE_METRICS = frozenset({"nFlowMilestone", "oFlowMilestone"})


def _stats(name: str, values: list[int]) -> Json:
    if name == "oFlowMilestone":
        return {"count": len(values)}
    return counted(name, values)


def flow_aggregate_counted(
    ds: Dataset,
    body: Mapping[str, Any],
    now_ms: int,
    max_buckets: int = MAX_BUCKETS,
    caps: tuple[int, int] = (MILESTONES_PER_OUTCOME, MILESTONES_PER_FLOW),
) -> tuple[Json, int]:
    """Answer a ``FlowAggregationQuery``, and how many milestone hits the caps dropped.

    ``caps``: the milestones analytics uses per outcome and per flow (20 and 100).
    """
    query = subject_query(
        "flows",
        body,
        max_buckets,
        groups=FLOW_GROUPS,
        metrics=FLOW_METRICS,
        times=FLOW_TIMES,
        default_time="eventTime",
    )
    a, b = query.frame.start, query.frame.end
    acc = new_acc()
    run = _Run(query, acc, ds.seed, caps)
    for i in range(ds.index_at(a - ds.max_duration_ms), ds.index_at(min(b, now_ms + 1))):
        if ds.core(i).end_ms < a:
            continue
        conv = ds.record(i, now_ms, attributes=False)
        for participant in conv.get("participants", []):
            for session in participant.get("sessions", []):
                if "flow" in session:
                    run.session(conv, participant, session)
    results = render(acc, query, _stats)
    return ({"results": results} if results else {}), run.capped


def flow_aggregate(
    ds: Dataset,
    body: Mapping[str, Any],
    now_ms: int,
    max_buckets: int = MAX_BUCKETS,
    caps: tuple[int, int] = (MILESTONES_PER_OUTCOME, MILESTONES_PER_FLOW),
) -> Json:
    """Answer a ``FlowAggregationQuery`` as of ``now_ms``; raises ``FilterError`` (400)."""
    return flow_aggregate_counted(ds, body, now_ms, max_buckets, caps)[0]
