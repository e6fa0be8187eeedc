"""Quality streams end to end: nightly runs over 120 days leave the simulator's truth loaded.

Evaluations change up to 90 days after creation (edited, re-scored, released late, retracted,
deleted, system-submitted) and surveys finish or expire days after their conversation; the
tap runs "nightly" (the simulator clock advanced, STATE passed on) and the rows it writes,
loaded as a keyed target would (latest row per key wins), must equal the truth at the end.
"""

from __future__ import annotations

import datetime as dt
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from genesys_simulator import Simulator
from genesys_simulator import quality as truth_model
from genesys_simulator.timeutil import DAY_MS, parse_iso
from tests.selection import catalog_selecting
from tests.support import TapRun, day, run_tap, run_tap_until, sim_config

KEYS = {
    "evaluations": ("id",),
    "evaluation_question_group_scores": ("evaluationId", "questionGroupId"),
    "evaluation_question_scores": ("evaluationId", "questionId"),
    "surveys": ("id",),
    "survey_question_scores": ("surveyId", "questionId"),
}
Table = dict[tuple[Any, ...], dict[str, Any]]


def load(tables: dict[str, Table], run: TapRun) -> None:
    """Upsert a run's rows as a keyed target does: the latest row per key wins."""
    assert run.returncode == 0, run.stderr[-3000:]
    for stream, keys in KEYS.items():
        table = tables.setdefault(stream, {})
        for row in run.records(stream):
            table[tuple(row[k] for k in keys)] = row


def truth(sim: Simulator) -> dict[str, Any]:
    """What the simulator holds at its clock, from the same plans its API serves."""
    now = sim.now_ms
    ds = sim.dataset
    evaluations, questions, surveys, answers = {}, {}, {}, {}
    for plan in ds.quality_items(ds.start_ms, now + 1):
        for item in plan.evaluations:
            e = truth_model.evaluation_at(item, now)
            if e is None:
                continue
            evaluations[e["id"]] = e
            if e["deleted"]:
                continue
            for group in e.get("answers", {}).get("questionGroupScores", ()):
                for q in group["questionScores"]:
                    questions[(e["id"], q["questionId"])] = q
        for item in plan.surveys:
            s = truth_model.survey_at(item, now)
            if s is None:
                continue
            surveys[s["id"]] = s
            for group in s.get("answers", {}).get("questionGroupScores", ()):
                for q in group["questionScores"]:
                    answers[(s["id"], q["questionId"])] = q
    return {"e": evaluations, "q": questions, "s": surveys, "a": answers}


def assert_loaded_equals_truth(tables: dict[str, Table], sim: Simulator) -> dict[str, Any]:
    want = truth(sim)
    loaded_e = {k[0]: r for k, r in tables["evaluations"].items()}
    assert set(loaded_e) == set(want["e"]), "every evaluation created so far, each once"
    for eid, e in want["e"].items():
        row = loaded_e[eid]
        assert row["deleted"] == e["deleted"], eid
        if e["deleted"]:
            continue
        got = (row["version"], row["status"], row["changedDate"], row["releaseDate"])
        assert got == (e["version"], e["status"], e["changedDate"], e["releaseDate"]), eid
        assert row["totalScore"] == e.get("answers", {}).get("totalScore"), eid
        assert row["systemSubmitted"] == e["systemSubmitted"]
    live = {eid for eid, e in want["e"].items() if not e["deleted"]}
    loaded_q = {
        k: (r["score"], r.get("answerId"), r["markedNA"])
        for k, r in tables["evaluation_question_scores"].items()
        if k[0] in live  # README: a deleted evaluation's answers are joined away
    }
    assert loaded_q == {
        k: (q["score"], q.get("answerId"), q["markedNA"]) for k, q in want["q"].items()
    }
    loaded_s = {k[0]: r for k, r in tables["surveys"].items()}
    assert {
        sid: (r["status"], r["completedDate"], r["npsScore"], r["totalScore"])
        for sid, r in loaded_s.items()
    } == {
        sid: (
            s["status"],
            s["completedDate"],
            s.get("answers", {}).get("npsScore"),
            s.get("answers", {}).get("totalScore"),
        )
        for sid, s in want["s"].items()
    }
    loaded_a = {
        k: (r["score"], r.get("freeTextAnswer"))
        for k, r in tables["survey_question_scores"].items()
    }
    assert loaded_a == {k: (a["score"], a.get("freeTextAnswer")) for k, a in want["a"].items()}
    return want


#: Runs end off the 2.4-hour grid the conversations start on, so no event falls exactly on a run's
#: end (it would be in the simulator's truth at that clock, and in the next run's interval).
OFF_GRID = dt.timedelta(hours=1, minutes=1, seconds=1, milliseconds=1)


def nights() -> Iterable[dt.datetime]:
    """A backfill at day 20, then nightly runs, then weekly ones to day 130 (edits keep landing)."""
    yield day("2024-01-21") + OFF_GRID
    first = day("2024-02-10") + OFF_GRID
    yield from (first + dt.timedelta(days=n) for n in range(12))
    yield from (day("2024-03-01") + OFF_GRID + dt.timedelta(days=7 * n) for n in range(11))


