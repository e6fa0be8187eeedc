"""Aggregates of every subject: config checks, request bodies, user batches, end-to-end truth."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from genesys_simulator import Simulator
from genesys_simulator.directory import entities as entities_of
from genesys_simulator.flow_aggregates import flow_aggregate
from genesys_simulator.flows import MILESTONES_PER_FLOW, MILESTONES_PER_OUTCOME
from genesys_simulator.quality_aggregates import evaluation_aggregate, survey_aggregate
from genesys_simulator.user_aggregates import user_aggregate
from tap_genesys_analytics.config.aggregates import (
    SUBJECTS,
    AggregateQuery,
    filter_dimensions,
    parse_aggregates,
)
from tap_genesys_analytics.config.settings import ConfigError, Settings
from tap_genesys_analytics.genesys.aggregates import (
    MAX_BUCKETS,
    aggregates_path,
    builtin_queries,
    flatten,
    plan_windows,
    presence_index,
    query_body,
    user_batches,
    user_filter,
    user_rows,
    window_days,
)
from tap_genesys_analytics.streams.aggregates import AggregatesStream, UserAggregatesStream
from tap_genesys_analytics.tap import TapGenesysAnalytics
from tap_genesys_analytics.windows import DateWindow, iso
from tests.selection import catalog_selecting
from tests.support import TapRun, day, run_tap, sdk_fields, sim_config

UTC = dt.timezone.utc
BASE_CONFIG: dict[str, Any] = {
    "client_id": "x",
    "client_secret": "y",
    "start_date": "2024-01-01",
}

#: One documented query per subject, as the README shows them.
EXAMPLES: list[dict[str, Any]] = [
    {"name": "queue_daily", "group_by": ["queueId"], "metrics": ["nOffered", "tHandle"]},
    {
        "name": "agent_status",
        "subject": "users",
        "group_by": ["userId"],
        "metrics": ["tAgentRoutingStatus", "tSystemPresence"],
        "granularity": "PT15M",
        "time_zone": "America/New_York",
    },
    {
        "name": "ivr_outcomes",
        "subject": "flows",
        "group_by": ["flowId", "flowOutcomeId", "flowOutcomeValue"],
        "metrics": ["nFlowOutcome", "nFlowOutcomeFailed", "tFlowOutcome"],
        "filter": {
            "type": "and",
            "predicates": [{"dimension": "flowType", "value": "INBOUNDCALL"}],
        },
        "alternate_time_dimension": "eventTime",
    },
    {
        "name": "qa_by_agent",
        "subject": "evaluations",
        "group_by": ["userId", "formId"],
        "metrics": ["nEvaluations", "oTotalScore"],
        "granularity": "P1D",
        "alternate_time_dimension": "evaluationReleaseDate",
    },
    {
        "name": "nps_by_queue",
        "subject": "surveys",
        "group_by": ["queueId"],
        "metrics": ["nSurveyNpsPromoters", "nSurveyNpsDetractors", "nSurveyNpsResponses"],
        "granularity": "P1D",
        "alternate_time_dimension": "surveyCreatedDate",
    },
]


def _settings(**overrides: Any) -> Settings:
    return Settings.from_config({**BASE_CONFIG, **overrides})


# -- config ---------------------------------------------------------------------------------------


def test_every_subject_example_is_accepted_and_old_entries_stay_conversations() -> None:
    queries = {q.name: q for q in parse_aggregates(EXAMPLES)}
    assert [q.subject for q in queries.values()] == [
        "conversations",
        "users",
        "flows",
        "evaluations",
        "surveys",
    ]
    old = queries["queue_daily"]
    assert old == AggregateQuery(
        name="queue_daily", metrics=("nOffered", "tHandle"), group_by=("queueId",)
    )
    assert old.alternate_time_dimension is None
    assert queries["qa_by_agent"].alternate_time_dimension == "evaluationReleaseDate"


def test_conversations_stay_unchecked_beyond_todays_checks() -> None:
    # The fact sheet lists no conversation dimensions or metrics: the API alone judges them.
    (query,) = parse_aggregates([{"name": "q", "group_by": ["anything"], "metrics": ["nWhatever"]}])
    assert query.subject == "conversations"
    assert SUBJECTS["conversations"].group_by is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"subject": "agents", "metrics": ["nOffered"]}, r"subject 'agents' is not one of"),
        (
            {"subject": "users", "group_by": ["queueId"], "metrics": ["tSystemPresence"]},
            r"group_by queueId not allowed for subject users; users allows userId",
        ),
        (
            {"subject": "users", "metrics": ["nOffered"]},
            r"metrics nOffered not allowed for subject users",
        ),
        (
            {
                "subject": "users",
                "metrics": ["tSystemPresence"],
                "filter": {"type": "or", "predicates": [{"dimension": "queueId", "value": "q"}]},
            },
            r"filter dimension queueId not allowed for subject users",
        ),
        (
            {
                "subject": "users",
                "metrics": ["tSystemPresence"],
                "filter": {
                    "type": "or",
                    "clauses": [
                        {
                            "type": "or",
                            "predicates": [
                                {"dimension": "userId", "value": f"u{i}"} for i in range(101)
                            ],
                        }
                    ],
                },
            },
            r"101 userId predicates; the API allows at most 100",
        ),
        (
            {"subject": "users", "metrics": ["tSystemPresence"]},
            r"group_by must hold userId \(or the filter name at most 100 users\)",
        ),
        (
            {"subject": "flows", "metrics": ["nOffered"]},
            r"metrics nOffered not allowed for subject flows",
        ),
        (
            {"subject": "flows", "group_by": ["surveyId"], "metrics": ["nFlow"]},
            r"group_by surveyId not allowed for subject flows",
        ),
        (
            {
                "subject": "flows",
                "metrics": ["nFlow"],
                "alternate_time_dimension": "conversationStart",
            },
            r"alternate_time_dimension 'conversationStart' is not one of eventTime",
        ),
        (
            {"subject": "evaluations", "metrics": ["oTotalScore"], "group_by": ["flowId"]},
            r"group_by flowId not allowed for subject evaluations",
        ),
        (
            {
                "subject": "evaluations",
                "metrics": ["oTotalScore"],
                "alternate_time_dimension": "surveyCreatedDate",
            },
            r"is not one of conversationStart, evaluationCreatedDate, evaluationReleaseDate",
        ),
        ({"subject": "surveys", "metrics": ["nEvaluations"]}, r"metrics nEvaluations not allowed"),
        (
            {"metrics": ["nOffered"], "alternate_time_dimension": "evaluationCreatedDate"},
            r"alternate_time_dimension 'evaluationCreatedDate' is not one of eventTime",
        ),
    ],
)
def test_what_a_subject_refuses_is_a_config_error_naming_the_query_and_setting(
    entry: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        _settings(aggregates=[{"name": "mine", **entry}])
    assert str(caught.value).startswith("aggregates query 'mine': ")


def test_filter_dimensions_counts_every_predicate_of_every_clause() -> None:
    flt = {
        "type": "and",
        "predicates": [{"dimension": "userId", "value": "a"}],
        "clauses": [{"type": "or", "predicates": [{"dimension": "userId", "value": "b"}] * 2}],
    }
    assert filter_dimensions(flt) == ["userId"] * 3
    assert filter_dimensions(None) == []


def test_the_cli_stops_on_a_refused_query_before_any_request(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=50, days=2)
    bad = {
        "name": "mine",
        "subject": "users",
        "group_by": ["queueId"],
        "metrics": ["tSystemPresence"],
    }
    run = run_tap(tmp_path, sim_config(sim, aggregates=[bad]))
    assert run.returncode == 1
    assert "aggregates query 'mine': group_by queueId not allowed for subject users" in (
        run.error_line
    ), run.stderr[-2000:]
    assert sum(sim.stats.requests.values()) == 0, "refused at start-up, not by the API"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"user_aggregates_batch_size": 0}, r"user_aggregates_batch_size must be from 1 to 100"),
        ({"user_aggregates_batch_size": 101}, r"user_aggregates_batch_size must be from 1 to 100"),
        (
            {"aggregates_granularity": "PT7M"},
            r"aggregates_granularity: granularity PT7M must divide",
        ),
        (
            {"aggregates_granularity": "daily"},
            r"aggregates_granularity: granularity must be an ISO",
        ),
        ({"aggregates_time_zone": "Mars/Base"}, r"aggregates_time_zone: .*not an IANA zone"),
    ],
)
def test_builtin_settings_are_checked(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _settings(**overrides)


def test_builtin_settings_defaults() -> None:
    settings = _settings()
    assert settings.user_aggregates_batch_size == 100
    assert settings.aggregates_granularity == "PT30M"
    assert settings.aggregates_time_zone == "UTC"


# -- bodies and windows ---------------------------------------------------------------------------


def test_bodies_use_the_subject_path_and_send_the_alternate_time_dimension() -> None:
    window = DateWindow(day("2024-03-01"), day("2024-03-08"))
    queries = parse_aggregates(EXAMPLES)
    assert [aggregates_path(q.subject) for q in queries] == [
        f"/api/v2/analytics/{s}/aggregates/query"
        for s in ("conversations", "users", "flows", "evaluations", "surveys")
    ]
    bodies = [query_body(q, window) for q in queries]
    assert "alternateTimeDimension" not in bodies[0]
    assert "alternateTimeDimension" not in bodies[1]
    assert bodies[2]["alternateTimeDimension"] == "eventTime"
    assert bodies[3] == {
        "interval": window.interval,
        "granularity": "P1D",
        "groupBy": ["userId", "formId"],
        "metrics": ["nEvaluations", "oTotalScore"],
        "alternateTimeDimension": "evaluationReleaseDate",
    }
    assert bodies[1]["timeZone"] == "America/New_York"
    # Every subject's AggregationQuery has the same fields as the conversations one.
    for body in bodies:
        assert set(body) <= sdk_fields("ConversationAggregationQuery")


def test_builtin_queries_pass_their_own_subject_checks() -> None:
    users = builtin_queries("users", "PT15M", "Europe/Paris")
    flows = builtin_queries("flows", "P1D", "UTC")
    assert [q.name for q in users] == ["user_status"]
    assert set(users[0].metrics) == {
        "tSystemPresence",
        "tOrganizationPresence",
        "tAgentRoutingStatus",
    }
    assert users[0].group_by == ("userId",)
    assert [(q.name, q.group_by) for q in flows] == [
        ("flow_outcomes", ("flowId", "flowOutcomeId", "flowOutcomeValue")),
        ("flow_milestones", ("flowId", "flowMilestoneId")),
        ("flow_totals", ("flowId", "flowType")),
    ]
    assert builtin_queries("evaluations", "P1D", None) == ()
    assert builtin_queries("surveys", "P1D", None) == ()
    for query in (*users, *flows):
        entry = {
            "name": query.name,
            "subject": query.subject,
            "group_by": list(query.group_by),
            "metrics": list(query.metrics),
            "granularity": query.granularity,
            "time_zone": query.time_zone,
        }
        assert parse_aggregates([entry]) == (query,)


def test_windows_are_local_days_with_dst_and_stay_under_the_bucket_limit() -> None:
    zone = "America/New_York"
    query = AggregateQuery(name="q", metrics=("tSystemPresence",), time_zone=zone, subject="users")
    windows = plan_windows(day("2024-03-08"), day("2024-03-12"), query)
    # Windows run from local midnight to local midnight: the 2024-03-07 New York midnight is
    # 05:00 UTC, and after the spring change (10 March) midnight is 04:00 UTC.
    assert [w.interval for w in windows] == ["2024-03-07T05:00:00.000Z/2024-03-11T04:00:00.000Z"]
    minutely = AggregateQuery(
        name="m", metrics=("tSystemPresence",), time_zone=zone, granularity="PT1M"
    )
    days = plan_windows(day("2024-03-08"), day("2024-03-12"), minutely)
    assert [(w.end - w.start) / dt.timedelta(hours=1) for w in days] == [24, 24, 24, 23]
    # Autumn: a window over the 25-hour day stays under the bucket limit at every granularity.
    # PT3M36S (400 buckets a day) fits 5 days of 24 hours, but 5 days with a 25-hour one hold
    # 2017 buckets: windows are planned for 25-hour days, so it gets 4.
    for granularity in ("PT1M", "PT2M", "PT3M", "PT3M36S", "PT4M", "PT5M", "PT10M"):
        fine = AggregateQuery(name="f", metrics=("n",), time_zone=zone, granularity=granularity)
        for window in plan_windows(day("2024-10-28"), day("2024-11-12"), fine):
            buckets = (window.end - window.start) / fine.step
            assert buckets <= MAX_BUCKETS, (granularity, window.interval)
    assert window_days(AggregateQuery(name="f", metrics=("n",), granularity="PT3M36S")) == 4


# -- user batches and rows ------------------------------------------------------------------------


def test_user_batches_hold_at_most_the_setting_and_never_more_than_100() -> None:
    ids = [f"u{i:03}" for i in range(250)]
    assert [len(b) for b in user_batches(ids, 100)] == [100, 100, 50]
    assert [len(b) for b in user_batches(ids, 300)] == [100, 100, 50]
    assert [len(b) for b in user_batches(ids, 60)] == [60, 60, 60, 60, 10]
    assert [i for batch in user_batches(ids, 7) for i in batch] == ids
    assert user_batches([], 100) == []
    flt = user_filter(["a", "b"])
    assert flt == {
        "type": "or",
        "predicates": [
            {"dimension": "userId", "value": "a"},
            {"dimension": "userId", "value": "b"},
        ],
    }


def test_user_rows_carry_user_id_and_the_system_presence() -> None:
    presences = presence_index({"AVAILABLE": ["org-av", "org-av2"], "BREAK": ["org-br"]})
    assert presences == {"org-av": "AVAILABLE", "org-av2": "AVAILABLE", "org-br": "BREAK"}
    rows = [
        {"group": {"userId": "u1"}, "metric": "tSystemPresence", "qualifier": "ON_QUEUE"},
        {"group": {"userId": "u1"}, "metric": "tOrganizationPresence", "qualifier": "org-br"},
        {"group": {"userId": "u1"}, "metric": "tOrganizationPresence", "qualifier": "org-new"},
        {"group": {"userId": "u2"}, "metric": "tAgentRoutingStatus", "qualifier": "IDLE"},
    ]
    out = list(user_rows(rows, presences))
    assert [r["user_id"] for r in out] == ["u1", "u1", "u1", "u2"]
    assert [r.get("system_presence") for r in out] == ["ON_QUEUE", "BREAK", None, None]
    assert "system_presence" not in out[3]


def _tap(**overrides: Any) -> TapGenesysAnalytics:
    return TapGenesysAnalytics(config={**BASE_CONFIG, **overrides}, parse_env_config=False)


def test_each_stream_runs_its_subjects_queries_or_its_builtins() -> None:
    tap = _tap(aggregates=EXAMPLES[:1] + EXAMPLES[3:], aggregates_granularity="PT15M")
    streams = {name: tap.streams[name] for name in tap.streams if name.endswith("_aggregates")}
    assert all(isinstance(s, AggregatesStream) for s in streams.values())
    names = {name: [q.name for q in s.queries()] for name, s in streams.items()}  # type: ignore[attr-defined]
    assert names == {
        "conversation_aggregates": ["queue_daily"],
        "user_aggregates": ["user_status"],
        "flow_aggregates": ["flow_outcomes", "flow_milestones", "flow_totals"],
        "evaluation_aggregates": ["qa_by_agent"],
        "survey_aggregates": ["nps_by_queue"],
    }
    assert {q.granularity for q in streams["flow_aggregates"].queries()} == {"PT15M"}  # type: ignore[attr-defined]
    configured = _tap(aggregates=EXAMPLES[1:2]).streams["user_aggregates"]
    assert [q.name for q in configured.queries()] == ["agent_status"]  # type: ignore[attr-defined]


def test_user_queries_are_asked_in_batches_unless_they_name_their_users(monkeypatch) -> None:
    tap = _tap(user_aggregates_batch_size=40)
    stream = tap.streams["user_aggregates"]
    assert isinstance(stream, UserAggregatesStream)
    ids = [f"u{i:03}" for i in range(95)]
    monkeypatch.setattr(stream, "user_ids", lambda: ids)
    window = DateWindow(day("2024-01-01"), day("2024-01-02"))
    (query,) = stream.queries()
    bodies = list(stream.bodies(query, window))
    sent = [[p["value"] for p in b["filter"]["predicates"]] for b in bodies]
    assert [len(s) for s in sent] == [40, 40, 15]
    assert [i for batch in sent for i in batch] == ids
    assert all(b["metrics"] == list(query.metrics) for b in bodies)
    named = parse_aggregates(
        [
            {
                "name": "two",
                "subject": "users",
                "metrics": ["tSystemPresence"],
                "filter": {"type": "or", "predicates": [{"dimension": "userId", "value": "u1"}]},
            }
        ]
    )[0]
    (body,) = stream.bodies(named, window)
    assert body["filter"] == named.filter


# -- end to end over the simulator ----------------------------------------------------------------

KEY = ("query_name", "group_key", "interval_start", "metric", "qualifier")
NEW_YORK = ZoneInfo("America/New_York")
#: New York midnights: 60 local days, 10 March 2024 (spring forward) 23 hours long among them.
NY_START = dt.datetime(2024, 2, 1, tzinfo=NEW_YORK).astimezone(UTC)
NY_END = dt.datetime(2024, 4, 1, tzinfo=NEW_YORK).astimezone(UTC)


MS = dt.timedelta(milliseconds=1)


def _at(text: str) -> dt.datetime:
    """An ISO timestamp of a record as an aware datetime."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _local_days(start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """The New York days wholly inside ``[start, end)``, as UTC bounds."""
    days = []
    day = start.astimezone(NEW_YORK).date()
    while True:
        lo = dt.datetime(day.year, day.month, day.day, tzinfo=NEW_YORK).astimezone(UTC)
        nxt = day + dt.timedelta(days=1)
        hi = dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=NEW_YORK).astimezone(UTC)
        if hi > end:
            return days
        if lo >= start:
            days.append((lo, hi))
        day = nxt


def _keyed(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Rows by key, each key once."""
    keys = Counter(tuple(r[k] for k in KEY) for r in rows)
    assert keys, "no rows"
    assert max(keys.values()) == 1, "a row was emitted twice"
    return {tuple(r[k] for k in KEY): r for r in rows}


