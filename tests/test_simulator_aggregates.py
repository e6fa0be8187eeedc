"""The simulator's users, flows, evaluations and surveys aggregates and flow dimensions (issue 20).

Over HTTP against a started simulator: each documented limit answers 400 (its counter first),
users aggregates equal the routing statuses user details serve, clipped to each day of a time
zone with a DST change, flow outcome counts equal the outcomes of conversation details, the
milestone caps bite, and the flow dimensions page as the other listings do.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from genesys_simulator import Simulator, quality
from genesys_simulator.directory import entities as entities_of
from genesys_simulator.flows import MILESTONES_PER_FLOW, MILESTONES_PER_OUTCOME, catalogue
from genesys_simulator.timeutil import iso, parse_interval, parse_iso
from genesys_simulator.user_aggregates import user_aggregate
from tests.support import CLIENT_ID, CLIENT_SECRET

Json = dict[str, Any]
UTC = dt.timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
USER_METRICS = ["tSystemPresence", "tOrganizationPresence", "tAgentRoutingStatus"]
#: JSON field names of the SDK models (MyPureCloud/platform-client-sdk-python, build/docs/
#: Flow.md, FlowOutcome.md, FlowMilestone.md at 056f7b8, 258.0.0): served entities use no other.
SDK_FIELDS = {
    "flows": {
        "id", "name", "division", "description", "type", "lockedUser", "lockedClient", "active",
        "system", "deleted", "publishedVersion", "savedVersion", "inputSchema", "outputSchema",
        "checkedInVersion", "debugVersion", "publishedBy", "currentOperation", "nluInfo",
        "supportedLanguages", "compatibleFlowTypes", "worktypeId", "virtualAgentEnabled",
        "selfUri",
    },
    "flows/outcomes": {"id", "name", "division", "description", "currentOperation", "selfUri"},
    "flows/milestones": {"id", "name", "division", "description", "selfUri"},
}  # fmt: skip


class Api:
    """A bearer token for one simulator, and its aggregates, queries and listings."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        reply = requests.post(
            f"{sim.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=10,
        )
        reply.raise_for_status()
        self.headers = {"Authorization": f"Bearer {reply.json()['access_token']}"}

    def post(self, path: str, body: Json) -> requests.Response:
        return requests.post(f"{self.sim.url}{path}", json=body, headers=self.headers, timeout=60)

    def aggregates(self, subject: str, body: Json) -> Json:
        reply = self.post(f"/api/v2/analytics/{subject}/aggregates/query", body)
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def refused(self, subject: str, body: Json) -> str:
        reply = self.post(f"/api/v2/analytics/{subject}/aggregates/query", body)
        assert reply.status_code == 400, reply.text
        return str(reply.json()["message"])

    def listing(self, path: str, **params: Any) -> list[Json]:
        """Every entity of a listing, page by page."""
        entities: list[Json] = []
        page = 1
        while True:
            reply = requests.get(
                f"{self.sim.url}/api/v2/{path}",
                params={**params, "pageNumber": page},
                headers=self.headers,
                timeout=10,
            )
            assert reply.status_code == 200, reply.text
            body = reply.json()
            entities += body["entities"]
            if "nextUri" not in body:
                assert body["total"] == len(entities)
                return entities
            page += 1

    def paged(self, path: str, body: Json, key: str) -> Iterator[Json]:
        """Every item of a details query, page by page."""
        page = 1
        while True:
            reply = self.post(path, {**body, "paging": {"pageSize": 100, "pageNumber": page}})
            assert reply.status_code == 200, reply.text
            items = reply.json().get(key)
            if not items:
                return
            yield from items
            page += 1


def _cells(answer: Json) -> dict[tuple[Any, ...], int]:
    """(group values..., interval, metric, qualifier) -> the stat a test compares."""
    out: dict[tuple[Any, ...], int] = {}
    for result in answer.get("results", []):
        group = tuple(sorted(result["group"].items()))
        for bucket in result["data"]:
            for m in bucket["metrics"]:
                stats = m["stats"]
                value = stats.get("sum", stats.get("count"))
                out[(group, bucket["interval"], m["metric"], m.get("qualifier"))] = value
    return out


# -- users ---------------------------------------------------------------------------------------


