"""The quality marts end to end: tap (evaluations, surveys) -> target-duckdb -> ``dbt build``.

Two nightly ``meltano run``s (the simulator's clock advanced, the state carried on) load the
``evaluations`` and ``surveys`` streams; between them evaluations are edited, re-scored and
deleted and surveys finish. ``genesys__quality_daily_metrics`` and
``genesys__survey_daily_metrics`` must then equal what this test computes from the
simulator's own evaluation and survey timelines at its clock. ``dbt build`` also runs the
generic and unit tests; its exit status fails the run when any of them fails.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from genesys_simulator import Dataset, Simulator
from genesys_simulator import quality as truth_model
from tests.test_dbt import START, _env, _meltano, tools  # noqa: F401 (the fixture)

DAYS = 30
CONVERSATIONS = 900
SEED = 5
STREAMS = ["evaluations", "surveys"]
#: Nights end off the 2.4-hour grid the conversations start on (tests/test_quality.py).
OFF_GRID = timedelta(hours=1, minutes=1, seconds=1, milliseconds=1)
NIGHTS = (START + timedelta(days=20) + OFF_GRID, START + timedelta(days=60) + OFF_GRID)
Key = tuple[str, str | None, str | None]


def _id(ref: dict[str, Any] | None) -> str | None:
    return ref["id"] if ref else None


def _day(iso: str) -> str:
    """The UTC date of an ISO timestamp (the package's default genesys_reporting_time_zone)."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).date().isoformat()


def _truth(sim: Simulator) -> dict[str, Any]:
    """The marts' rows computed from the simulator's timelines at its clock (UTC days)."""
    now = sim.now_ms
    ds = sim.dataset
    evaluations: dict[str, dict[str, Any]] = {}
    quality: dict[Key, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    nps: dict[Key, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for plan in ds.quality_items(ds.start_ms, now + 1):
        for item in plan.evaluations:
            e = truth_model.evaluation_at(item, now)
            if e is None:
                continue
            evaluations[e["id"]] = e
            if e["deleted"] or e["status"] != "FINISHED":
                continue
            key = (_day(e["createdDate"]), _id(e["agent"]), _id(e["queue"]))
            row = quality[key]
            row[0] += 1
            row[1] += e["answers"]["totalScore"]
            row[2] += e["answers"]["totalCriticalScore"]
        for item in plan.surveys:
            s = truth_model.survey_at(item, now)
            if s is None or s["status"] != "Finished":
                continue
            score = s.get("answers", {}).get("npsScore")
            if score is None:
                continue
            key = (
                _day(s["completedDate"]),
                _id(s["agent"]),
                _id(s["queue"]),
            )
            row2 = nps[key]
            row2[0] += 1
            row2[1] += score >= 9
            row2[2] += 7 <= score <= 8
            row2[3] += score <= 6
    return {"evaluations": evaluations, "quality": quality, "nps": nps}


def _query(db: Path, sql: str) -> list[Any]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _night(sim: Simulator, tmp_path: Path, db: Path, night: datetime, *, first: bool) -> None:
    sim.now = night
    env = _env(sim, tmp_path / "state", night, STREAMS, TARGET_DUCKDB_FILEPATH=str(db))
    args = ["run", *(["--full-refresh"] if first else [])]
    log = _meltano([*args, "tap-genesys-analytics", "target-duckdb", "dbt-duckdb:build"], env)
    assert "Completed successfully" in log


def test_quality_and_nps_marts_equal_the_simulators_evaluations_and_surveys(
    tools: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    dataset = Dataset(seed=SEED, start=START, days=DAYS, conversations=CONVERSATIONS)
    sim = Simulator(dataset, port=0).start()
    try:
        db = tmp_path / "genesys.duckdb"
        _night(sim, tmp_path, db, NIGHTS[0], first=True)
        night1 = {
            r[0]: (r[1], r[2])
            for r in _query(
                db,
                'select id, version, "totalScore" from tap_genesys_analytics.evaluations'
                " where not coalesce(deleted, false) and status = 'FINISHED'",
            )
        }
        _night(sim, tmp_path, db, NIGHTS[1], first=False)
        want = _truth(sim)
        quality = _query(
            db,
            "select cast(report_date_local as varchar), user_id, queue_id, evaluations,"
            " total_score_sum, critical_score_sum, avg_total_score, avg_critical_score"
            " from analytics.genesys__quality_daily_metrics",
        )
        surveys = _query(
            db,
            "select cast(report_date_local as varchar), user_id, queue_id, responses,"
            " promoters, passives, detractors, nps from analytics.genesys__survey_daily_metrics",
        )
    finally:
        sim.stop()

    # What night 2 had to correct: evaluations loaded finished on night 1, then deleted or
    # re-scored (a new version, another score) before night 2.
    final = want["evaluations"]
    deleted = [eid for eid in night1 if final[eid]["deleted"]]
    rescored = [
        eid
        for eid, (version, score) in night1.items()
        if not final[eid]["deleted"]
        and final[eid]["version"] > version
        and final[eid].get("answers", {}).get("totalScore") != score
    ]
    assert deleted, "an evaluation loaded on night 1 was deleted before night 2"
    assert rescored, "an evaluation loaded on night 1 was re-scored before night 2"

    got_q = {
        (r[0], r[1], r[2]): (r[3], round(float(r[4]), 2), round(float(r[5]), 2)) for r in quality
    }
    want_q = {k: (v[0], round(v[1], 2), round(v[2], 2)) for k, v in want["quality"].items()}
    assert want_q, "the simulator finished evaluations by night 2"
    assert got_q == want_q
    for r in quality:
        assert abs(float(r[6]) - float(r[4]) / r[3]) < 1e-9
        assert abs(float(r[7]) - float(r[5]) / r[3]) < 1e-9

    got_s = {(r[0], r[1], r[2]): (r[3], r[4], r[5], r[6]) for r in surveys}
    want_s = {k: tuple(v) for k, v in want["nps"].items()}
    assert got_s == want_s
    totals = [sum(v[i] for v in want_s.values()) for i in range(4)]
    assert all(totals), f"promoters, passives and detractors all occur: {totals}"
    for r in surveys:
        assert abs(float(r[7]) - (r[4] - r[6]) * 100 / r[3]) < 1e-9
