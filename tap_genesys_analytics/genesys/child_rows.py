"""Flat child tables of a conversation, built from the record already parsed.

Participants, sessions, segments and metrics become rows keyed like Genesys' conversation
model in SQL (``conversationId`` + ``participantId`` [+ ``sessionId`` [+ segment start and type |
metric name and emitDate]]), each carrying ``conversationId`` and ``conversationStart``. Every
field of a level is a column of its table; lists that are not flattened stay JSON columns.
Pure functions: nothing here downloads or writes anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Record = dict[str, Any]

#: Session fields whose items are rows of their own tables. Every other field, nested lists
#: such as ``mediaEndpointStats``, ``proposedAgents`` and ``agentGroups`` included, stays a
#: (JSON) column of the session row, so a warehouse that loads only child tables loses nothing.
SESSION_NESTED = frozenset({"segments", "metrics"})


def _base(conversation: Record) -> Record:
    return {
        "conversationId": conversation.get("conversationId"),
        "conversationStart": conversation.get("conversationStart"),
    }


def participants(conversation: Record) -> Iterator[Record]:
    """One row per participant, without its sessions."""
    base = _base(conversation)
    for participant in conversation.get("participants") or ():
        row = {k: v for k, v in participant.items() if k != "sessions"}
        row.update(base)
        yield row


def sessions(conversation: Record) -> Iterator[Record]:
    """One row per session, with its participant's id; segments and metrics have own tables."""
    base = _base(conversation)
    for participant in conversation.get("participants") or ():
        pid = participant.get("participantId")
        for session in participant.get("sessions") or ():
            row = {k: v for k, v in session.items() if k not in SESSION_NESTED}
            row.update(base)
            row["participantId"] = pid
            yield row


def segments(conversation: Record) -> Iterator[Record]:
    """One row per segment, with its participant's and session's ids."""
    yield from _session_items(conversation, "segments")


def metrics(conversation: Record) -> Iterator[Record]:
    """One row per session metric (``name``, ``value``, ``emitDate``)."""
    yield from _session_items(conversation, "metrics")


def _session_items(conversation: Record, key: str) -> Iterator[Record]:
    base = _base(conversation)
    for participant in conversation.get("participants") or ():
        pid = participant.get("participantId")
        for session in participant.get("sessions") or ():
            sid = session.get("sessionId")
            for item in session.get(key) or ():
                row = dict(item)
                row.update(base)
                row["participantId"] = pid
                row["sessionId"] = sid
                yield row
