"""Quality evaluations and surveys: forms with versions, and each item's life after the call.

Each conversation's plan (which evaluations and surveys it gets, and every later change to
them) is drawn from its own seeded stream, so it never shifts the conversation record's draws.
A plan is a list of timed events; an item "at" a moment is the plan with the events up to it
applied. That one function feeds the ``evaluations[]``/``surveys[]`` of conversation details,
the Quality API routes and the truth tests compare against, so they cannot disagree.

Modelled on the real API's documented rules: evaluations change (edited, re-scored, released,
retracted, deleted) at most 90 days after creation, release within 45 days of creation,
system (AI) submissions; surveys are sent after the conversation and finish, opt out, fail or
expire within days of it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .quality_forms import EVAL_CONTEXTS, form_at, uid
from .quality_scores import evaluation_answers
from .timeutil import DAY_MS, iso

Json = dict[str, Any]
HOUR_MS = 3_600_000
#: Evaluations cannot be edited, re-scored or deleted more than 90 days after creation.
EDIT_LIMIT_MS = 90 * DAY_MS
#: An evaluation's release must fall within 45 days of its creation.
RELEASE_LIMIT_MS = 45 * DAY_MS
#: How long after it is sent an unanswered survey expires (the real period is undocumented).
SURVEY_EXPIRY_MS = 5 * DAY_MS
#: How late, after its conversation ends, the last event of a plan can be: how far back a
#: scan for events in an interval must look.
PLAN_REACH_MS = 10 * DAY_MS + EDIT_LIMIT_MS


# ----------------------------------------------------------------------------- plans
@dataclass
class Event:
    """One change: at ``t``, ``kind`` (submit, release, edit, rescore, retract, delete, ...)."""

    t: int
    kind: str


@dataclass
class Item:
    """One evaluation or survey and its timed events (the first one creates it)."""

    id: str
    conversation_id: str
    conversation_start: int
    agent_id: str | None
    queue_id: str
    form: Json
    extra: Json = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def events_until(self, now_ms: int) -> list[Event]:
        """The events that have happened by ``now_ms``."""
        return [e for e in self.events if e.t <= now_ms]


@dataclass
class Plan:
    """The quality items of one conversation."""

    evaluations: list[Item]
    surveys: list[Item]


def plan(
    seed: int,
    index: int,
    conversation: tuple[str, int, int],
    *,
    agent_id: str | None,
    queue_id: str,
    extra_survey_at: int | None,
    forms: tuple[list[Json], list[Json]],
    evaluators: list[str],
) -> Plan:
    """Draw the evaluations and surveys of conversation ``index`` and their whole lives."""
    cid, start, end = conversation
    rng = random.Random(f"{seed}:{index}:quality")
    evaluations: list[Item] = []
    n_evals = 0 if agent_id is None else (1 if rng.random() < 0.08 else 0)
    if n_evals and rng.random() < 0.15:
        n_evals = 2
    for k in range(n_evals):
        system = rng.random() < 0.2
        created = end + (15 * 60_000 if system else rng.randrange(HOUR_MS, 10 * DAY_MS))
        context = EVAL_CONTEXTS[rng.randrange(len(EVAL_CONTEXTS))]
        ctx_id = next(f["contextId"] for f in forms[0] if f["name"] == context)
        item = Item(
            uid(seed, "evaluation", index, k),
            cid,
            start,
            agent_id,
            queue_id,
            form_at(forms[0], ctx_id, created),
            {
                "systemSubmitted": system,
                "evaluatorId": None if system else evaluators[rng.randrange(len(evaluators))],
                "neverRelease": rng.random() < 0.15,
            },
        )
        submit = created + (0 if system else rng.randrange(HOUR_MS, 3 * DAY_MS))
        events = [Event(created, "create"), Event(submit, "submit")]
        if not item.extra["neverRelease"]:
            events.append(
                Event(
                    min(created + RELEASE_LIMIT_MS, submit + rng.randrange(0, 40 * DAY_MS)),
                    "release",
                )
            )
        for kind, chance in (("edit", 0.3), ("rescore", 0.1), ("retract", 0.04), ("delete", 0.04)):
            if rng.random() < chance:
                events.append(Event(created + rng.randrange(3 * DAY_MS, EDIT_LIMIT_MS), kind))
        events.sort(key=lambda e: e.t)
        cut = next((n for n, e in enumerate(events) if e.kind == "delete"), len(events) - 1)
        item.events = events[: cut + 1]
        evaluations.append(item)
    surveys: list[Item] = []
    sends = [end + 10 * 60_000] if rng.random() < 0.1 else []
    if extra_survey_at is not None:
        sends.append(extra_survey_at)
    for k, sent in enumerate(sends):
        sid = uid(seed, "survey", index, k)
        item = Item(
            # The last group is the conversation's: the API can find a survey by id alone.
            sid[:-12] + cid[-12:],
            cid,
            start,
            agent_id,
            queue_id,
            form_at(forms[1], forms[1][0]["contextId"], sent),
            {"surveyType": "Web" if rng.random() < 0.8 else "Voice", "seed": rng.random()},
        )
        events = [Event(sent, "Sent")]
        roll = rng.random()
        expiry = sent + SURVEY_EXPIRY_MS
        if roll < 0.55:
            done = sent + rng.randrange(10 * 60_000, SURVEY_EXPIRY_MS - 60_000)
            if rng.random() < 0.4:
                events.append(Event(sent + (done - sent) // 3, "InProgress"))
            events.append(Event(done, "Finished"))
        elif roll < 0.65:
            events.append(Event(sent + rng.randrange(60_000, 2 * DAY_MS), "InProgress"))
            events.append(Event(expiry, "Expired"))
        elif roll < 0.7:
            events.append(Event(sent + rng.randrange(60_000, DAY_MS), "OptOut"))
        elif roll < 0.72:
            events.append(Event(sent + 60_000, "Error"))
        else:
            events.append(Event(expiry, "Expired"))
        item.events = events
        surveys.append(item)
    return Plan(evaluations, surveys)


# ----------------------------------------------------------------------------- items at a moment
def evaluation_at(item: Item, now_ms: int) -> Json | None:
    """The evaluation as it is at ``now_ms`` (None before it exists); ``deleted`` marks a delete."""
    happened = item.events_until(now_ms)
    if not happened:
        return None
    status, revision, released, rescore, deleted = "INPROGRESS", 0, None, False, False
    for e in happened:
        if e.kind == "submit":
            status = "FINISHED"
        elif e.kind == "release":
            released = e.t
        elif e.kind in ("edit", "rescore"):
            revision += 1
            rescore = rescore or e.kind == "rescore"
        elif e.kind == "retract":
            status = "RETRACTED"
        elif e.kind == "delete":
            deleted = True
    created = happened[0].t
    form = item.form
    record: Json = {
        "id": item.id,
        "conversation": {"id": item.conversation_id},
        "conversationDate": iso(item.conversation_start),
        "evaluationForm": {"id": form["id"], "name": form["name"], "contextId": form["contextId"]},
        "agent": {"id": item.agent_id},
        "evaluator": {"id": item.extra["evaluatorId"]} if item.extra["evaluatorId"] else None,
        "queue": {"id": item.queue_id},
        "status": status,
        "createdDate": iso(created),
        "changedDate": iso(happened[-1].t),
        "submittedDate": next((iso(e.t) for e in happened if e.kind == "submit"), None),
        "releaseDate": iso(released) if released else None,
        "neverRelease": item.extra["neverRelease"],
        "rescore": rescore,
        "version": len(happened),
        "evaluationContextId": uid(item.id, "context"),
        "redacted": False,
        "systemSubmitted": item.extra["systemSubmitted"],
        "evaluationSource": {"type": "AI" if item.extra["systemSubmitted"] else "Manual"},
        "deleted": deleted,
        # A manual evaluation is assigned to its evaluator when created; an AI one has no
        # assignee. Most agents open a released evaluation (four in five, by item id).
        "assigneeApplicable": not item.extra["systemSubmitted"],
        "agentHasRead": released is not None and int(item.id[:2], 16) % 5 != 0,
    }
    if item.extra["evaluatorId"]:
        record["assignee"] = {"id": item.extra["evaluatorId"]}
        record["assignedDate"] = iso(created)
    if status != "INPROGRESS":
        record["answers"] = evaluation_answers(item.id, item.form, revision)
    return record


def survey_at(item: Item, now_ms: int) -> Json | None:
    """The survey as it is at ``now_ms`` (None before it is sent)."""
    happened = item.events_until(now_ms)
    if not happened:
        return None
    status = happened[-1].kind
    started = any(e.kind in ("InProgress", "Finished") for e in happened)
    record: Json = {
        "id": item.id,
        "conversation": {"id": item.conversation_id},
        "surveyForm": {
            "id": item.form["id"],
            "name": item.form["name"],
            "contextId": item.form["contextId"],
        },
        "agent": {"id": item.agent_id} if item.agent_id else None,
        "queue": {"id": item.queue_id},
        "status": status,
        "surveyType": item.extra["surveyType"],
        "completedDate": iso(happened[-1].t) if status == "Finished" else None,
        "changedDate": iso(happened[-1].t),
        "sentDate": iso(happened[0].t),
        "missingRequiredAnswer": status == "InProgress",
    }
    if started:
        record["answers"] = _survey_answers(item, full=status == "Finished")
    return record


def _survey_answers(item: Item, *, full: bool) -> Json:
    rng = random.Random(f"{item.id}:answers")
    nps = rng.randrange(11)
    choice = rng.randrange(3)
    questions = item.form["questionGroups"][0]["questions"]
    scores: list[Json] = [
        {"questionId": questions[0]["id"], "score": nps, "npsScore": nps, "markedNA": False}
    ]
    if full:
        option = questions[1]["answerOptions"][choice]
        scores.append(
            {
                "questionId": questions[1]["id"],
                "answerId": option["id"],
                "score": option["value"],
                "markedNA": False,
            }
        )
        scores.append(
            {
                "questionId": questions[2]["id"],
                "score": 0,
                "markedNA": False,
                "freeTextAnswer": f"comment {rng.randrange(10**6)}",
            }
        )
    total = round(sum(s["score"] for s in scores) / (10 * len(scores)) * 100, 2)
    group = item.form["questionGroups"][0]["id"]
    return {
        "totalScore": total,
        "npsScore": nps,
        "questionGroupScores": [
            {
                "questionGroupId": group,
                "totalScore": total,
                "markedNA": False,
                "questionScores": scores,
            }
        ],
    }


# ----------------------------------------------------------------------------- details fields
def detail_fields(p: Plan, now_ms: int) -> Json:
    """The ``evaluations[]`` and ``surveys[]`` a conversation detail record shows at ``now_ms``."""
    fields: Json = {}
    evaluations = []
    for item in p.evaluations:
        e = evaluation_at(item, now_ms)
        if e is None:
            continue
        row: Json = {
            "evaluationId": e["id"],
            "formId": e["evaluationForm"]["id"],
            "formName": e["evaluationForm"]["name"],
            "contextId": e["evaluationForm"]["contextId"],
            "evaluatorId": (e["evaluator"] or {}).get("id"),
            "userId": item.agent_id,
            "queueId": item.queue_id,
            "evaluationStatus": e["status"].title().replace("Inprogress", "InProgress"),
            "eventTime": e["changedDate"],
            "released": e["releaseDate"] is not None,
            "rescored": e["rescore"],
            "deleted": e["deleted"],
            "systemSubmitted": e["systemSubmitted"],
            "assigneeApplicable": e["assigneeApplicable"],
        }
        if "answers" in e:
            # The Quality API's scores are decimals; the analytics models' o-fields are Longs.
            row["oTotalScore"] = _whole(e["answers"]["totalScore"])
            row["oTotalCriticalScore"] = _whole(e["answers"]["totalCriticalScore"])
        evaluations.append({k: v for k, v in row.items() if v is not None})
    surveys = []
    for item in p.surveys:
        s = survey_at(item, now_ms)
        if s is None:
            continue
        answers = s.get("answers") or {}
        row = {
            "surveyId": s["id"],
            "surveyFormId": s["surveyForm"]["id"],
            "surveyFormName": s["surveyForm"]["name"],
            "surveyFormContextId": s["surveyForm"]["contextId"],
            "surveyType": s["surveyType"],
            "surveyStatus": s["status"],
            "surveyCompletedDate": s["completedDate"],
            "surveyPartialResponse": s["status"] == "InProgress",
            "surveyPromoterScore": answers.get("npsScore"),
            "oSurveyTotalScore": _whole(answers.get("totalScore")),
            "queueId": item.queue_id,
            "userId": item.agent_id,
            "eventTime": s["changedDate"],
        }
        surveys.append({k: v for k, v in row.items() if v is not None})
    if evaluations:
        fields["evaluations"] = evaluations
    if surveys:
        fields["surveys"] = surveys
    return fields


def _whole(score: float | None) -> int | None:
    """A score as the analytics details carry it (AnalyticsEvaluation/AnalyticsSurvey: Long)."""
    return None if score is None else round(score)
