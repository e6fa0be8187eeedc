"""The vocabulary and small builders of a conversation record (no random draws of their own).

``records.build_record`` draws from the seeded stream; what lives here only shapes values:
the fixed word lists it draws from, the clipping ``Clip`` (segments, metrics, sessions and
participants seen by a moment), surveys, and the null stripping the API applies.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .timeutil import DAY_MS, iso

Json = dict[str, Any]

CORRECTION_DELAY_MS = 2 * DAY_MS
"""A late correction becomes visible this long after the conversation started."""

_MEDIA_WEIGHTS = (("voice", 60), ("chat", 15), ("email", 10), ("message", 10), ("callback", 5))
_MEDIA_CUM: list[tuple[int, str]] = []
_acc = 0
for _name, _weight in _MEDIA_WEIGHTS:
    _acc += _weight
    _MEDIA_CUM.append((_acc, _name))

_DISCONNECTS = ("endpoint", "peer", "client", "transfer", "system")
_LANGUAGES = ("en-US", "es-US", "de-DE", "fr-FR")
_TIERS = ("bronze", "silver", "gold", "platinum")
_INTENTS = ("billing", "order-status", "technical", "cancel", "new-account", "other")
_NOTES = (
    "Customer asked about invoice",
    "Resolved on first contact",
    "Needs follow-up from back office",
    "Updated shipping address",
    "Explained pricing plans",
    "Reset password with customer",
)
_CODECS = (["audio/opus"], ["audio/PCMU"], ["audio/PCMA"], ["audio/G722"])


@dataclass(frozen=True)
class Core:
    """The cheap, hash-derived facts about a conversation (no full record needed)."""

    index: int
    conversation_id: str
    start_ms: int
    end_ms: int
    long: bool
    corrected: bool
    rng_seed: int


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _phone(rng: random.Random, prefix: str = "+1") -> str:
    return f"tel:{prefix}{rng.randrange(2_000_000_000, 9_999_999_999)}"


def _strip_nones(value: Any) -> Any:
    """Drop null fields and empty arrays, as Genesys omits them from responses."""
    if isinstance(value, dict):
        return {k: _strip_nones(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_strip_nones(v) for v in value]
    return value


@dataclass
class Clip:
    """A record being assembled as seen at ``cut``: parts not yet happened are left out."""

    cut: int
    attributes: bool
    participants: list[Json] = field(default_factory=list)

    def seen(self, t: int) -> bool:
        """Whether moment ``t`` has happened by the cut."""
        return t <= self.cut

    def seg(self, seg_start: int, seg_end: int, seg_type: str, **extra: Any) -> Json | None:
        """A segment, open-ended if it has not ended yet, None if it has not started."""
        seen = self.seen
        if not seen(seg_start):
            return None
        out: Json = {"segmentStart": iso(seg_start)}
        if seen(seg_end):
            out["segmentEnd"] = iso(seg_end)
        out["segmentType"] = seg_type
        out.update(extra)
        return out

    def metric(self, name: str, value: int, emit: int) -> Json | None:
        """A metric, None until its emit moment."""
        seen = self.seen
        return {"name": name, "value": value, "emitDate": iso(emit)} if seen(emit) else None

    def session(
        self, base: Json, segments: list[Json | None], metrics: list[Json | None]
    ) -> Json | None:
        """A session of the segments and metrics seen so far (None: nothing seen)."""
        segs = [s for s in segments if s is not None]
        if not segs:
            return None
        out = dict(base)
        mets = [m for m in metrics if m is not None]
        if mets:
            out["metrics"] = mets
        out["segments"] = segs
        return out

    def participant(
        self, base: Json, sessions: list[Json | None], attrs: Json | None = None
    ) -> None:
        """Add a participant with the sessions seen so far (none: it is not there yet)."""
        attributes, participants = self.attributes, self.participants
        sess = [s for s in sessions if s is not None]
        if not sess:
            return
        out = dict(base)
        if attrs and attributes:
            out["attributes"] = attrs
        out["sessions"] = sess
        participants.append(out)
