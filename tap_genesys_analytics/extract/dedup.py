"""Exact duplicate detection, scoped to one chunk.

Every conversation has one ``conversationStart``, so it belongs to exactly one chunk; repeats
only come from inside a chunk (cursor drift, a page retried half-way, a job submitted again).
A per-chunk set of exact keys is therefore enough: no false positives (unlike a Bloom filter,
which would drop real records), and memory bounded by the largest chunk, not the whole run.
"""

from __future__ import annotations

from collections.abc import Hashable

UUID_LENGTH = 36
UUID_DIGITS = 32


def compact_key(value: str) -> Hashable:
    """A UUID as its 128-bit integer (about half the memory of the string), else the string.

    Only the canonical 8-4-4-4-12 form of ASCII hex digits is turned into a number (as
    ``uuid.UUID(value).int`` would, a quarter of its cost): anything else stays a string, so two
    different keys never share a number.
    """
    if len(value) == UUID_LENGTH and value[8] == value[13] == value[18] == value[23] == "-":
        digits = value.replace("-", "")
        if len(digits) == UUID_DIGITS and digits.isascii() and digits.isalnum():
            try:
                return int(digits, 16)
            except ValueError:
                return value
    return value


class Deduplicator:
    """Remembers the keys seen in the current chunk."""

    def __init__(self) -> None:
        self._seen: set[Hashable] = set()
        self.dropped = 0

    def first_time(self, key: str) -> bool:
        """True the first time ``key`` is offered in this chunk, False for every repeat."""
        compact = compact_key(key)
        if compact in self._seen:
            self.dropped += 1
            return False
        self._seen.add(compact)
        return True

    def reset(self) -> None:
        """Start a new chunk."""
        self._seen = set()

    def __len__(self) -> int:
        return len(self._seen)