def _truth(
    sim: Simulator,
    compute: Callable[..., dict[str, Any]],
    queries: tuple[AggregateQuery, ...],
    window: DateWindow,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The simulator's answer to each query over the whole range in one request, as rows."""
    rows: list[dict[str, Any]] = []
    for query in queries:
        answer = compute(sim.dataset, query_body(query, window), sim.now_ms)
        flat = flatten(query.name, answer.get("results") or ())
        if query.subject == "users":
            flat = user_rows(flat, presence_index(answer.get("systemToOrganizationMappings")))
        rows += flat
    return _keyed(rows)


def _run(tmp_path: Path, config: dict[str, Any], streams: set[str], **kw: Any) -> TapRun:
    catalog = catalog_selecting(tmp_path, config, streams)
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)), **kw)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def test_user_aggregates_equal_the_truth_and_the_routing_statuses(tmp_path: Path, make_sim) -> None:
    """300 users (every tenth inactive) over 60 New York days with the spring DST change.

    ``user_aggregates`` (built-in query, daily New York buckets) equals the simulator's answer
    for the whole range; per user and local day, its ``tAgentRoutingStatus`` sums equal the
    ``user_routing_status`` rows of the same run clipped to that day; and every request named
    at most 100 users, several requests per window.
    """
    sim = make_sim(conversations=200, days=62, start="2024-01-31", users=300)
    config = sim_config(
        sim,
        start_date=iso(NY_START),
        end_date=iso(NY_END),
        aggregates_granularity="P1D",
        aggregates_time_zone="America/New_York",
        user_aggregates_batch_size=100,
    )
    run = _run(tmp_path, config, {"user_aggregates", "user_details", "user_routing_status"})
    rows = run.records("user_aggregates")
    got = _keyed(rows)
    settings = Settings.from_config(config)
    queries = builtin_queries("users", "P1D", "America/New_York")
    assert got == _truth(sim, user_aggregate, queries, DateWindow(NY_START, NY_END))

    # Every user of the directory, inactive ones included, and a 23-hour day.
    pool = sim.dataset.pools.users
    assert len(pool) == 300
    assert {r["user_id"] for r in rows} == {u["id"] for u in pool}
    assert {u["state"] for u in pool} >= {"active", "inactive"}
    spring = dt.datetime(2024, 3, 10, tzinfo=NEW_YORK).astimezone(UTC)
    presence: Counter[str] = Counter()
    for r in rows:
        if r["metric"] == "tSystemPresence" and r["interval_start"] == iso(spring):
            assert r["interval_end"] == "2024-03-11T04:00:00.000Z"
            presence[r["user_id"]] += r["sum"]
    assert set(presence.values()) == {23 * 3_600_000}, "each user's presences fill the day"

    # Batches: 60 days in 7-day windows, 3 requests of 100 users each per window.
    windows = plan_windows(settings.start_date, settings.end_date or NY_END, queries[0])
    assert len(windows) == 9
    assert sim.stats.requests["user_aggregates"] == 3 * len(windows)
    assert sim.stats.faults.get("user_predicates_refused", 0) == 0

    # Routing statuses of user details, clipped to each local day the details cover whole.
    details = run.records("user_details")
    assert details
    covered_from = min(_at(d["coveredStart"]) for d in details)
    covered_to = max(_at(d["coveredEnd"]) for d in details)
    statuses = {
        (s["userId"], s["startTime"], s["routingStatus"]): s
        for s in run.records("user_routing_status")
    }
    assert statuses
    days = _local_days(max(NY_START, covered_from), min(NY_END, covered_to))
    assert len(days) >= 58, (covered_from, covered_to)
    assert any(hi - lo == dt.timedelta(hours=23) for lo, hi in days)
    want: Counter[tuple[str, str, str]] = Counter()
    now = sim.now
    starts = [lo for lo, _ in days]
    for s in statuses.values():
        start = _at(s["startTime"])
        end = _at(s["endTime"]) if s.get("endTime") else now
        first = max(0, bisect.bisect_right(starts, start) - 1)
        for lo, hi in days[first:]:
            if lo >= end:
                break
            part = min(end, hi) - max(start, lo)
            if part > dt.timedelta(0):
                want[(s["userId"], iso(lo), s["routingStatus"])] += part // MS
    wanted_days = {iso(lo) for lo, _ in days}
    routing = {
        (r["user_id"], r["interval_start"], r["qualifier"]): r["sum"]
        for r in rows
        if r["metric"] == "tAgentRoutingStatus" and r["interval_start"] in wanted_days
    }
    assert routing == dict(want)


