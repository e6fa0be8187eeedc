"""Aggregates of every subject: config checks, request bodies, user batches, end-to-end truth."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

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
from tap_genesys_analytics.windows import DateWindow
from tests.support import day, sdk_fields

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
