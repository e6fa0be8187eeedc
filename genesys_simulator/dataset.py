"""A seeded, stateless conversation dataset: every record is generated on demand.

Conversation ``i`` starts at ``start + (i * span) // N``, so start times are monotonic in
``i`` and an interval maps to an index range by arithmetic. Nothing per conversation is
stored but a bounded cache of the small quality plans (``quality``), so the dataset size
does not affect memory.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from . import quality, quality_forms
from .filters import conversation_matches
from .pools import Pools
from .record_parts import CORRECTION_DELAY_MS, Core
from .records import build_record
from .timeutil import DAY_MS, UTC, to_ms

__all__ = ["CORRECTION_DELAY_MS", "MAX_DURATION_MS", "Core", "Dataset"]

Json = dict[str, Any]

MAX_DURATION_MS = 2 * DAY_MS
"""Upper bound of any conversation's lifetime; bounds the lifetime-overlap scan."""

_MAX_CACHED_PLANS = 100_000
"""Quality plans kept at most (a few hundred bytes each): memory stays flat at any size."""

_ID_MASK = (1 << 48) - 1
_ID_MULT = 0x5DEECE66D  # odd, hence invertible modulo 2**48
_ID_MULT_INV = pow(_ID_MULT, -1, 1 << 48)


def _mix48(x: int) -> int:
    """Scramble a 48-bit index so consecutive ids do not look consecutive (a bijection)."""
    x = (x * _ID_MULT) & _ID_MASK
    x ^= x >> 24
    return (x * _ID_MULT) & _ID_MASK


def _unmix48(x: int) -> int:
    """Invert ``_mix48``."""
    x = (x * _ID_MULT_INV) & _ID_MASK
    x ^= x >> 24
    return (x * _ID_MULT_INV) & _ID_MASK


