"""The org's Architect flows, flow outcomes and flow milestones, and each IVR run's milestones.

Outcomes and milestones are org objects (``GET /api/v2/flows/outcomes``, ``.../milestones``)
with stable ids; an org has at most 100 outcomes and 1,000 milestones (HELP-FLOWOUT). The
IVR session of a conversation reports one outcome of this pool (``flow.outcomes[]`` in
conversation details), chosen by the caller's intent; its milestones never appear in details
(``AnalyticsFlow`` has none), only in flow aggregates.

Inference, documented here because the API does not say more: a milestone counts towards the
outcome in progress when it is hit, so each outcome of a flow defines the milestones its path
hits. "In analytics and performance view reporting, only up to 20 milestones per outcome and
100 milestones per flow are used": the first 20 of an outcome's milestones, in the flow's
definition order, and the first 100 of the flow's, are the ones analytics uses; hits on the
others are dropped. ``Main IVR`` defines 25 milestones for its first outcome and 110 in all,
so both caps bite.

No draw here touches a conversation's random stream: a run's milestones come from a hash of
its conversation id.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any

from .pools import FLOW_SPECS, stable_uuid
from .record_parts import _INTENTS

Json = dict[str, Any]

#: The analytics caps of HELP-FLOWOUT.
MILESTONES_PER_OUTCOME = 20
MILESTONES_PER_FLOW = 100
#: The org limits of HELP-FLOWOUT (the pool stays under them).
MAX_OUTCOMES = 100
MAX_MILESTONES = 1000
CREATED_MS = 1_685_610_000_000  # 2023-06-01T09:00:00Z, as the other directory entities
#: Flows deleted since: listed by ``GET /api/v2/flows`` only with ``deleted=true``.
DELETED_FLOW_SPECS = (
    ("INBOUNDCALL", "Old Main IVR", "voice"),
    ("INBOUNDCALL", "Holiday IVR 2022", "voice"),
    ("INBOUNDCHAT", "Legacy Chat Flow", "chat"),
)
#: Outcomes other flows define (no conversation here reaches them; the listing shows them).
OTHER_OUTCOMES = ("ChatTriaged", "EmailRouted", "MessageAnswered", "CallbackBooked")
#: Milestones per outcome of Main IVR: the first outcome over the per-outcome cap, the flow
#: (25 + 5 * 17 = 110) over the per-flow cap.
MAIN_IVR_MILESTONES = (25, 17, 17, 17, 17, 17)


def outcome_name(intent: str) -> str:
    """The outcome a caller with ``intent`` reaches in the IVR."""
    return f"{intent}Selected"


@dataclass(eq=False)
class Catalogue:
    """Every flow, outcome and milestone of the org, and what each flow defines."""

    seed: int
    flows: list[Json] = field(default_factory=list)
    outcomes: list[Json] = field(default_factory=list)
    milestones: list[Json] = field(default_factory=list)
    #: Milestone ids each outcome (id) defines, in the flow's definition order.
    outcome_milestones: dict[str, list[str]] = field(default_factory=dict)
    #: Outcome ids each flow (id) defines, in definition order.
    flow_outcomes: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Build the pools from the seed: ids stable for a seed, whatever the data size."""
        seed = self.seed
        specs = [(t, n, m, False) for t, n, m in FLOW_SPECS]
        specs += [(t, n, m, True) for t, n, m in DELETED_FLOW_SPECS]
        for k, (ftype, name, media, deleted) in enumerate(specs):
            self.flows.append(
                {
                    "id": stable_uuid(seed, "flow", k),
                    "name": name,
                    "type": ftype,
                    "mediaType": media,
                    "deleted": deleted,
                }
            )
        names = [outcome_name(i) for i in _INTENTS] + list(OTHER_OUTCOMES)
        self.outcomes = [
            {"id": stable_uuid(seed, "flowoutcome", k), "name": name}
            for k, name in enumerate(names)
        ]
        main = self.flows[0]["id"]
        self.flow_outcomes[main] = [o["id"] for o in self.outcomes[: len(_INTENTS)]]
        for k, _other in enumerate(OTHER_OUTCOMES, start=1):
            flow = self.flows[min(k, len(FLOW_SPECS) - 1)]["id"]
            outcome = self.outcomes[len(_INTENTS) + k - 1]["id"]
            self.flow_outcomes.setdefault(flow, []).append(outcome)
        sizes = dict(zip(self.flow_outcomes[main], MAIN_IVR_MILESTONES, strict=True))
        named = {o["id"]: o["name"] for o in self.outcomes}
        for outcome_ids in self.flow_outcomes.values():
            for oid in outcome_ids:
                self.outcome_milestones[oid] = [
                    self._milestone(f"step {j + 1} towards {named[oid]}")
                    for j in range(sizes.get(oid, 3))
                ]

    def _milestone(self, label: str) -> str:
        k = len(self.milestones)
        mid = stable_uuid(self.seed, "flowmilestone", k)
        self.milestones.append({"id": mid, "name": f"Milestone {k + 1:03d}", "label": label})
        return mid

    def used(
        self, per_outcome: int = MILESTONES_PER_OUTCOME, per_flow: int = MILESTONES_PER_FLOW
    ) -> frozenset[tuple[str, str]]:
        """The (flow id, milestone id) pairs analytics uses: both caps, in definition order."""
        return _used(self, per_outcome, per_flow)

    def outcome_for(self, intent: str) -> Json:
        """The pool outcome a caller with ``intent`` reaches."""
        name = outcome_name(intent)
        return next(o for o in self.outcomes if o["name"] == name)

    def milestone_hits(
        self, conversation_id: str, outcome_id: str, span: tuple[int, int]
    ) -> list[tuple[int, str]]:
        """``(time, milestone id)`` of one run, spread over its outcome's ``span``.

        Three to six hits among the outcome's milestones, sometimes one twice (a caller who
        goes round a menu again), drawn from a hash of the conversation id.
        """
        defined = self.outcome_milestones.get(outcome_id) or []
        if not defined:
            return []
        digest = hashlib.blake2b(f"{conversation_id}:milestones".encode(), digest_size=16).digest()
        n = 3 + digest[0] % 4
        picks = [defined[digest[1 + j] % len(defined)] for j in range(n)]
        if digest[8] % 5 == 0:
            picks.append(picks[0])
        start, end = span
        step = (end - start) // (len(picks) + 1)
        return [(start + (j + 1) * step, m) for j, m in enumerate(picks)]


