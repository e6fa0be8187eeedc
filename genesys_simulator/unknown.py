"""A field the API adds after the tap's schemas were generated, at every level of a record.

Genesys adds fields to its models over time; a tap built against an older model then
receives properties its schema does not declare. Behind the ``unknown_fields`` switch every
object of a served record (the conversation or user detail, each participant, session,
segment, metric, flow, outcome, media endpoint stat, presence and routing status, …) gains
one such field.
"""

from __future__ import annotations

from typing import Any

#: The name no SDK model defines, so no schema of the tap declares it.
UNKNOWN_FIELD = "fieldAddedLater"


def add_unknown_fields(value: Any) -> int:
    """Add :data:`UNKNOWN_FIELD` to every object inside ``value``, in place; return how many."""
    added = 0
    if isinstance(value, dict):
        for child in value.values():
            added += add_unknown_fields(child)
        value[UNKNOWN_FIELD] = "served by a newer API"
        added += 1
    elif isinstance(value, list):
        for child in value:
            added += add_unknown_fields(child)
    return added