FLOW_DIMENSIONS = ("flows", "flow_outcomes", "flow_milestones")


def test_flow_aggregates_and_the_flow_dimensions_equal_the_truth(tmp_path: Path, make_sim) -> None:
    """The built-in flow queries and the three flow tables, each equal to the simulator's.

    Milestones are capped as analytics caps them (at most 20 per outcome, 100 per flow): the
    simulator's pool defines more, and its ``flow_milestones_capped`` counter shows hits were
    dropped before the bounds are checked.
    """
    sim = make_sim(conversations=900, days=6)
    config = sim_config(sim, end_date="2024-01-08T00:00:00Z")
    run = _run(tmp_path, config, {"flow_aggregates", *FLOW_DIMENSIONS})
    assert sim.stats.faults["flow_milestones_capped"] > 0, "milestone hits beyond the caps"
    rows = run.records("flow_aggregates")
    window = DateWindow(day("2024-01-01"), day("2024-01-08"))
    queries = builtin_queries("flows", "PT30M", "UTC")
    assert _keyed(rows) == _truth(sim, flow_aggregate, queries, window)
    assert {r["query_name"] for r in rows} == {"flow_outcomes", "flow_milestones", "flow_totals"}
    per_flow: defaultdict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r["query_name"] == "flow_milestones":
            per_flow[r["group"]["flowId"]].add(r["group"]["flowMilestoneId"])
    assert max(len(m) for m in per_flow.values()) == MILESTONES_PER_FLOW == 100

    # Each table whole, deleted flows included (listed only with deleted=true), each id once.
    for stream in FLOW_DIMENSIONS:
        records = run.records(stream)
        assert len({r["id"] for r in records}) == len(records), stream
        assert sorted(records, key=lambda r: r["id"]) == entities_of(sim.dataset.pools, stream)
    assert any(r["deleted"] for r in run.records("flows"))
    assert sim.stats.requests["flows"] == 2, "the listing, then deleted=true"
    ids = {stream: {r["id"] for r in run.records(stream)} for stream in FLOW_DIMENSIONS}
    assert {r["group"]["flowId"] for r in rows} <= ids["flows"]
    assert {r["group"]["flowOutcomeId"] for r in rows if "flowOutcomeId" in r["group"]} <= ids[
        "flow_outcomes"
    ]
    assert per_flow
    assert set().union(*per_flow.values()) < ids["flow_milestones"]

    # Per outcome: a named query grouped by outcome and milestone, checked the same way.
    sim.reset_stats()
    by_outcome = {
        "name": "milestones_by_outcome",
        "subject": "flows",
        "group_by": ["flowId", "flowOutcomeId", "flowMilestoneId"],
        "metrics": ["nFlowMilestone"],
        "granularity": "P1D",
    }
    config = sim_config(sim, end_date="2024-01-08T00:00:00Z", aggregates=[by_outcome])
    run = _run(tmp_path, config, {"flow_aggregates"})
    assert sim.stats.faults["flow_milestones_capped"] > 0
    rows = run.records("flow_aggregates")
    assert _keyed(rows) == _truth(sim, flow_aggregate, parse_aggregates([by_outcome]), window)
    per_outcome: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for r in rows:
        group = r["group"]
        per_outcome[(group["flowId"], group["flowOutcomeId"])].add(group["flowMilestoneId"])
    assert max(len(m) for m in per_outcome.values()) == MILESTONES_PER_OUTCOME == 20


