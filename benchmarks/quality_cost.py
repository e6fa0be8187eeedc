#!/usr/bin/env python3
"""Nightly request cost of the quality streams, per 10,000 conversations a day.

Runs the tap CLI for one night (STATE bookmarked at the previous night) against the simulator
with ``PER_DAY`` conversations a day for 120 days, counts the requests the simulator served, and
scales them to 10,000 conversations a day. Beside it, the cost the two other designs would have
on the same data: a GET per conversation over the 90+ days an evaluation can still change, and
``evaluations/search`` over a 90-day createdDate window (both ``systemSubmitted`` values,
100 results a page). Usage: ``python benchmarks/quality_cost.py [per_day]``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genesys_simulator import quality  # noqa: E402
from tests.selection import catalog_selecting  # noqa: E402
from tests.support import day, run_tap, sim_config, start_sim  # noqa: E402

STREAMS = {
    "evaluations",
    "evaluation_question_group_scores",
    "evaluation_question_scores",
    "surveys",
    "survey_question_scores",
    "evaluation_forms",
    "survey_forms",
}


def main() -> None:
    per_day = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    days = 120
    scale = 10_000 / per_day
    sim = start_sim(conversations=per_day * days, days=days)
    night = day("2024-04-20")
    sim.now = night
    prev = (night - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    state = {"bookmarks": {"evaluations": {"bookmark": prev}, "surveys": {"bookmark": prev}}}
    with tempfile.TemporaryDirectory() as tmp:
        config = sim_config(sim, end_date=night.strftime("%Y-%m-%dT%H:%M:%SZ"))
        catalog = catalog_selecting(Path(tmp), config, STREAMS)
        sim.reset_stats()
        run = run_tap(Path(tmp), config, state=state, args=("--catalog", str(catalog)))
        if run.returncode != 0:
            raise SystemExit(run.stderr[-2000:])
    served = {k: v for k, v in sim.stats.requests.items() if k != "token"}
    total = sum(served.values())
    # The alternatives, counted on the same data at the same clock.
    now = sim.now_ms
    window = 90 * quality.DAY_MS
    created = [0, 0]
    for p in sim.dataset.quality_items(now - window, now):
        for item in p.evaluations:
            e = quality.evaluation_at(item, now)
            if e and not e["deleted"] and now - item.events[0].t < window:
                created[bool(e["systemSubmitted"])] += 1
    search_pages = sum(-(-n * scale // 100) for n in created)
    per_conversation = 10_000 * (90 + 10) + 10_000 * 7
    sim.stop()
    print(json.dumps({"per_day_simulated": per_day, "requests_served": served}, indent=1))
    print(
        f"chosen (aggregates by eventTime + GET per changed item): {total * scale:,.0f} "
        f"requests a night per 10,000 conversations a day"
    )
    print(
        f"evaluations/search over 90 days of createdDate: {search_pages:,.0f} pages "
        f"(+ a GET per changed evaluation if the results lack answers; no surveys)"
    )
    print(
        f"GET per conversation over 100 days (evaluations) and 7 days (surveys): "
        f"{per_conversation:,.0f}"
    )


if __name__ == "__main__":
    main()
