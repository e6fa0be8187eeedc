"""Conversation aggregates: named queries, bounded windows, flat rows equal to the simulator's."""

from __future__ import annotations

import collections
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from genesys_simulator import Simulator
from genesys_simulator.aggregates import aggregate
from tap_genesys_analytics.config.aggregates import (
    AggregateQuery,
    parse_aggregates,
    parse_granularity,
)
from tap_genesys_analytics.config.settings import ConfigError, Settings
from tap_genesys_analytics.genesys.aggregates import (
    MAX_WINDOW_DAYS,
    flatten,
    group_key,
    local_midnight,
    plan_windows,
    query_body,
    window_days,
)
from tap_genesys_analytics.windows import DateWindow, iso
from tests.selection import catalog_selecting
from tests.support import day, run_tap, sdk_fields, sim_config

KEY = ("query_name", "group_key", "interval_start", "metric", "qualifier")
QUERIES: list[dict[str, Any]] = [
    {
        "name": "queue_media",
        "group_by": ["queueId", "mediaType"],
        "metrics": ["nOffered", "tHandle"],
    },
    {
        "name": "inbound_daily",
        "metrics": ["tTalk", "nConnected"],
        "granularity": "P1D",
        "filter": {
            "type": "and",
            "predicates": [{"dimension": "originatingDirection", "value": "inbound"}],
        },
    },
]


# -- pure helpers -------------------------------------------------------------------------------