class Dataset:
    """Deterministic synthetic Genesys conversations for ``days`` days from ``start``."""

    def __init__(
        self,
        seed: int = 1,
        start: datetime | None = None,
        days: int = 30,
        conversations: int = 10_000,
        *,
        lingering_every: int = 0,
        lingering_days: int = 20,
        users: int = 60,
    ) -> None:
        """Describe the dataset; nothing is generated until asked for.

        ``lingering_every``: every n-th conversation (index 0, n, 2n, ...) is an e-mail thread
        that stays open ``lingering_days`` days, the case that must not pin a bookmark.
        ``users``: the org's agents (every tenth inactive); 60 keeps every older data set.
        """
        if conversations < 0 or days <= 0 or users < 5:
            raise ValueError("conversations must be >= 0, days > 0 and users >= 5")
        self.seed = seed
        self.start = start if start is not None else datetime(2024, 1, 1, tzinfo=UTC)
        if self.start.tzinfo is None:
            self.start = self.start.replace(tzinfo=UTC)
        self.days = days
        self.n = conversations
        self.start_ms = to_ms(self.start)
        self.span_ms = days * DAY_MS
        self.end_ms = self.start_ms + self.span_ms
        self.pools = Pools(seed, users)
        self.lingering_every = lingering_every
        self.lingering_ms = lingering_days * DAY_MS
        #: The longest a conversation here lasts: how far back a lifetime-overlap scan looks.
        self.max_duration_ms = max(MAX_DURATION_MS, self.lingering_ms if lingering_every else 0)
        xor_key = hashlib.blake2b(f"{seed}:ids".encode(), digest_size=6).digest()
        self._id_xor = int.from_bytes(xor_key, "big")
        #: Quality plans by conversation index, most recently used last: drawn from their own
        #: seeded stream, so a plan evicted is drawn again the same.
        self._plans: OrderedDict[int, quality.Plan] = OrderedDict()
        self.quality_forms = (
            quality_forms.evaluation_forms(seed, self.start_ms),
            quality_forms.survey_forms(seed, self.start_ms),
        )

    def index_of(self, conversation_id: str) -> int | None:
        """Invert ``conversation_id`` to its index (None if it is not from this dataset).

        The last UUID group is a seeded bijection of the index, so lookups need no table.
        """
        try:
            tail = int(conversation_id[-12:], 16)
        except ValueError:
            return None
        i = _unmix48(tail ^ self._id_xor)
        if i >= self.n or self.core(i).conversation_id != conversation_id:
            return None
        return i

    def index_of_tail(self, tail: str) -> int | None:
        """The index whose conversation id ends with ``tail`` (survey ids share that tail)."""
        try:
            i = _unmix48(int(tail, 16) ^ self._id_xor)
        except ValueError:
            return None
        return i if 0 <= i < self.n else None

    # ----------------------------------------------------------------- index arithmetic
    def start_of(self, i: int) -> int:
        """Epoch-ms start of conversation ``i`` (monotonic in ``i``)."""
        return self.start_ms + (i * self.span_ms) // self.n

    def index_at(self, t_ms: int) -> int:
        """Smallest index whose start is ``>= t_ms`` (``n`` if none): an interval boundary."""
        if self.n == 0:
            return 0
        d = t_ms - self.start_ms
        if d <= 0:
            return 0
        return min(self.n, -(-d * self.n // self.span_ms))

    def index_range(self, start_ms: int, end_ms: int) -> range:
        """Return the indices of conversations that start in ``[start_ms, end_ms)``."""
        return range(self.index_at(start_ms), max(self.index_at(start_ms), self.index_at(end_ms)))

    # ----------------------------------------------------------------- cheap facts
    def core(self, i: int) -> Core:
        """Hash-derived id, lifetime and flags of conversation ``i``."""
        if not 0 <= i < self.n:
            raise IndexError(i)
        h = hashlib.blake2b(f"{self.seed}:{i}".encode(), digest_size=32).digest()
        hx = h[:10].hex()
        tail = _mix48(i) ^ self._id_xor
        cid = f"{hx[:8]}-{hx[8:12]}-4{hx[13:16]}-a{hx[17:20]}-{tail:012x}"
        u = int.from_bytes(h[16:24], "big")
        long = u % 10_000 < 100
        corrected = (u // 10_000) % 100 < 5
        x = ((u >> 24) % 1_000_000) / 1_000_000
        lingering = self.lingering_every > 0 and i % self.lingering_every == 0
        long = long or lingering
        if lingering:
            duration = self.lingering_ms
        elif long:
            duration = DAY_MS + int(x * (DAY_MS - 60_000))
        else:
            duration = 30_000 + int(x * x * 3_600_000) + (u >> 50) % 1000
        start = self.start_of(i)
        return Core(
            index=i,
            conversation_id=cid,
            start_ms=start,
            end_ms=start + duration,
            long=long,
            corrected=corrected,
            rng_seed=int.from_bytes(h[24:32], "big"),
        )

    def conversation_id(self, i: int) -> str:
        """Return the conversationId of conversation ``i``."""
        return self.core(i).conversation_id

    # ----------------------------------------------------------------- truth helpers
    def count(self, start: datetime, end: datetime, now: datetime | None = None) -> int:
        """How many conversations start in ``[start, end)`` (and by ``now`` if given)."""
        end_ms = to_ms(end)
        if now is not None:
            end_ms = min(end_ms, to_ms(now) + 1)
        return len(self.index_range(to_ms(start), end_ms))

    def truth_ids(
        self,
        start: datetime,
        end: datetime,
        now: datetime | None = None,
        conversation_filters: Sequence[Mapping[str, Any]] | None = None,
        segment_filters: Sequence[Mapping[str, Any]] | None = None,
    ) -> Iterator[str]:
        """Yield ids of conversations started in ``[start, end)`` by ``now`` that pass filters."""
        end_ms = to_ms(end)
        now_ms = None if now is None else to_ms(now)
        if now_ms is not None:
            end_ms = min(end_ms, now_ms + 1)
        for i in self.index_range(to_ms(start), end_ms):
            if conversation_filters or segment_filters:
                record = self.record(i, now_ms)
                if not conversation_matches(record, conversation_filters, segment_filters):
                    continue
                yield record["conversationId"]
            else:
                yield self.core(i).conversation_id

    def conversation(self, i: int, now: datetime | None = None, attributes: bool = True) -> Json:
        """Conversation ``i`` as the API shows it at ``now`` (None: its final version)."""
        return self.record(i, None if now is None else to_ms(now), attributes=attributes)

    # ----------------------------------------------------------------- record generation
    def record(self, i: int, now_ms: int | None = None, attributes: bool = True) -> Json:
        """Generate conversation ``i`` clipped to ``now_ms`` (see ``records.build_record``)."""
        return build_record(self.core(i), self.pools, self._quality_fields, now_ms, attributes)

    # ----------------------------------------------------------------- quality
    def _quality_fields(self, core: Core, agent_id: str | None, queue_id: str, cut: int) -> Json:
        """The ``evaluations[]``/``surveys[]`` of a record, from the conversation's quality plan.

        Kept apart from the record builder: the plan and its timeline live in ``quality``.
        A corrected conversation gets a second survey, sent when the correction lands.
        """
        p = self._plans.get(core.index)
        if p is None:
            extra = core.start_ms + CORRECTION_DELAY_MS if core.corrected else None
            p = quality.plan(
                self.seed,
                core.index,
                (core.conversation_id, core.start_ms, core.end_ms),
                agent_id=agent_id,
                queue_id=queue_id,
                extra_survey_at=extra,
                forms=self.quality_forms,
                evaluators=[u["id"] for u in self.pools.users[:5]],
            )
            self._plans[core.index] = p
            if len(self._plans) > _MAX_CACHED_PLANS:
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(core.index)
        return quality.detail_fields(p, cut)

    def quality_plan(self, i: int) -> quality.Plan:
        """Conversation ``i``'s evaluations and surveys with their whole timelines."""
        p = self._plans.get(i)
        if p is None:
            self.record(i, attributes=False)
            p = self._plans[i]
        return p

    def quality_items(self, start_ms: int, end_ms: int) -> Iterator[quality.Plan]:
        """Plans of every conversation that can have a quality event in ``[start_ms, end_ms)``."""
        first = start_ms - quality.PLAN_REACH_MS - self.max_duration_ms
        for i in self.index_range(first, end_ms):
            yield self.quality_plan(i)
