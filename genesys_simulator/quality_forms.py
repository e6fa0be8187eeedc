"""Quality forms: evaluation and survey forms with their published versions.

Split from ``quality`` (the items' lives) so each module stays readable; forms are drawn
from the data set's seed alone, so both sides agree on every version.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .timeutil import DAY_MS, iso

Json = dict[str, Any]


def uid(*parts: object) -> str:
    """A stable UUID-shaped id from ``parts``: the same item gets the same id on every draw."""
    h = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


# ----------------------------------------------------------------------------- forms
EVAL_CONTEXTS = ("Voice quality", "Digital quality")
_OPTIONS = (("Yes", 10), ("Partly", 5), ("No", 0))


def evaluation_forms(seed: int, start_ms: int) -> list[Json]:
    """Every published evaluation form version: each context has v1 and, later, v2."""
    forms = []
    for c, name in enumerate(EVAL_CONTEXTS):
        ctx = uid(seed, "eform-ctx", c)
        for v in (1, 2):
            published = start_ms - 30 * DAY_MS if v == 1 else start_ms + (40 + 10 * c) * DAY_MS
            fid = uid(seed, "eform", c, v)
            groups = []
            for g in range(2):
                questions = []
                for q in range(3 if v == 1 else 4):
                    qctx = uid(seed, "eq-ctx", c, g, q)
                    options = [
                        {
                            "id": uid(fid, g, q, o),
                            "contextId": uid(qctx, o),
                            "text": t,
                            "value": val,
                        }
                        for o, (t, val) in enumerate(_OPTIONS)
                    ]
                    questions.append(
                        {
                            "id": uid(fid, "q", g, q),
                            "contextId": qctx,
                            "text": f"{name} question {g + 1}.{q + 1}",
                            "type": "multipleChoiceQuestion",
                            "isKill": g == 0 and q == 0,
                            "isCritical": q == 1,
                            "naEnabled": q == 2,
                            "answerOptions": options,
                        }
                    )
                groups.append(
                    {
                        "id": uid(fid, "g", g),
                        "contextId": uid(seed, "eg-ctx", c, g),
                        "name": f"Group {g + 1}",
                        "weight": 0.6 if g == 0 else 0.4,
                        "naEnabled": False,
                        "questions": questions,
                    }
                )
            forms.append(
                {
                    "id": fid,
                    "name": name,
                    "contextId": ctx,
                    "published": True,
                    "modifiedDate": iso(published),
                    "weightMode": "SCALED",
                    "questionGroups": groups,
                    "publishedAt": published,
                }
            )
    return forms


def survey_forms(seed: int, start_ms: int) -> list[Json]:
    """Every published survey form version: one context, v2 published mid-way."""
    forms = []
    ctx = uid(seed, "sform-ctx")
    for v in (1, 2):
        published = start_ms - 30 * DAY_MS if v == 1 else start_ms + 50 * DAY_MS
        fid = uid(seed, "sform", v)
        kinds = ("npsQuestion", "multipleChoiceQuestion", "freeTextQuestion")
        questions = [
            {
                "id": uid(fid, "q", q),
                "contextId": uid(seed, "sq-ctx", q),
                "text": f"Survey question {q + 1}",
                "type": kind,
                "answerOptions": [
                    {"id": uid(fid, q, o), "text": t, "value": val}
                    for o, (t, val) in enumerate(_OPTIONS)
                ]
                if kind == "multipleChoiceQuestion"
                else [],
            }
            for q, kind in enumerate(kinds)
        ]
        forms.append(
            {
                "id": fid,
                "name": "Post-contact NPS",
                "contextId": ctx,
                "published": True,
                "disabled": False,
                "language": "en-US",
                "modifiedDate": iso(published),
                "questionGroups": [
                    {"id": uid(fid, "g"), "name": "Feedback", "questions": questions}
                ],
                "publishedAt": published,
            }
        )
    return forms


def public_form(form: Json) -> Json:
    """A form as the API shows it (without the simulator's bookkeeping)."""
    return {k: v for k, v in form.items() if k != "publishedAt"}


def form_at(forms: list[Json], context: str, t: int) -> Json:
    """The latest version of ``context`` published by ``t``."""
    live = [f for f in forms if f["contextId"] == context and f["publishedAt"] <= t]
    return max(live, key=lambda f: f["publishedAt"])