def test_user_aggregates_refuse_what_the_api_refuses(make_sim) -> None:
    sim = make_sim(conversations=100, days=5, users=120)
    api = Api(sim)
    users = [u["id"] for u in sim.dataset.pools.users]
    interval = "2024-01-02T00:00:00Z/2024-01-03T00:00:00Z"
    base = {"interval": interval, "metrics": USER_METRICS, "groupBy": ["userId"]}

    def preds(ids: list[str]) -> list[Json]:
        return [{"type": "dimension", "dimension": "userId", "value": u} for u in ids]

    # 101 userId predicates, counted across the clauses, are one too many; 100 are fine.
    over = {"type": "or", "clauses": [
        {"type": "or", "predicates": preds(users[:60])},
        {"type": "or", "predicates": preds(users[60:101])},
    ]}  # fmt: skip
    message = api.refused("users", {**base, "filter": over})
    assert sim.stats.faults["user_predicates_refused"] == 1
    assert "no more than 100 userId predicates" in message
    answer = api.aggregates(
        "users", {**base, "filter": {"type": "or", "predicates": preds(users[:100])}}
    )
    assert {r["group"]["userId"] for r in answer["results"]} == set(users[:100])
    sim.set_faults(user_aggregate_max_predicates=10)
    assert "no more than 10 userId" in api.refused(
        "users", {**base, "filter": {"type": "or", "predicates": preds(users[:11])}}
    )
    assert sim.stats.faults["user_predicates_refused"] == 2
    sim.set_faults(user_aggregate_max_predicates=100)

    queue = {"dimension": "queueId", "value": "q"}
    refusals = [
        ({**base, "groupBy": ["userId", "queueId"]}, "groupBy"),
        ({**base, "metrics": ["tSystemPresence", "nOffered"]}, "metrics"),
        ({**base, "metrics": []}, "metrics"),
        ({**base, "filter": {"type": "and", "predicates": [queue]}}, "filter predicate 'queueId'"),
        ({**base, "alternateTimeDimension": "conversationStart"}, "alternateTimeDimension"),
    ]  # fmt: skip
    for body, words in refusals:
        assert words in api.refused("users", body)
    assert sim.stats.faults["users_aggregate_refused"] == len(refusals)
    assert "queryType" in api.refused("users", {**base, "queryType": "groupBy"})
    assert "more than 2000 intervals" in api.refused("users", {**base, "granularity": "PT30S"})
    assert sim.stats.faults["aggregate_buckets_refused"] == 1


def _served_statuses(api: Api, interval: str) -> dict[str, list[Json]]:
    """Each user's statuses as user details serve them, each once (pages may repeat a user)."""
    seen: dict[str, dict[tuple[str, str, str], Json]] = defaultdict(dict)
    body = {"interval": interval, "order": "asc"}
    for detail in api.paged("/api/v2/analytics/users/details/query", body, "userDetails"):
        for key, field in (
            ("primaryPresence", "systemPresence"),
            ("routingStatus", "routingStatus"),
        ):
            for item in detail.get(key, []):
                seen[detail["userId"]][(field, item["startTime"], item[field])] = item
    return {user: list(items.values()) for user, items in seen.items()}


