"""``build_record``: one conversation as the Analytics API shows it at a moment.

Every random draw of a conversation is made here, in one fixed order, before anything is
clipped, so what a record shows at ``now_ms`` never shifts the stream; the shaping lives in
``record_parts`` (vocabulary, ``Clip``) and ``outcomes`` (queue outcomes, agent visits).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from .channel_flags import MESSAGING_INACTIVITY_MS, messaging_customer_fields
from .conference import conference_start, external_party, split
from .directory import SHORT_ABANDON_MS, TIMEOUT_WRAPUP
from .outcomes import Scene
from .pools import Pools
from .record_parts import (
    _CODECS,
    _DISCONNECTS,
    _INTENTS,
    _LANGUAGES,
    _MEDIA_CUM,
    _NOTES,
    _TIERS,
    CORRECTION_DELAY_MS,
    Clip,
    Core,
    _phone,
    _strip_nones,
    _uuid,
)
from .timeutil import DAY_MS, iso

Json = dict[str, Any]


QualityFields = Callable[[Core, "str | None", str, int], Json]
"""The ``evaluations[]``/``surveys[]`` of a record: (core, agent id, queue id, cut) -> fields."""


def build_record(  # noqa: PLR0915
    core: Core,
    pools: Pools,
    quality_fields: QualityFields,
    now_ms: int | None = None,
    attributes: bool = True,
) -> Json:
    """Generate conversation ``core`` clipped to ``now_ms``; random draws never depend on it.

    Everything that has not happened by ``now_ms`` is left out: the conversation end,
    segment ends, segments, metrics and late additions such as surveys.
    """
    rng = random.Random(core.rng_seed)
    start, end = core.start_ms, core.end_ms
    dur = end - start
    cut = now_ms if now_ms is not None else end + 10 * DAY_MS
    clip = Clip(cut, attributes)
    seen, seg, metric, session, participant = (
        clip.seen,
        clip.seg,
        clip.metric,
        clip.session,
        clip.participant,
    )

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
    # Queue outcomes beyond answer/abandon, drawn after every older draw so the facts
    # above stay what they were for a seed.
    flow_out = not outbound and not abandoned and rng.random() < 0.04
    short_abandon = abandoned and rng.random() < 0.35
    short_wait = rng.randrange(1_000, SHORT_ABANDON_MS)
    not_responding = not outbound and not abandoned and not flow_out and rng.random() < 0.08
    to_queue = transferred and not outbound and not abandoned and not flow_out
    more_ids = [_uuid(rng) for _ in range(6)]
    second_queue = pools.queues[(pools.queues.index(queue) + 1) % len(pools.queues)]
    missed_agent = pools.users[(pools.users.index(agent) + 1) % len(pools.users)]
    second_agent = pools.users[(pools.users.index(agent) + 2) % len(pools.users)]

    # ---- timeline
    t_ivr_end = start + int(dur * ivr_frac)
    if short_abandon:
        t_ivr_end = end - short_wait
    t_queue_end = t_ivr_end + int(dur * queue_frac)
    t_alert_end = t_queue_end + min(15_000, max(1_000, dur // 30))
    t_acw_start = end - int(dur * acw_frac)
    t_talk_end = t_acw_start
    hold_start = t_alert_end + (t_talk_end - t_alert_end) // 3
    hold_end = hold_start + (t_talk_end - t_alert_end) // 6
    corrected_now = core.corrected and seen(start + CORRECTION_DELAY_MS)
    plain_answer = not (outbound or abandoned or flow_out or to_queue or held)
    conf = conference_start(ids, media == "voice" and plain_answer, (t_alert_end, t_talk_end))

    direction = "outbound" if outbound else "inbound"
    disconnect = "peer" if transferred else _DISCONNECTS[rng.randrange(2)]
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

    scene = Scene(
        clip=clip,
        media=media,
        start=start,
        dur=dur,
        outbound=outbound,
        direction=direction,
        queue=queue,
        agent=agent,
        ani=ani,
        dnis=dnis,
        voice_like=voice_like,
        customer_addr=customer_addr,
        ids=ids,
        edge=edge,
        endpoint_stats=endpoint_stats,
        pools=pools,
    )
    acd_visit = scene.acd_visit
    handle_metrics = scene.handle_metrics
    agent_visit = scene.agent_visit
    ivr_visit = scene.ivr_visit

    # customer
    cust_base: Json = {
        "sessionId": ids[1],
        "mediaType": media,
        "direction": direction,
        "ani": ani if voice_like else customer_addr,
        "dnis": dnis if voice_like else f"{queue['name'].lower().replace(' ', '-')}@example.com",
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
    cust_base.update(messaging_customer_fields(media, ids))
    participant(
        {"participantId": ids[0], "participantName": "Customer", "purpose": "customer"},
        [
            session(
                cust_base,
                split(seg, (start, end), "interact", conf, {"disconnectType": disconnect}),
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
            ivr_visit(flow, t_ivr_end, abandoned, lang, intent)
        if abandoned:
            acd_exit, outcome = end, "abandoned"
        elif flow_out:
            acd_exit, outcome = t_queue_end, "flowout"
        else:
            acd_exit, outcome = t_queue_end, "answered"
        acd_visit((ids[4], ids[5]), queue, (t_ivr_end, acd_exit), t_alert_end, outcome)
        if not_responding:
            # A first agent is alerted while the interaction waits and lets it time out;
            # the system wraps the alert up (REC: tAcw and tHandle, no tAnswered).
            nr_start = t_ivr_end + (t_queue_end - t_ivr_end) // 4
            nr_end = t_ivr_end + 3 * (t_queue_end - t_ivr_end) // 4
            agent_visit(
                more_ids[0],
                more_ids[1],
                missed_agent,
                [
                    seg(nr_start, nr_end, "alert", queueId=queue["id"]),
                    seg(
                        nr_end,
                        nr_end + 3_000,
                        "wrapup",
                        queueId=queue["id"],
                        wrapUpCode=TIMEOUT_WRAPUP,
                        disconnectType="system",
                    ),
                ],
                [
                    metric("tAlert", nr_end - nr_start, nr_end),
                    metric("tNotResponding", nr_end - nr_start, nr_end),
                    metric("tAcw", 3_000, nr_end + 3_000),
                    metric("tHandle", 3_000, nr_end + 3_000),
                ],
            )

    if not abandoned and not flow_out:
        a_start = start if outbound else t_queue_end
        alert_end = start + 8_000 if outbound else t_alert_end
        span = t_talk_end - t_alert_end
        # A transfer to another queue ends the first agent's talk halfway (after any hold).
        a_talk_end = t_alert_end + span // 2 if to_queue else t_talk_end
        held_ms = hold_end - hold_start if held else 0
        if to_queue:
            a_acw_start, a_acw_end = a_talk_end, a_talk_end + 2_000 + span // 20
            a_acw = a_acw_end - a_acw_start
        else:
            a_acw_start, a_acw_end = t_acw_start, end
            a_acw = end - t_acw_start + (acw_extra if corrected_now else 0)
        if outbound:
            agent_segments = [
                seg(start, start + 3_000, "dialing", queueId=queue["id"]),
                seg(start + 3_000, alert_end, "contacting", queueId=queue["id"]),
            ]
        else:
            agent_segments = [seg(a_start, alert_end, "alert", queueId=queue["id"])]
        agent_segments.extend(
            split(
                seg,
                (alert_end, hold_start if held else a_talk_end),
                "interact",
                conf,
                {},
                queueId=queue["id"],
            )
        )
        if held:
            agent_segments.append(seg(hold_start, hold_end, "hold", queueId=queue["id"]))
            agent_segments.append(seg(hold_end, a_talk_end, "interact", queueId=queue["id"]))
        agent_segments.append(
            seg(
                a_acw_start,
                a_acw_end,
                "wrapup",
                queueId=queue["id"],
                wrapUpCode=wrapup["id"],
                wrapUpNote=f"{note} (updated after review)"
                if corrected_now and not to_queue
                else note,
                disconnectType="transfer" if to_queue else disconnect,
            )
        )
        agent_visit(
            ids[6],
            ids[7],
            agent,
            agent_segments,
            handle_metrics(
                entry=t_ivr_end,
                alert_start=a_start,
                answer=alert_end,
                talk_end=a_talk_end,
                held_ms=held_ms,
                hold_end=hold_end,
                acw=a_acw,
                acw_end=a_acw_end,
                transfers=transferred,
            ),
        )
        if conf is not None:
            participant(*external_party(clip, ids, edge, agent["id"], (conf, t_talk_end)))
        if to_queue:
            # The transfer is a new offer in the second queue, answered by another agent.
            b_entry = a_talk_end
            b_alert = b_entry + max(1_000, span // 8)
            b_answer = b_alert + min(10_000, max(1_000, span // 30))
            b_acw = end - t_acw_start + (acw_extra if corrected_now else 0)
            acd_visit(
                (more_ids[2], more_ids[3]),
                second_queue,
                (b_entry, b_alert),
                b_answer,
                "answered",
            )
            agent_visit(
                more_ids[4],
                more_ids[5],
                second_agent,
                [
                    seg(b_alert, b_answer, "alert", queueId=second_queue["id"]),
                    seg(b_answer, t_talk_end, "interact", queueId=second_queue["id"]),
                    seg(
                        t_acw_start,
                        end,
                        "wrapup",
                        queueId=second_queue["id"],
                        wrapUpCode=wrapup["id"],
                        wrapUpNote=f"{note} (updated after review)" if corrected_now else note,
                        disconnectType=disconnect,
                    ),
                ],
                handle_metrics(
                    entry=b_entry,
                    alert_start=b_alert,
                    answer=b_answer,
                    talk_end=t_talk_end,
                    held_ms=0,
                    hold_end=0,
                    acw=b_acw,
                    acw_end=end,
                    transfers=False,
                ),
            )

    conv: Json = {"conversationId": core.conversation_id, "conversationStart": iso(start)}
    if conf is not None and seen(conf):
        conv["conferenceStart"] = iso(conf)
    if seen(end):
        conv["conversationEnd"] = iso(end)
        if media == "message":
            conv["inactivityTimeout"] = iso(end + MESSAGING_INACTIVITY_MS)
    conv["conversationInitiator"] = "agent" if outbound else "customer"
    conv["customerParticipation"] = True
    conv["divisionIds"] = [queue["divisionId"]]
    if has_tag:
        conv["externalTag"] = tag
    if media == "voice" and seen(end):
        conv["mediaStatsMinConversationMos"] = mos
        conv["mediaStatsMinConversationRFactor"] = rfactor
    conv["originatingDirection"] = direction
    conv.update(quality_fields(core, None if abandoned else agent["id"], queue["id"], cut))
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
    if clip.participants:
        conv["participants"] = _strip_nones(clip.participants)
    return conv
