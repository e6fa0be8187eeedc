"""Unit tests for per-chunk exact duplicate detection."""

from __future__ import annotations

import random
import sys
import uuid

import pytest

from tap_genesys_analytics.extract.dedup import Deduplicator, compact_key

CONVERSATION = "0c3b7d8e-1f2a-4b5c-8d9e-0a1b2c3d4e5f"


def random_uuids(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def test_first_time_then_repeats_are_dropped() -> None:
    dedup = Deduplicator()
    assert dedup.first_time(CONVERSATION) is True
    assert dedup.first_time(CONVERSATION) is False
    assert dedup.first_time(CONVERSATION) is False
    assert dedup.dropped == 2
    assert len(dedup) == 1


def test_many_distinct_uuids_all_pass_and_all_repeats_drop() -> None:
    keys = random_uuids(1, 5000)
    assert len(set(keys)) == 5000
    dedup = Deduplicator()
    assert all(dedup.first_time(k) for k in keys)
    assert len(dedup) == 5000
    assert dedup.dropped == 0
    shuffled = keys[:]
    random.Random(2).shuffle(shuffled)
    assert not any(dedup.first_time(k) for k in shuffled)
    assert dedup.dropped == 5000
    assert len(dedup) == 5000


def test_uuids_one_bit_apart_never_collide() -> None:
    base = uuid.UUID(CONVERSATION).int
    neighbours = [str(uuid.UUID(int=base ^ (1 << bit))) for bit in range(128)]
    dedup = Deduplicator()
    assert dedup.first_time(CONVERSATION)
    assert all(dedup.first_time(k) for k in neighbours)
    assert len(dedup) == 129
    assert dedup.dropped == 0


def test_interleaved_stream_drops_exactly_the_repeats() -> None:
    rng = random.Random(3)
    pool = random_uuids(4, 300) + [f"user-{i}" for i in range(100)] + ["", "x"]
    stream = [rng.choice(pool) for _ in range(3000)]
    dedup = Deduplicator()
    kept = [k for k in stream if dedup.first_time(k)]
    assert kept == list(dict.fromkeys(stream))  # first occurrences, in order
    assert dedup.dropped == len(stream) - len(kept)


@pytest.mark.parametrize(
    "key",
    [
        "user-42",
        "",
        "  ",
        "not-a-uuid-0c3b7d8e",
        "12345",
        "é",
        "0c3b7d8e-1f2a-4b5c-8d9e-0a1b2c3d4e5",
    ],
)
def test_non_uuid_keys_work(key: str) -> None:
    dedup = Deduplicator()
    assert dedup.first_time(key) is True
    assert dedup.first_time(key) is False
    assert dedup.first_time(key + "!") is True
    assert compact_key(key) == key


def test_a_string_key_never_collides_with_a_uuid() -> None:
    as_int = uuid.UUID(CONVERSATION).int
    dedup = Deduplicator()
    assert dedup.first_time(CONVERSATION)
    assert dedup.first_time(str(as_int))  # the UUID's number as text is another key
    assert dedup.first_time(hex(as_int))
    assert dedup.dropped == 0


def test_reset_starts_a_new_chunk_but_keeps_the_dropped_tally() -> None:
    dedup = Deduplicator()
    dedup.first_time(CONVERSATION)
    dedup.first_time(CONVERSATION)
    dedup.first_time("user-1")
    dedup.reset()
    assert len(dedup) == 0
    assert dedup.first_time(CONVERSATION) is True
    assert dedup.first_time("user-1") is True
    assert dedup.dropped == 1


def test_uuids_are_stored_compactly() -> None:
    key = compact_key(CONVERSATION)
    assert key == uuid.UUID(CONVERSATION).int
    assert isinstance(key, int)
    assert sys.getsizeof(key) < sys.getsizeof(CONVERSATION)