def test_user_aggregates_equal_the_served_statuses_clipped_to_each_dst_day(make_sim) -> None:
    """300 users, every tenth inactive; New York days around the 2024 spring-forward change.

    Per user, local day, metric and status the sums equal the statuses user details serve,
    clipped to the day and, for a status still open, to the clock.
    """
    sim = make_sim(conversations=200, days=20, start="2024-03-01", users=300)
    sim.now = dt.datetime(2024, 3, 11, 18, 30, 15, tzinfo=UTC)
    api = Api(sim)
    days = [dt.datetime(2024, 3, d, tzinfo=NEW_YORK) for d in (8, 9, 10, 11, 12)]
    bounds = [int(d.timestamp() * 1000) for d in days]
    interval = f"{iso(bounds[0])}/{iso(bounds[-1])}"
    users = [u["id"] for u in sim.dataset.pools.users]
    answer: Json = {"results": []}
    for batch in range(0, len(users), 100):
        preds = [{"dimension": "userId", "value": u} for u in users[batch : batch + 100]]
        part = api.aggregates("users", {
            "interval": interval, "granularity": "P1D", "timeZone": "America/New_York",
            "groupBy": ["userId"], "metrics": USER_METRICS,
            "filter": {"type": "or", "predicates": preds},
        })  # fmt: skip
        mappings = part["systemToOrganizationMappings"]
        answer["results"] += part["results"]
    assert sim.stats.faults["aggregate_dst_bucket"] >= 1, "a 23-hour day was served"
    got = _cells(answer)
    intervals = {k[1] for k in got}
    assert f"{iso(bounds[2])}/{iso(bounds[3])}" in intervals
    assert bounds[3] - bounds[2] == 23 * 3_600_000

    want: Counter[tuple[Any, ...]] = Counter()
    now = sim.now_ms
    for user, items in _served_statuses(api, interval).items():
        for item in items:
            start = parse_iso(item["startTime"])
            end = parse_iso(item["endTime"]) if "endTime" in item else now
            if "systemPresence" in item:
                assert item["organizationPresenceId"] in mappings[item["systemPresence"]]
                cells = [("tSystemPresence", item["systemPresence"]),
                         ("tOrganizationPresence", item["organizationPresenceId"])]  # fmt: skip
            else:
                cells = [("tAgentRoutingStatus", item["routingStatus"])]
            for lo, hi in itertools.pairwise(bounds):
                part = min(end, hi) - max(start, lo)
                if part > 0:
                    for metric, qualifier in cells:
                        key = ((("userId", user),), f"{iso(lo)}/{iso(hi)}", metric, qualifier)
                        want[key] += part
    assert got == dict(want)
    # The day still running counts up to the clock: every user's presences fill it exactly.
    open_day: Counter[str] = Counter()
    for (group, bucket, metric, _), ms in got.items():
        if bucket == f"{iso(bounds[3])}/{iso(bounds[4])}" and metric == "tSystemPresence":
            open_day[group[0][1]] += ms
    assert set(open_day.values()) == {now - bounds[3]}
    assert len(open_day) == len(users)
    inactive = {u["id"] for u in sim.dataset.pools.users if u["state"] == "inactive"}
    assert len(inactive) == 30
    assert inactive <= {k[0][0][1] for k in got}, "inactive users have status time too"
    # The truth helper a tap test compares against gives the same answer.
    one = {"interval": interval, "granularity": "P1D", "timeZone": "America/New_York",
           "groupBy": ["userId"], "metrics": ["tAgentRoutingStatus"]}  # fmt: skip
    truth = _cells(user_aggregate(sim.dataset, one, now))
    assert truth == {k: v for k, v in got.items() if k[2] == "tAgentRoutingStatus"}


# -- flows ---------------------------------------------------------------------------------------


def _detail_outcomes(api: Api, start: str, end: str) -> list[tuple[Json, Json]]:
    """(flow, outcome) of every IVR session conversation details serve for ``[start, end)``."""
    out = []
    body = {"interval": f"{start}/{end}", "order": "asc"}
    for conv in api.paged("/api/v2/analytics/conversations/details/query", body, "conversations"):
        for participant in conv["participants"]:
            for session in participant["sessions"]:
                flow = session.get("flow") or {}
                out += [(dict(flow, conversationId=conv["conversationId"]), o)
                        for o in flow.get("outcomes", [])]  # fmt: skip
    return out