def test_named_evaluation_and_survey_queries_run_end_to_end(tmp_path: Path, make_sim) -> None:
    """One evaluations query (the API's default time, evaluationCreatedDate) and one surveys
    query (by surveyCreatedDate), each equal to the simulator's answer."""
    sim = make_sim(conversations=1500, days=20)
    queries = [
        {
            "name": "qa_by_agent",
            "subject": "evaluations",
            "group_by": ["userId", "formId"],
            "metrics": ["nEvaluations", "oTotalScore"],
            "granularity": "P1D",
        },
        {
            "name": "nps_by_queue",
            "subject": "surveys",
            "group_by": ["queueId"],
            "metrics": ["nSurveyNpsResponses", "nSurveyNpsPromoters", "nSurveysSent"],
            "granularity": "P1D",
            "alternate_time_dimension": "surveyCreatedDate",
        },
    ]
    config = sim_config(sim, end_date="2024-01-21T00:00:00Z", aggregates=queries)
    run = _run(tmp_path, config, {"evaluation_aggregates", "survey_aggregates"})
    evaluation, survey = parse_aggregates(queries)
    window = DateWindow(day("2024-01-01"), day("2024-01-21"))
    evaluations = run.records("evaluation_aggregates")
    surveys = run.records("survey_aggregates")
    assert _keyed(evaluations) == _truth(sim, evaluation_aggregate, (evaluation,), window)
    assert _keyed(surveys) == _truth(sim, survey_aggregate, (survey,), window)
    assert {r["metric"] for r in evaluations} == {"nEvaluations", "oTotalScore"}
    assert {r["metric"] for r in surveys} >= {"nSurveyNpsResponses", "nSurveysSent"}
    assert sim.stats.requests["evaluation_aggregates"] == 3, "20 days in 7-day windows"
    assert sim.stats.requests["survey_aggregates"] == 3
    assert run.last_state is not None
    assert run.last_state["bookmarks"]["evaluation_aggregates"] == {
        "watermarks": {"qa_by_agent": "2024-01-21T00:00:00.000Z"}
    }