def test_parse_aggregates_defaults_and_env_json() -> None:
    (query,) = parse_aggregates('[{"name": "q", "metrics": ["nOffered"]}]')
    assert query == AggregateQuery(name="q", metrics=("nOffered",))
    assert query.granularity == "PT30M"
    assert query.group_by == ()
    assert parse_aggregates(None) == ()
    assert parse_aggregates([]) == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not json", "JSON array"),
        ({"name": "q"}, "list of queries"),
        ([{"metrics": ["nOffered"]}], r"aggregates\[0\] needs a name"),
        ([{"name": "q"}], "metrics must be a non-empty list"),
        ([{"name": "q", "metrics": []}], "metrics must be a non-empty list"),
        ([{"name": "q", "metrics": ["nOffered"], "group_by": "queueId"}], "group_by"),
        ([{"name": "q", "metrics": ["nOffered"], "granularity": "30m"}], "ISO-8601"),
        ([{"name": "q", "metrics": ["nOffered"], "granularity": "PT7M"}], "divide a day"),
        ([{"name": "q", "metrics": ["nOffered"], "granularity": "P7D"}], "divide a day"),
        ([{"name": "q", "metrics": ["nOffered"], "time_zone": "Mars/Base"}], "IANA"),
        ([{"name": "q", "metrics": ["nOffered"], "filter": [1]}], "filter"),
        ([{"name": "q", "metrics": ["nOffered"], "views": []}], "unknown field"),
        ([{"name": "q", "metrics": ["a"]}, {"name": "q", "metrics": ["b"]}], "own name"),
    ],
)
def test_parse_aggregates_rejects(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_aggregates(value)


def test_a_bad_query_is_a_config_error_naming_it() -> None:
    config = {
        "client_id": "x",
        "client_secret": "y",
        "start_date": "2024-01-01",
        "aggregates": [{"name": "daily", "metrics": ["nOffered"], "granularity": "PT0M"}],
    }
    with pytest.raises(ConfigError, match="'daily'"):
        Settings.from_config(config)


def test_parse_granularity() -> None:
    assert parse_granularity("PT30M") == dt.timedelta(minutes=30)
    assert parse_granularity("P1D") == dt.timedelta(days=1)
    assert parse_granularity("P1W") == dt.timedelta(weeks=1)
    assert parse_granularity("PT1H30M") == dt.timedelta(minutes=90)
    for bad in ("P", "PT", "P1DT", "PT0S", "1D"):
        with pytest.raises(ValueError, match="granularity"):
            parse_granularity(bad)


def test_windows_are_whole_days_bounded_by_days_and_buckets() -> None:
    query = AggregateQuery(name="q", metrics=("nOffered",))
    windows = plan_windows(day("2024-01-01") + dt.timedelta(hours=5), day("2024-01-20"), query)
    assert [w.interval for w in windows] == [
        "2024-01-01T00:00:00.000Z/2024-01-08T00:00:00.000Z",
        "2024-01-08T00:00:00.000Z/2024-01-15T00:00:00.000Z",
        "2024-01-15T00:00:00.000Z/2024-01-20T00:00:00.000Z",
    ]
    assert window_days(query) == MAX_WINDOW_DAYS
    # A partial last day is left for a later run.
    assert plan_windows(day("2024-01-01"), day("2024-01-01") + dt.timedelta(hours=23), query) == []
    minutely = AggregateQuery(name="q", metrics=("nOffered",), granularity="PT1M")
    assert window_days(minutely) == 1
    assert window_days(AggregateQuery(name="q", metrics=("n",), granularity="PT5M")) == 6


def test_windows_follow_the_query_time_zone_across_dst() -> None:
    query = AggregateQuery(name="q", metrics=("nOffered",), time_zone="Europe/Paris")
    start = dt.datetime(2024, 3, 25, tzinfo=dt.timezone.utc)
    windows = plan_windows(start, start + dt.timedelta(days=10), query)
    # Paris midnight is 23:00 UTC before 31 March and 22:00 UTC after it.
    assert windows[0].interval == "2024-03-24T23:00:00.000Z/2024-03-31T22:00:00.000Z"
    assert windows[1].interval == "2024-03-31T22:00:00.000Z/2024-04-03T22:00:00.000Z"
    assert local_midnight(start, query.zone) == dt.datetime(2024, 3, 24, 23, tzinfo=dt.timezone.utc)


def test_body_holds_only_conversation_aggregation_query_fields() -> None:
    query = parse_aggregates(QUERIES)[1]
    window = DateWindow(day("2024-01-01"), day("2024-01-08"))
    body = query_body(query, window)
    assert body == {
        "interval": window.interval,
        "granularity": "P1D",
        "groupBy": [],
        "metrics": ["tTalk", "nConnected"],
        "filter": QUERIES[1]["filter"],
    }
    zoned = AggregateQuery(name="z", metrics=("nOffered",), time_zone="Europe/Paris")
    assert query_body(zoned, window)["timeZone"] == "Europe/Paris"
    for sent in (body, query_body(zoned, window)):
        assert set(sent) <= sdk_fields("ConversationAggregationQuery")


def test_flatten_one_row_per_metric_with_stats_columns() -> None:
    results = [
        {
            "group": {"queueId": "q1", "mediaType": "voice"},
            "data": [
                {
                    "interval": "2024-01-01T01:00:00.000+01:00/2024-01-01T01:30:00.000+01:00",
                    "metrics": [
                        {"metric": "nOffered", "stats": {"count": 3}},
                        {
                            "metric": "oServiceLevel",
                            "qualifier": "20",
                            "stats": {"ratio": 0.5, "numerator": 1, "denominator": 2},
                        },
                    ],
                }
            ],
        },
        {"data": [{"interval": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z", "metrics": []}]},
    ]
    rows = list(flatten("q", results))
    assert rows == [
        {
            "query_name": "q",
            "group_key": '{"mediaType":"voice","queueId":"q1"}',
            "group": {"queueId": "q1", "mediaType": "voice"},
            "interval_start": "2024-01-01T00:00:00.000Z",
            "interval_end": "2024-01-01T00:30:00.000Z",
            "metric": "nOffered",
            "qualifier": "",
            "count": 3,
        },
        {
            "query_name": "q",
            "group_key": '{"mediaType":"voice","queueId":"q1"}',
            "group": {"queueId": "q1", "mediaType": "voice"},
            "interval_start": "2024-01-01T00:00:00.000Z",
            "interval_end": "2024-01-01T00:30:00.000Z",
            "metric": "oServiceLevel",
            "qualifier": "20",
            "ratio": 0.5,
            "numerator": 1,
            "denominator": 2,
        },
    ]
    assert group_key(None) == "{}"


# -- end to end over the simulator --------------------------------------------------------------


def aggregate_truth(sim: Simulator, start: str, end: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The simulator's answer for the whole range at once, flattened the same way."""
    window = DateWindow(day(start), day(end))
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for query in parse_aggregates(QUERIES):
        answer = aggregate(sim.dataset, query_body(query, window), sim.now_ms)
        for row in flatten(query.name, answer.get("results") or ()):
            rows[tuple(row[k] for k in KEY)] = row
    return rows


def test_aggregate_rows_match_the_truth_in_7_day_requests(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=1500)
    config = sim_config(sim, aggregates=QUERIES)
    catalog = catalog_selecting(tmp_path, config, {"conversation_aggregates"})
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 0, run.stderr[-2000:]

    rows = run.records("conversation_aggregates")
    keyed = collections.Counter(tuple(r[k] for k in KEY) for r in rows)
    assert max(keyed.values()) == 1, "a row was emitted twice"
    expected = aggregate_truth(sim, "2024-01-01", "2024-01-31")
    assert set(keyed) == set(expected)
    for row in rows:
        assert row == expected[tuple(row[k] for k in KEY)]
    assert {r["query_name"] for r in rows} == {"queue_media", "inbound_daily"}
    # 30 days in windows of at most 7 days: 5 requests per query, nothing else.
    assert sim.stats.requests["aggregates_query"] == 2 * 5
    assert sim.stats.requests["job_submit"] == 0
    assert run.last_state["bookmarks"]["conversation_aggregates"] == {
        "watermarks": {
            "queue_media": "2024-01-31T00:00:00.000Z",
            "inbound_daily": "2024-01-31T00:00:00.000Z",
        }
    }


def test_a_later_run_rereads_only_the_lookback(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=600)
    config = sim_config(sim, aggregates=QUERIES[:1], lookback_days=3)
    catalog = catalog_selecting(tmp_path, config, {"conversation_aggregates"})
    first = run_tap(
        tmp_path, {**config, "end_date": "2024-01-20T00:00:00Z"}, args=("--catalog", str(catalog))
    )
    assert first.returncode == 0, first.stderr[-2000:]
    sim.reset_stats()

    # A second query added later starts at start_date; the first resumes 3 days back.
    config["aggregates"] = QUERIES
    second = run_tap(tmp_path, config, state=first.last_state, args=("--catalog", str(catalog)))
    assert second.returncode == 0, second.stderr[-2000:]
    starts: dict[str, set[str]] = collections.defaultdict(set)
    for row in second.records("conversation_aggregates"):
        starts[row["query_name"]].add(row["interval_start"])
    assert min(starts["queue_media"]) >= "2024-01-17T00:00:00.000Z"
    assert min(starts["inbound_daily"]) == "2024-01-01T00:00:00.000Z"
    assert sim.stats.requests["aggregates_query"] == 2 + 5
    expected = aggregate_truth(sim, "2024-01-01", "2024-01-31")
    rerun = {tuple(r[k] for k in KEY) for r in second.records("conversation_aggregates")}
    assert rerun <= set(expected)
    assert (
        iso(day("2024-01-31"))
        == second.last_state["bookmarks"]["conversation_aggregates"]["watermarks"]["queue_media"]
    )


def test_an_aggregate_query_the_api_rejects_shows_its_message(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=200)
    config = sim_config(sim, aggregates=[{"name": "bad", "metrics": ["nNoSuchMetric"]}])
    catalog = catalog_selecting(tmp_path, config, {"conversation_aggregates"})
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert run.returncode == 1
    assert "HTTP 400" in run.error_line
    assert "conversation_aggregates bad" in run.error_line


def test_service_level_ratio_agrees_with_the_detail_records(make_sim) -> None:
    """``oServiceLevel`` carries ratio/numerator/denominator/target, derived from the queue visits.

    On 86a853e the simulator refused the metric, so no aggregate row ever carried these stats.
    """
    sim = make_sim(conversations=300)
    body = {
        "interval": "2024-01-01T00:00:00.000Z/2024-01-08T00:00:00.000Z",
        "groupBy": ["queueId"],
        "metrics": ["oServiceLevel"],
    }
    answer = aggregate(sim.dataset, body, sim.now_ms)
    got = {r["group"]["queueId"]: r["data"][0]["metrics"][0]["stats"] for r in answer["results"]}
    a, b = day("2024-01-01").timestamp() * 1000, day("2024-01-08").timestamp() * 1000
    want: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for i in range(sim.dataset.n):
        conv = sim.dataset.record(i, sim.now_ms, attributes=False)
        for participant in conv.get("participants", []):
            for session in participant.get("sessions", []):
                names = {m["name"]: m for m in session.get("metrics", [])}
                visit = names.get("tAcd") or names.get("tAbandon")
                if visit is None:
                    continue
                t = dt.datetime.fromisoformat(visit["emitDate"].replace("Z", "+00:00"))
                if not a <= t.timestamp() * 1000 < b:
                    continue
                queue = next(s["queueId"] for s in session["segments"] if "queueId" in s)
                want[queue][1] += 1
                want[queue][0] += "tAcd" in names and "nOverSla" not in names
    assert want
    assert set(got) == set(want)
    for queue, (hits, total) in want.items():
        assert got[queue] == {
            "ratio": hits / total,
            "numerator": hits,
            "denominator": total,
            "target": 0.8,
        }
    assert any(0 < s["numerator"] < s["denominator"] for s in got.values())