def test_flow_outcomes_agree_with_conversation_details(make_sim) -> None:
    sim = make_sim(conversations=900, days=6)
    api = Api(sim)
    outcomes = _detail_outcomes(api, "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z")
    assert {o["flowOutcomeValue"] for _, o in outcomes} == {"SUCCESS", "FAILURE"}
    interval = "2024-01-01T00:00:00Z/2024-01-09T00:00:00Z"
    answer = api.aggregates("flows", {
        "interval": interval, "granularity": "P1D",
        "groupBy": ["flowId", "flowOutcomeId", "flowOutcome", "flowOutcomeValue"],
        "metrics": ["nFlowOutcome", "nFlowOutcomeFailed", "tFlowOutcome", "nFlow"],
    })  # fmt: skip
    got = _cells(answer)
    want: Counter[tuple[Any, ...]] = Counter()
    day_ms = 86_400_000
    for flow, o in outcomes:
        end = parse_iso(o["flowOutcomeEndTimestamp"])
        day = iso(end - end % day_ms) + "/" + iso(end - end % day_ms + day_ms)
        group = tuple(sorted({"flowId": flow["flowId"], "flowOutcomeId": o["flowOutcomeId"],
                              "flowOutcome": o["flowOutcome"],
                              "flowOutcomeValue": o["flowOutcomeValue"]}.items()))  # fmt: skip
        want[(group, day, "nFlowOutcome", None)] += 1
        want[(group, day, "tFlowOutcome", None)] += end - parse_iso(o["flowOutcomeStartTimestamp"])
        if o["flowOutcomeValue"] == "FAILURE":
            want[(group, day, "nFlowOutcomeFailed", None)] += 1
    assert {k: v for k, v in got.items() if k[2] != "nFlow"} == dict(want)
    assert sum(v for k, v in got.items() if k[2] == "nFlow") >= len(outcomes) > 100
    # The ids are the org's: the dimensions list every outcome and flow the data uses.
    listed = {o["id"]: o["name"] for o in api.listing("flows/outcomes")}
    assert {(o["flowOutcomeId"], o["flowOutcome"]) for _, o in outcomes} <= set(listed.items())
    flows = {f["id"] for f in api.listing("flows")}
    assert {f["flowId"] for f, _ in outcomes} <= flows


def test_flow_milestones_are_capped_as_analytics_caps_them(make_sim) -> None:
    sim = make_sim(conversations=900, days=6)
    api = Api(sim)
    body = {
        "interval": "2024-01-01T00:00:00Z/2024-01-09T00:00:00Z",
        "groupBy": ["flowId", "flowOutcomeId", "flowMilestoneId"],
        "metrics": ["nFlowMilestone", "oFlowMilestone"],
    }
    answer = api.aggregates("flows", body)
    capped = sim.stats.faults["flow_milestones_capped"]
    assert capped > 0, "hits on milestones beyond the caps were dropped"
    per_outcome: dict[tuple[str, str], set[str]] = defaultdict(set)
    per_flow: dict[str, set[str]] = defaultdict(set)
    hits = 0
    for result in answer["results"]:
        group = result["group"]
        if "flowMilestoneId" in group:
            per_outcome[(group["flowId"], group["flowOutcomeId"])].add(group["flowMilestoneId"])
            per_flow[group["flowId"]].add(group["flowMilestoneId"])
            hits += sum(m["stats"]["count"] for b in result["data"] for m in b["metrics"]
                        if m["metric"] == "nFlowMilestone")  # fmt: skip
    assert max(len(m) for m in per_outcome.values()) == MILESTONES_PER_OUTCOME
    assert max(len(m) for m in per_flow.values()) == MILESTONES_PER_FLOW
    listed = api.listing("flows/milestones", pageSize=100)
    assert MILESTONES_PER_FLOW < len(listed) <= 1000
    assert set().union(*per_flow.values()) < {m["id"] for m in listed}
    # Every hit the runs of the served outcomes made is either counted or capped.
    cat = catalogue(sim.dataset.seed)
    made = sum(
        len(cat.milestone_hits(flow["conversationId"], o["flowOutcomeId"], (
            parse_iso(o["flowOutcomeStartTimestamp"]), parse_iso(o["flowOutcomeEndTimestamp"]))))
        for flow, o in _detail_outcomes(api, "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z")
    )  # fmt: skip
    assert hits + capped == made

    # The caps are switches: lowered, they bite at the new bounds.
    sim.set_faults(flow_milestones_per_outcome=5, flow_milestones_per_flow=12)
    lowered = api.aggregates("flows", body)
    assert sim.stats.faults["flow_milestones_capped"] > capped
    kept: dict[str, set[str]] = defaultdict(set)
    for result in lowered["results"]:
        group = result["group"]
        kept[group["flowOutcomeId"]].add(group["flowMilestoneId"])
    assert max(len(m) for m in kept.values()) == 5
    assert len(set().union(*kept.values())) == 12


