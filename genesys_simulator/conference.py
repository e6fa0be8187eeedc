"""Conferences: one answered inbound call in 25 becomes a three-party conference.

Halfway through the talk the agent adds an outside specialist: from that moment the
customer's and the agent's segments are conference segments (``conference`` true, split at
the moment it began), an ``external`` participant joins until the talk ends, and the
conversation carries ``conferenceStart``. Which call, and every id of the new participant,
reads ids the conversation already drew (``ids[11]``), so no random draw shifts and every
other conversation stays as it was. Talk, hold and handle times are unchanged: a conference
splits a segment, it adds no time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .quality_forms import uid
from .record_parts import Clip

Json = dict[str, Any]
Seg = Callable[..., "Json | None"]


def conference_start(ids: list[str], eligible: bool, talk: tuple[int, int]) -> int | None:
    """When the call becomes a conference (None: it never does)."""
    if not eligible or int(ids[11][:2], 16) % 25:
        return None
    return talk[0] + (talk[1] - talk[0]) // 2


def split(
    seg: Seg, span: tuple[int, int], seg_type: str, conf: int | None, last: Json, **extra: Any
) -> list[Json | None]:
    """One segment, or two split at ``conf`` with the second a conference one.

    ``last`` holds what only the final segment carries (its disconnect, say).
    """
    if conf is None or not span[0] < conf < span[1]:
        return [seg(span[0], span[1], seg_type, **extra, **last)]
    return [
        seg(span[0], conf, seg_type, **extra),
        seg(conf, span[1], seg_type, conference=True, **extra, **last),
    ]


def external_party(
    clip: Clip,
    ids: list[str],
    edge: str,
    agent_id: str,
    span: tuple[int, int],
) -> tuple[Json, list[Json | None]]:
    """The specialist's participant and session, as ``Clip.participant`` takes them."""
    number = f"tel:+1555{int(ids[11][2:8], 16) % 10_000_000:07d}"
    base: Json = {
        "sessionId": uid(ids[11], "conference-session"),
        "mediaType": "voice",
        "direction": "outbound",
        "ani": number,
        "dnis": number,
        "addressFrom": f"sip:{agent_id}@localhost",
        "addressTo": number,
        "provider": "Edge",
        "edgeId": edge,
        "peerId": ids[7],
        "remote": "Tier 2 Specialist",
    }
    segments = [clip.seg(span[0], span[1], "interact", conference=True, disconnectType="peer")]
    participant = {
        "participantId": uid(ids[11], "conference-participant"),
        "participantName": "Tier 2 Specialist",
        "purpose": "external",
    }
    return participant, [clip.session(base, segments, [])]