def test_nightly_runs_load_the_latest_versions(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=1200, days=120)
    config = sim_config(sim, end_date="2024-01-21T00:00:00Z")
    catalog = catalog_selecting(tmp_path, config, set(KEYS))
    tables: dict[str, Table] = {}
    state: dict[str, Any] | None = None
    versions_seen: dict[str, set[int]] = {}
    for night in nights():
        sim.now = night
        config["end_date"] = night.isoformat()
        run = run_tap(tmp_path, config, state=state, args=("--catalog", str(catalog)))
        load(tables, run)
        for row in run.records("evaluations"):
            if not row["deleted"]:
                versions_seen.setdefault(row["id"], set()).add(row["version"])
        state = run.last_state
        assert_loaded_equals_truth(tables, sim)
    want = assert_loaded_equals_truth(tables, sim)

    # The life the test is about happened: late changes were loaded again, each kind present.
    assert sum(len(v) > 1 for v in versions_seen.values()) >= 10, "re-read after later changes"
    e = list(want["e"].values())
    assert any(x["deleted"] for x in e)
    assert any(x["status"] == "RETRACTED" for x in e)
    assert any(x["systemSubmitted"] for x in e)
    assert any(x["rescore"] for x in e)
    late = [x for x in e if parse_iso(x["changedDate"]) - parse_iso(x["createdDate"]) > 45 * DAY_MS]
    assert late, "some evaluations changed more than 45 days after creation"
    statuses = {s["status"] for s in want["s"].values()}
    assert {"Finished", "Expired", "OptOut"} <= statuses

    # The nightly cost: one listing per kind per day and one GET per changed item.
    sim.reset_stats()
    sim.now = sim.now + dt.timedelta(days=1)
    config["end_date"] = sim.now.isoformat()
    load(tables, run_tap(tmp_path, config, state=state, args=("--catalog", str(catalog))))
    requests = sim.stats.requests
    assert requests["evaluation_aggregates"] == 1
    assert requests["survey_aggregates"] == 1
    assert_loaded_equals_truth(tables, sim)


def test_kill_mid_run_loses_nothing(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=1200, days=120, error_rate=0.05)
    sim.now = day("2024-04-01") + OFF_GRID
    config = sim_config(sim, end_date=sim.now.isoformat())
    catalog = catalog_selecting(tmp_path, config, set(KEYS))
    args = ("--catalog", str(catalog))

    def mid_evaluations(messages: list[dict[str, Any]]) -> bool:
        return sum(m.get("stream") == "evaluations" for m in messages) >= 40

    killed = run_tap_until(tmp_path, config, mid_evaluations, sig=signal.SIGKILL, args=args)
    assert killed.returncode == -signal.SIGKILL
    tables: dict[str, Table] = {}
    for stream, keys in KEYS.items():
        tables[stream] = {tuple(r[k] for k in keys): r for r in killed.records(stream)}
    state = killed.last_state
    assert state, "STATE before the kill"
    assert state["bookmarks"]["evaluations"].get("bookmark"), "evaluations got some way"
    resumed = run_tap(tmp_path, config, state=state, args=args)
    assert sim.stats.faults["error"] > 0, "injected errors fired (and were retried)"
    load(tables, resumed)
    assert_loaded_equals_truth(tables, sim)


def test_forbidden_names_the_permission(tmp_path: Path, make_sim) -> None:
    sim = make_sim(conversations=200, days=30, quality_forbidden=True)
    config = sim_config(sim)
    catalog = catalog_selecting(tmp_path, config, {"evaluations"})
    run = run_tap(tmp_path, config, args=("--catalog", str(catalog)))
    assert sim.stats.faults["quality_forbidden"] >= 1
    assert run.returncode != 0
    assert "analytics:evaluationAggregate:view" in run.stderr


def test_conversation_headers_match_the_quality_items(tmp_path: Path, make_sim) -> None:
    """conversation_evaluations/_surveys come from the detail pages, with no quality request."""
    sim = make_sim(conversations=2000, days=30)
    sim.now = day("2024-03-15")
    config = sim_config(sim)
    streams = {"conversation_evaluations", "conversation_surveys", "evaluation_forms"}
    run = run_tap(
        tmp_path, config, args=("--catalog", str(catalog_selecting(tmp_path, config, streams)))
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert not {"evaluation", "survey", "evaluation_aggregates"} & set(sim.stats.requests)
    want = truth(sim)
    rows = run.records("conversation_evaluations")
    assert {r["evaluationId"] for r in rows} == set(want["e"])
    for r in rows:
        e = want["e"][r["evaluationId"]]
        assert r["conversationId"] == e["conversation"]["id"]
        assert r["deleted"] == e["deleted"]
        assert r["eventTime"] == e["changedDate"]
    surveys = run.records("conversation_surveys")
    assert {r["surveyId"] for r in surveys} == set(want["s"])
    assert all(r["surveyStatus"] == want["s"][r["surveyId"]]["status"] for r in surveys)
    forms = run.records("evaluation_forms")
    assert len(forms) == 4, "every published version"
    assert len({f["contextId"] for f in forms}) == 2, "two forms, two versions each"