def test_a_resumed_run_rereads_only_the_trailing_days(tmp_path: Path, make_sim) -> None:
    """STATE after every window; the next run starts ``lookback_days`` before the watermark.

    The first run ends while statuses are still open (the clock is inside its last day); the
    re-read days grew since, and the second run's rows for them replace the first run's.
    """
    sim = make_sim(conversations=200, days=30, users=120)
    sim.now = dt.datetime(2024, 1, 14, 15, 0, tzinfo=UTC)
    config = sim_config(
        sim, end_date="2024-01-15T00:00:00Z", aggregates_granularity="P1D", lookback_days=2
    )
    first = _run(tmp_path, config, {"user_aggregates"})
    watermarks = [
        s["bookmarks"]["user_aggregates"]["watermarks"]["user_status"]
        for s in first.states
        if "user_aggregates" in s.get("bookmarks", {})
    ]
    assert watermarks[0] == "2024-01-08T00:00:00.000Z"
    assert watermarks[-1] == "2024-01-15T00:00:00.000Z"
    assert sim.stats.requests["user_aggregates"] == 2 * 2, "2 windows, 2 batches of users each"

    sim.now = dt.datetime(2024, 1, 31, tzinfo=UTC)
    sim.reset_stats()
    config["end_date"] = "2024-01-22T00:00:00Z"
    second = _run(tmp_path, config, {"user_aggregates"}, state=first.last_state)
    starts = {r["interval_start"] for r in second.records("user_aggregates")}
    assert min(starts) == "2024-01-13T00:00:00.000Z", "2 days before the watermark"
    assert sim.stats.requests["user_aggregates"] == 2 * 2, "[13, 20) and [20, 22), 2 batches"
    assert sim.stats.requests["users"] >= 1

    # Upserted, the two runs give the truth at the later clock; the re-read days had grown.
    loaded = _keyed(first.records("user_aggregates"))
    stale = dict(loaded)
    loaded.update(_keyed(second.records("user_aggregates")))
    window = DateWindow(day("2024-01-01"), day("2024-01-22"))
    queries = builtin_queries("users", "P1D", "UTC")
    truth = _truth(sim, user_aggregate, queries, window)
    assert loaded == truth
    assert any(stale[k] != truth[k] for k in stale if k[2] == "2024-01-14T00:00:00.000Z")
