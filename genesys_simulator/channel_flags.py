"""Channel-specific session fields: scheduled and agent-owned callbacks, messaging details.

The Analytics API fills these only on the conversations they concern: a callback's acd session
carries ``callbackScheduledTime`` when the customer picked a later time (and ``agentOwned`` when
the queue lets agents own callbacks), a messaging customer's session says whether the customer
authenticated, how many media items the messages carried and whether delivery was pushed, and
an agent whose screen a recording policy captured is marked ``screenRecording``.
Every choice reads hex digits of ids the conversation already drew (``ids[8]``..``ids[11]``,
unused elsewhere), so no random draw shifts and every other conversation stays as it was.
"""

from __future__ import annotations

from typing import Any

from .timeutil import iso

Json = dict[str, Any]
#: Messaging conversations stay open this long after the last message (the API's default).
MESSAGING_INACTIVITY_MS = 72 * 3_600_000


def _digit(uuid: str, at: int) -> int:
    return int(uuid[at : at + 2], 16)


def agent_owned_queue(pools_queues: list[Json], queue: Json) -> bool:
    """Whether ``queue`` lets agents own callbacks (``queue_config._agent_owned``)."""
    return pools_queues.index(queue) % 3 == 0


def callback_fields(media: str, ids: list[str], queue_entry: int, agent_owned: bool) -> Json:
    """Fields of a callback's acd session: half of the callbacks are scheduled."""
    if media != "callback" or _digit(ids[8], 0) % 2:
        return {}
    out: Json = {"callbackScheduledTime": iso(queue_entry)}
    if agent_owned:
        out["agentOwned"] = True
    return out


def messaging_customer_fields(media: str, ids: list[str]) -> Json:
    """Fields of a messaging customer's session (web messenger, mobile push, attachments)."""
    if media != "message":
        return {}
    out: Json = {}
    if _digit(ids[9], 0) % 4 == 0:
        out["authenticated"] = True
    if _digit(ids[9], 2) % 3 == 0:
        out["deliveryPushed"] = True
    if _digit(ids[10], 0) % 5 == 0:
        out["mediaCount"] = 1 + _digit(ids[10], 2) % 3
    return out


def screen_recorded(session_id: str, segments: list[Json | None]) -> bool:
    """Whether a screen recording ran for an agent: one connected session in five.

    A recording policy captures the agent's screen from the moment the agent connects, so an
    agent who was only alerted (or whose interact segment has not happened yet) has none.
    """
    connected = any(s is not None and s["segmentType"] == "interact" for s in segments)
    return connected and _digit(session_id, 0) % 5 == 0