def test_flow_aggregates_refuse_undocumented_names(make_sim) -> None:
    sim = make_sim(conversations=100, days=3)
    api = Api(sim)
    base = {"interval": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z", "metrics": ["nFlow"]}
    assert "metrics" in api.refused("flows", {**base, "metrics": ["nOffered"]})
    assert "groupBy" in api.refused("flows", {**base, "groupBy": ["flowMilestone"]})
    assert "alternateTimeDimension" in api.refused(
        "flows", {**base, "alternateTimeDimension": "conversationStart"}
    )
    assert "sortMetric" in api.refused("flows", {**base, "sortMetric": "nFlow"})
    assert sim.stats.faults["flows_aggregate_refused"] == 3


@pytest.mark.parametrize("path", ["flows", "flows/outcomes", "flows/milestones"])
def test_flow_dimensions_page_with_the_sdk_fields(make_sim, path: str) -> None:
    sim = make_sim(conversations=50, days=2)
    api = Api(sim)
    entities = api.listing(path, pageSize=3)
    assert len({e["id"] for e in entities}) == len(entities) > 3, "more than one page"
    for e in entities:
        assert set(e) <= SDK_FIELDS[path], set(e) - SDK_FIELDS[path]
        assert e["name"]
        assert e["division"]["id"]
    if path == "flows":
        assert not any(e["deleted"] for e in entities), "deleted flows need deleted=true"
        everything = api.listing(path, pageSize=3, deleted="true")
        deleted = [e for e in everything if e["deleted"]]
        assert len(deleted) == 3
        assert {e["id"] for e in everything} == {e["id"] for e in entities} | {
            e["id"] for e in deleted
        }
        calls = api.listing(path, type="inboundcall", deleted="true")
        assert {e["type"] for e in calls} == {"INBOUNDCALL"}
        assert len(calls) == 3
        assert everything == entities_of(sim.dataset.pools, "flows"), "the truth helper"
    if path == "flows/outcomes":
        assert len(entities) <= 100
    assert [e["id"] for e in entities] == sorted(e["id"] for e in entities), "sortBy id"


# -- evaluations and surveys --------------------------------------------------------------------


def test_evaluation_and_survey_aggregates_default_time_and_limits(make_sim) -> None:
    sim = make_sim(conversations=3000, days=30)
    api = Api(sim)
    interval = "2024-01-05T00:00:00Z/2024-01-25T00:00:00Z"
    body = {"interval": interval, "granularity": "P1D", "metrics": ["nEvaluations"]}
    default = api.aggregates("evaluations", body)
    created = api.aggregates(
        "evaluations", {**body, "alternateTimeDimension": "evaluationCreatedDate"}
    )
    events = api.aggregates("evaluations", {**body, "alternateTimeDimension": "eventTime"})
    assert default == created != events
    want: Counter[str] = Counter()
    a, b = parse_interval(interval)
    for p in sim.dataset.quality_items(a, b):
        for item in p.evaluations:
            record = quality.evaluation_at(item, sim.now_ms)
            t = parse_iso(record["createdDate"]) if record else -1
            if a <= t < b:
                want[f"{iso(t - t % 86_400_000)}/{iso(t - t % 86_400_000 + 86_400_000)}"] += 1
    assert {k[1]: v for k, v in _cells(default).items()} == dict(want)
    assert sum(want.values()) > 20

    survey = {"interval": interval, "metrics": ["nSurveysSent", "oSurveyTotalScore",
              "nSurveyNpsPromoters"], "groupBy": ["surveyType", "queueId"]}  # fmt: skip
    assert _cells(api.aggregates("surveys", survey))
    refusals = [
        ("evaluations", {**body, "alternateTimeDimension": "surveyCreatedDate"}),
        ("evaluations", {**body, "groupBy": ["surveyId"]}),
        ("evaluations", {**body, "metrics": ["nSurveysSent"]}),
        ("surveys", {**survey, "alternateTimeDimension": "evaluationCreatedDate"}),
        ("surveys", {**survey, "groupBy": ["evaluationId"]}),
        ("surveys", {**survey, "metrics": ["nEvaluations"]}),
    ]
    for subject, refused in refusals:
        api.refused(subject, refused)
    faults = sim.stats.faults
    assert faults["evaluations_aggregate_refused"] == faults["surveys_aggregate_refused"] == 3
