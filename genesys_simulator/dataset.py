"""A seeded, stateless conversation dataset: every record is generated on demand.

Conversation ``i`` starts at ``start + (i * span) // N``, so start times are monotonic in
``i`` and an interval maps to an index range by arithmetic. Nothing per conversation is
stored but the small quality plans (``quality``), drawn once when a record is first built.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import quality
from .filters import conversation_matches
from .pools import Pools
from .timeutil import DAY_MS, UTC, iso, to_ms

Json = dict[str, Any]

MAX_DURATION_MS = 2 * DAY_MS
"""Upper bound of any conversation's lifetime; bounds the lifetime-overlap scan."""
CORRECTION_DELAY_MS = 2 * DAY_MS
"""A late correction becomes visible this long after the conversation started."""

_MEDIA_WEIGHTS = (("voice", 60), ("chat", 15), ("email", 10), ("message", 10), ("callback", 5))
_MEDIA_CUM: list[tuple[int, str]] = []
_acc = 0
for _name, _weight in _MEDIA_WEIGHTS:
    _acc += _weight
    _MEDIA_CUM.append((_acc, _name))

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
    ) -> None:
        """Describe the dataset; nothing is generated until asked for.

        ``lingering_every``: every n-th conversation (index 0, n, 2n, ...) is an e-mail thread
        that stays open ``lingering_days`` days, the case that must not pin a bookmark.
        """
        if conversations < 0 or days <= 0:
            raise ValueError("conversations must be >= 0 and days > 0")
        self.seed = seed
        self.start = start if start is not None else datetime(2024, 1, 1, tzinfo=UTC)
        if self.start.tzinfo is None:
            self.start = self.start.replace(tzinfo=UTC)
        self.days = days
        self.n = conversations
        self.start_ms = to_ms(self.start)
        self.span_ms = days * DAY_MS
        self.end_ms = self.start_ms + self.span_ms
        self.pools = Pools(seed)
        self.lingering_every = lingering_every
        self.lingering_ms = lingering_days * DAY_MS
        #: The longest a conversation here lasts: how far back a lifetime-overlap scan looks.
        self.max_duration_ms = max(MAX_DURATION_MS, self.lingering_ms if lingering_every else 0)
        xor_key = hashlib.blake2b(f"{seed}:ids".encode(), digest_size=6).digest()
        self._id_xor = int.from_bytes(xor_key, "big")
        #: Quality plans by conversation index (filled as records are built; drawn once).
        self._plans: dict[int, quality.Plan] = {}
        self.quality_forms = (
            quality.evaluation_forms(seed, self.start_ms),
            quality.survey_forms(seed, self.start_ms),
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
    def record(self, i: int, now_ms: int | None = None, attributes: bool = True) -> Json:  # noqa: PLR0915
        """Generate conversation ``i`` clipped to ``now_ms``; random draws never depend on it.

        Everything that has not happened by ``now_ms`` is left out: the conversation end,
        segment ends, segments, metrics and late additions such as surveys.
        """
        core = self.core(i)
        pools = self.pools
        rng = random.Random(core.rng_seed)
        start, end = core.start_ms, core.end_ms
        dur = end - start
        cut = now_ms if now_ms is not None else end + 10 * DAY_MS

        def seen(t: int) -> bool:
            return t <= cut

        # ---- draws (all unconditional so clipping never shifts the random stream)
        if core.long:
            media = "email" if rng.random() < 0.5 else "callback"
        else:
            roll = rng.randrange(100)
            media = next(name for bound, name in _MEDIA_CUM if roll < bound)
        outbound = media == "voice" and rng.random() < 0.15
        abandoned = not outbound and rng.random() < 0.07
        queue = pools.queues[rng.randrange(len(pools.queues))]
        agent = pools.users[rng.randrange(len(pools.users))]
        wrapup = pools.wrapup_codes[rng.randrange(len(pools.wrapup_codes))]
        flow = next(
            f for f in pools.flows if f["mediaType"] == ("voice" if media == "callback" else media)
        )
        note = _NOTES[rng.randrange(len(_NOTES))]
        held = media == "voice" and rng.random() < 0.2
        transferred = rng.random() < 0.05
        ivr_frac = 0.05 + rng.random() * 0.1 if media in ("voice", "callback") else 0.0
        queue_frac = 0.05 + rng.random() * 0.15
        acw_frac = 0.05 + rng.random() * 0.1
        ani = _phone(rng)
        dnis = f"tel:+1800{rng.randrange(1_000_000, 9_999_999)}"
        customer_email = f"customer{rng.randrange(10**6)}@example.org"
        mos = round(3.2 + rng.random() * 1.2, 6)
        rfactor = round(60 + rng.random() * 33, 6)
        has_tag = rng.random() < 0.1
        tag = f"EXT-{rng.randrange(10**6):06d}"
        # Drawn and unused since quality plans have their own stream; kept so the draws
        # after them do not shift.
        _ = not abandoned and rng.random() < 0.03, rng.random() < 0.04
        has_resolution = not abandoned and rng.random() < 0.03
        _ = rng.randrange(40, 101), rng.randrange(0, 11)
        acw_extra = rng.randrange(5_000, 120_000)
        lang = _LANGUAGES[rng.randrange(len(_LANGUAGES))]
        tier = _TIERS[rng.randrange(len(_TIERS))]
        intent = _INTENTS[rng.randrange(len(_INTENTS))]
        ids = [_uuid(rng) for _ in range(16)]
        edge = _uuid(rng)

        # ---- timeline
        t_ivr_end = start + int(dur * ivr_frac)
        t_queue_end = t_ivr_end + int(dur * queue_frac)
        t_alert_end = t_queue_end + min(15_000, max(1_000, dur // 30))
        t_acw_start = end - int(dur * acw_frac)
        t_talk_end = t_acw_start
        hold_start = t_alert_end + (t_talk_end - t_alert_end) // 3
        hold_end = hold_start + (t_talk_end - t_alert_end) // 6
        corrected_now = core.corrected and seen(start + CORRECTION_DELAY_MS)

        def seg(seg_start: int, seg_end: int, seg_type: str, **extra: Any) -> Json | None:
            if not seen(seg_start):
                return None
            out: Json = {"segmentStart": iso(seg_start)}
            if seen(seg_end):
                out["segmentEnd"] = iso(seg_end)
            out["segmentType"] = seg_type
            out.update(extra)
            return out

        def metric(name: str, value: int, emit: int) -> Json | None:
            return {"name": name, "value": value, "emitDate": iso(emit)} if seen(emit) else None

        def session(
            base: Json, segments: list[Json | None], metrics: list[Json | None]
        ) -> Json | None:
            segs = [s for s in segments if s is not None]
            if not segs:
                return None
            out = dict(base)
            mets = [m for m in metrics if m is not None]
            if mets:
                out["metrics"] = mets
            out["segments"] = segs
            return out

        direction = "outbound" if outbound else "inbound"
        disconnect = "peer" if transferred else _DISCONNECTS[rng.randrange(2)]
        participants: list[Json] = []

        def participant(base: Json, sessions: list[Json | None], attrs: Json | None = None) -> None:
            sess = [s for s in sessions if s is not None]
            if not sess:
                return
            out = dict(base)
            if attrs and attributes:
                out["attributes"] = attrs
            out["sessions"] = sess
            participants.append(out)

        voice_like = media in ("voice", "callback")
        customer_addr = (
            ani if voice_like else customer_email if media == "email" else f"web-{ids[15][:8]}"
        )
        endpoint_stats = (
            [
                {
                    "codecs": _CODECS[int(ids[14][:2], 16) % len(_CODECS)],
                    "minMos": mos,
                    "minRFactor": rfactor,
                    "maxLatencyMs": 20 + int(ids[14][2:4], 16) % 200,
                    "receivedPackets": dur // 20,
                    "discardedPackets": int(ids[14][4:6], 16) % 5,
                    "eventTime": iso(end),
                }
            ]
            if media == "voice" and seen(end)
            else None
        )

        # customer
        cust_base: Json = {
            "sessionId": ids[1],
            "mediaType": media,
            "direction": direction,
            "ani": ani if voice_like else customer_addr,
            "dnis": dnis
            if voice_like
            else f"{queue['name'].lower().replace(' ', '-')}@example.com",
            "addressFrom": customer_addr,
            "addressTo": dnis if voice_like else queue["name"],
            "remote": "Customer",
            "provider": "Edge" if voice_like else "PureCloud Messaging",
            "peerId": ids[5],
        }
        if voice_like:
            cust_base["edgeId"] = edge
            cust_base["protocolCallId"] = ids[13]
        if endpoint_stats:
            cust_base["mediaEndpointStats"] = endpoint_stats
        participant(
            {"participantId": ids[0], "participantName": "Customer", "purpose": "customer"},
            [
                session(
                    cust_base,
                    [seg(start, end, "interact", disconnectType=disconnect)],
                    [metric("nConnected", 1, start)],
                )
            ],
            {
                "customerTier": tier,
                "language": lang,
                "intent": intent,
                "crmContactId": f"CRM-{ids[12][:10]}",
                "journeyStep": "entry" if abandoned else "handled",
            },
        )

        # outbound agent calls skip IVR and queue
        if not outbound:
            if ivr_frac:
                flow_obj: Json = {
                    "flowId": flow["id"],
                    "flowName": flow["name"],
                    "flowType": flow["type"],
                    "flowVersion": "12.0",
                    "entryType": "dnis",
                    "entryReason": dnis,
                    "exitReason": "TRANSFER" if not abandoned else "DISCONNECT",
                    "transferType": "ACD",
                    "transferTargetAddress": queue["id"],
                    "transferTargetName": queue["name"],
                    "startingLanguage": lang,
                    "endingLanguage": lang,
                }
                if seen(t_ivr_end):
                    flow_obj["outcomes"] = [
                        {
                            "flowOutcome": f"{intent}Selected",
                            "flowOutcomeId": ids[11],
                            "flowOutcomeValue": "SUCCESS",
                            "flowOutcomeStartTimestamp": iso(start + 500),
                            "flowOutcomeEndTimestamp": iso(t_ivr_end),
                        }
                    ]
                ivr_base: Json = {
                    "sessionId": ids[3],
                    "mediaType": media,
                    "direction": "inbound",
                    "ani": ani,
                    "dnis": dnis,
                    "addressFrom": ani,
                    "addressTo": dnis,
                    "provider": "Edge",
                    "peerId": ids[1],
                    "flow": flow_obj,
                }
                participant(
                    {"participantId": ids[2], "participantName": flow["name"], "purpose": "ivr"},
                    [
                        session(
                            ivr_base,
                            [seg(start, t_ivr_end, "ivr", disconnectType="transfer")],
                            [
                                metric("tIvr", t_ivr_end - start, t_ivr_end),
                                metric("nFlow", 1, start),
                                metric("tFlow", t_ivr_end - start, t_ivr_end),
                            ],
                        )
                    ],
                    {"ivr.Selection": intent, "ivr.Language": lang},
                )
            acd_end = end if abandoned else t_queue_end
            acd_metrics = [metric("nOffered", 1, t_ivr_end)]
            if abandoned:
                acd_metrics.append(metric("tAbandon", acd_end - t_ivr_end, acd_end))
            else:
                acd_metrics.append(metric("tAnswered", t_alert_end - t_ivr_end, t_alert_end))
                acd_metrics.append(metric("tAcd", t_queue_end - t_ivr_end, t_queue_end))
            participant(
                {"participantId": ids[4], "participantName": queue["name"], "purpose": "acd"},
                [
                    session(
                        {
                            "sessionId": ids[5],
                            "mediaType": media,
                            "direction": "inbound",
                            "ani": ani if voice_like else customer_addr,
                            "dnis": dnis if voice_like else queue["name"],
                            "addressFrom": customer_addr,
                            "addressTo": queue["id"],
                            "provider": "Edge" if voice_like else "PureCloud Messaging",
                            "peerId": ids[1],
                            "usedRouting": "Standard",
                            "requestedRoutings": ["Standard"],
                            "selectedAgentId": None if abandoned else agent["id"],
                        },
                        [
                            seg(
                                t_ivr_end,
                                acd_end,
                                "interact",
                                queueId=queue["id"],
                                disconnectType="endpoint" if abandoned else "transfer",
                                requestedLanguageId=None,
                            )
                        ],
                        acd_metrics,
                    )
                ],
            )

        if not abandoned:
            a_start = start if outbound else t_queue_end
            alert_end = start + 8_000 if outbound else t_alert_end
            talk = t_talk_end - alert_end
            held_ms = hold_end - hold_start if held else 0
            acw = end - t_acw_start + (acw_extra if corrected_now else 0)
            agent_segments = [
                seg(a_start, alert_end, "dialing" if outbound else "alert", queueId=queue["id"]),
                seg(alert_end, hold_start if held else t_talk_end, "interact", queueId=queue["id"]),
            ]
            if held:
                agent_segments.append(seg(hold_start, hold_end, "hold", queueId=queue["id"]))
                agent_segments.append(seg(hold_end, t_talk_end, "interact", queueId=queue["id"]))
            agent_segments.append(
                seg(
                    t_acw_start,
                    end,
                    "wrapup",
                    queueId=queue["id"],
                    wrapUpCode=wrapup["id"],
                    wrapUpNote=f"{note} (updated after review)" if corrected_now else note,
                    disconnectType=disconnect,
                )
            )
            agent_metrics = [
                metric("tAlert", alert_end - a_start, alert_end),
                metric("nConnected", 1, alert_end),
                metric("tTalk", talk - held_ms, t_talk_end),
                metric("tTalkComplete", talk - held_ms, t_talk_end),
            ]
            if held:
                agent_metrics.append(metric("tHeld", held_ms, hold_end))
                agent_metrics.append(metric("tHeldComplete", held_ms, hold_end))
            if transferred:
                agent_metrics.append(metric("nTransferred", 1, t_talk_end))
            agent_metrics.append(metric("tAcw", acw, end))
            agent_metrics.append(metric("tHandle", talk + acw, end))
            if media in ("chat", "message"):
                agent_metrics.append(metric("tAgentResponseTime", 4_000 + dur % 30_000, t_talk_end))
            agent_base: Json = {
                "sessionId": ids[7],
                "mediaType": media,
                "direction": direction,
                "ani": ani if voice_like else customer_addr,
                "dnis": dnis if voice_like else queue["name"],
                "addressFrom": customer_addr if not outbound else f"sip:{agent['id']}@localhost",
                "addressTo": f"sip:{agent['id']}@localhost" if not outbound else ani,
                "provider": "Edge" if voice_like else "PureCloud Messaging",
                "peerId": ids[1],
                "remote": "Customer",
            }
            if voice_like:
                agent_base["edgeId"] = edge
                agent_base["recording"] = True
            if endpoint_stats:
                agent_base["mediaEndpointStats"] = endpoint_stats
            participant(
                {
                    "participantId": ids[6],
                    "participantName": agent["name"],
                    "purpose": "agent",
                    "userId": agent["id"],
                },
                [session(agent_base, agent_segments, agent_metrics)],
            )

        conv: Json = {"conversationId": core.conversation_id, "conversationStart": iso(start)}
        if seen(end):
            conv["conversationEnd"] = iso(end)
        conv["conversationInitiator"] = "agent" if outbound else "customer"
        conv["customerParticipation"] = True
        conv["divisionIds"] = [queue["divisionId"]]
        if has_tag:
            conv["externalTag"] = tag
        if media == "voice" and seen(end):
            conv["mediaStatsMinConversationMos"] = mos
            conv["mediaStatsMinConversationRFactor"] = rfactor
        conv["originatingDirection"] = direction
        conv.update(
            self._quality_fields(core, None if abandoned else agent["id"], queue["id"], cut)
        )
        resolution_time = end + DAY_MS
        if has_resolution and seen(resolution_time):
            conv["resolutions"] = [
                {
                    "queueId": queue["id"],
                    "userId": agent["id"],
                    "eventTime": iso(resolution_time),
                    "nNextContactAvoided": 1,
                }
            ]
        if participants:
            conv["participants"] = _strip_nones(participants)
        return conv

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
        return quality.detail_fields(p, cut)

    def quality_plan(self, i: int) -> quality.Plan:
        """Conversation ``i``'s evaluations and surveys with their whole timelines."""
        if i not in self._plans:
            self.record(i, attributes=False)
        return self._plans[i]

    def quality_items(self, start_ms: int, end_ms: int) -> Iterator[quality.Plan]:
        """Plans of every conversation that can have a quality event in ``[start_ms, end_ms)``."""
        first = start_ms - quality.PLAN_REACH_MS - self.max_duration_ms
        for i in self.index_range(first, end_ms):
            yield self.quality_plan(i)


def _strip_nones(value: Any) -> Any:
    """Drop null fields and empty arrays, as Genesys omits them from responses."""
    if isinstance(value, dict):
        return {k: _strip_nones(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_strip_nones(v) for v in value]
    return value