@functools.lru_cache(maxsize=16)
def _used(cat: Catalogue, per_outcome: int, per_flow: int) -> frozenset[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for flow, outcome_ids in cat.flow_outcomes.items():
        kept: list[str] = []
        for oid in outcome_ids:
            for m in cat.outcome_milestones[oid][:per_outcome]:
                if len(kept) < per_flow:
                    kept.append(m)
        pairs |= {(flow, m) for m in kept}
    return frozenset(pairs)


@functools.lru_cache(maxsize=16)
def catalogue(seed: int) -> Catalogue:
    """The org's flow catalogue for ``seed`` (built once; it is small)."""
    cat = Catalogue(seed)
    if len(cat.outcomes) > MAX_OUTCOMES or len(cat.milestones) > MAX_MILESTONES:
        raise ValueError("the flow catalogue outgrew the org limits")
    return cat


# ----------------------------------------------------------------------------- listings
def _division(pools_division: Json) -> Json:
    return {
        "id": pools_division["id"],
        "name": pools_division["name"],
        "selfUri": f"/api/v2/authorization/divisions/{pools_division['id']}",
    }


def flow_entities(seed: int, division: Json) -> list[Json]:
    """``Flow`` entities (SDK model fields), deleted ones included (``deleted`` says which)."""
    out = []
    for k, f in enumerate(catalogue(seed).flows):
        version: Json = {
            "id": f"{12 - k % 3}.0",
            "name": f["name"],
            "commitVersion": f"{12 - k % 3}.0",
            "configurationVersion": f"{12 - k % 3}.0",
            "type": "PUBLISH",
            "secure": False,
            "debug": False,
            "dateCreated": CREATED_MS,
            "dateCheckedIn": CREATED_MS,
            "dateSaved": CREATED_MS,
            "selfUri": f"/api/v2/flows/{f['id']}/versions/{12 - k % 3}.0",
        }
        out.append(
            {
                "id": f["id"],
                "name": f["name"],
                "division": _division(division),
                "description": f"{f['name']} ({f['mediaType']})",
                "type": f["type"],
                "active": not f["deleted"],
                "system": False,
                "deleted": f["deleted"],
                "publishedVersion": version,
                "checkedInVersion": version,
                "selfUri": f"/api/v2/flows/{f['id']}",
            }
        )
    return out


def outcome_entities(seed: int, division: Json) -> list[Json]:
    """``FlowOutcome`` entities of the org's outcome pool."""
    return [
        {
            "id": o["id"],
            "name": o["name"],
            "division": _division(division),
            "description": f"Caller reached {o['name']}",
            "selfUri": f"/api/v2/flows/outcomes/{o['id']}",
        }
        for o in catalogue(seed).outcomes
    ]


def milestone_entities(seed: int, division: Json) -> list[Json]:
    """``FlowMilestone`` entities of the org's milestone pool."""
    return [
        {
            "id": m["id"],
            "name": m["name"],
            "division": _division(division),
            "description": f"Caller reached {m['label']}",
            "selfUri": f"/api/v2/flows/milestones/{m['id']}",
        }
        for m in catalogue(seed).milestones
    ]
