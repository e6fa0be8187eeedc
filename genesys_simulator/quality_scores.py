"""An evaluation's scoring set (``answers``): question, group and overall scores.

Split from ``quality`` (the items' lives). Scores follow the Quality API's scoring set: each
group carries its weighted score on a 0-100 scale and the raw points behind it
(``...Unweighted``), each split into critical and non-critical questions when the form has
critical ones. Questions marked not applicable count in neither.
"""

from __future__ import annotations

import random
from typing import Any

Json = dict[str, Any]
#: Every answer option's top value (quality_forms ``_OPTIONS``): one question's maximum.
QUESTION_MAX = 10


def _percent(got: float, top: float) -> float:
    return round(100 * got / top, 2) if top else 0.0


class _Tally:
    """Points won and possible over the applicable questions, split by criticality."""

    def __init__(self) -> None:
        self.got = self.top = self.crit_got = self.crit_top = 0

    def add(self, score: int, critical: bool) -> None:
        self.got, self.top = self.got + score, self.top + QUESTION_MAX
        if critical:
            self.crit_got, self.crit_top = self.crit_got + score, self.crit_top + QUESTION_MAX

    def group_fields(self, has_critical: bool) -> Json:
        """The group's scores beside ``totalScore``/``maxTotalScore``."""
        out: Json = {"totalScoreUnweighted": self.got, "maxTotalScoreUnweighted": self.top}
        if has_critical:
            non_got, non_top = self.got - self.crit_got, self.top - self.crit_top
            out.update(
                totalCriticalScore=_percent(self.crit_got, self.crit_top),
                maxTotalCriticalScore=100.0,
                totalCriticalScoreUnweighted=self.crit_got,
                maxTotalCriticalScoreUnweighted=self.crit_top,
                totalNonCriticalScore=_percent(non_got, non_top),
                maxTotalNonCriticalScore=100.0,
                totalNonCriticalScoreUnweighted=non_got,
                maxTotalNonCriticalScoreUnweighted=non_top,
            )
        return out


def evaluation_answers(item_id: str, form: Json, revision: int) -> Json:
    """Scored answers to ``form``; ``revision`` changes them (an edit, a re-score)."""
    rng = random.Random(f"{item_id}:{revision}")
    groups = []
    total_w = total = 0.0
    overall = _Tally()
    failed_kill = False
    for group in form["questionGroups"]:
        scores = []
        tally = _Tally()
        for q in group["questions"]:
            na = q["naEnabled"] and rng.random() < 0.1
            option = q["answerOptions"][rng.randrange(3) if rng.random() < 0.5 else 0]
            score = 0 if na else option["value"]
            failed = q["isKill"] and not na and score == 0
            failed_kill = failed_kill or failed
            if not na:
                tally.add(score, q["isCritical"])
                overall.add(score, q["isCritical"])
            row: Json = {
                "questionId": q["id"],
                "answerId": None if na else option["id"],
                "score": score,
                "markedNA": na,
                "systemMarkedNA": False,
                "failedKillQuestion": failed,
            }
            if rng.random() < 0.2:
                row["comments"] = f"note {rng.randrange(1000)}"
            scores.append(row)
        group_score = _percent(tally.got, tally.top)
        total_w += group["weight"]
        total += group["weight"] * group_score
        has_critical = any(q["isCritical"] for q in group["questions"])
        groups.append(
            {
                "questionGroupId": group["id"],
                "totalScore": group_score,
                "maxTotalScore": 100.0,
                "markedNA": False,
                "systemMarkedNA": False,
                **tally.group_fields(has_critical),
                "questionScores": scores,
            }
        )
    out: Json = {
        "totalScore": round(total / total_w, 2) if total_w else 0.0,
        "totalCriticalScore": _percent(overall.crit_got, overall.crit_top)
        if overall.crit_top
        else 100.0,
        "anyFailedKillQuestions": failed_kill,
        "questionGroupScores": groups,
    }
    if any(q["isCritical"] for g in form["questionGroups"] for q in g["questions"]):
        out["totalNonCriticalScore"] = _percent(
            overall.got - overall.crit_got, overall.top - overall.crit_top
        )
    return out
