"""How a conversation leaves a queue, and the agent visits that follow: record builders.

``records.build_record`` calls these with the ``Scene`` of one conversation; each adds a
participant to the scene's ``Clip``. None of them draws from the random stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .channel_flags import agent_owned_queue, callback_fields, screen_recorded
from .directory import SHORT_ABANDON_MS, service_level_ms
from .flows import catalogue
from .pools import Pools
from .record_parts import Clip
from .timeutil import iso

Json = dict[str, Any]


@dataclass(frozen=True)
class Scene:
    """What every participant of one conversation shares (drawn once by ``build_record``)."""

    clip: Clip
    media: str
    start: int
    dur: int
    outbound: bool
    direction: str
    queue: Json
    agent: Json
    ani: str
    dnis: str
    voice_like: bool
    customer_addr: str
    ids: list[str]
    edge: str
    endpoint_stats: list[Json] | None
    pools: Pools

    @property
    def call(self) -> tuple[str, str, str, bool, str, list[str], Json]:
        """The addressing facts most sessions repeat."""
        return (
            self.media,
            self.ani,
            self.dnis,
            self.voice_like,
            self.customer_addr,
            self.ids,
            self.agent,
        )

    def acd_visit(
        self, ids_: tuple[str, str], q: Json, span: tuple[int, int], answer: int, outcome: str
    ) -> None:
        """One queue visit: its offer and how it left the queue, on the acd session."""
        media, ani, dnis, voice_like, customer_addr, ids, agent = self.call
        seg, metric, participant, session = (
            self.clip.seg,
            self.clip.metric,
            self.clip.participant,
            self.clip.session,
        )
        (pid, sid), (entry, exit_) = ids_, span
        mets = [metric("nOffered", 1, entry)]
        if outcome == "answered":
            mets.append(metric("tAcd", exit_ - entry, exit_))
            if answer - entry > service_level_ms(q, media):
                mets.append(metric("nOverSla", 1, answer))
        elif outcome == "abandoned":
            mets.append(metric("tAbandon", exit_ - entry, exit_))
            if exit_ - entry < SHORT_ABANDON_MS:
                mets.append(metric("tShortAbandon", exit_ - entry, exit_))
        else:
            mets.append(metric("tFlowOut", exit_ - entry, exit_))
        participant(
            {"participantId": pid, "participantName": q["name"], "purpose": "acd"},
            [
                session(
                    {
                        "sessionId": sid,
                        "mediaType": media,
                        "direction": "inbound",
                        "ani": ani if voice_like else customer_addr,
                        "dnis": dnis if voice_like else q["name"],
                        "addressFrom": customer_addr,
                        "addressTo": q["id"],
                        "provider": "Edge" if voice_like else "PureCloud Messaging",
                        "peerId": ids[1],
                        "usedRouting": "Standard",
                        "requestedRoutings": ["Standard"],
                        "selectedAgentId": agent["id"] if outcome == "answered" else None,
                        # Who routing offered the interaction to, and the group behind it
                        # (AnalyticsProposedAgent, AnalyticsAgentGroup); no extra draws.
                        "proposedAgents": [{"agentRank": 1, "proposedAgentId": agent["id"]}]
                        if outcome == "answered"
                        else None,
                        "agentGroups": [
                            {
                                "agentGroupId": self.pools.groups[
                                    self.pools.queues.index(q) % len(self.pools.groups)
                                ]["id"],
                                "agentGroupType": "Group",
                            }
                        ],
                        **callback_fields(
                            media, ids, entry, agent_owned_queue(self.pools.queues, q)
                        ),
                    },
                    [
                        seg(
                            entry,
                            exit_,
                            "interact",
                            queueId=q["id"],
                            disconnectType="endpoint" if outcome == "abandoned" else "transfer",
                            requestedLanguageId=None,
                        )
                    ],
                    mets,
                )
            ],
        )

    def handle_metrics(
        self,
        *,
        entry: int,
        alert_start: int,
        answer: int,
        talk_end: int,
        held_ms: int,
        hold_end: int,
        acw: int,
        acw_end: int,
        transfers: bool,
    ) -> list[Json | None]:
        """An answering agent's emissions: answer, talk, hold, transfer, wrap-up, handle."""
        media, start, outbound, metric = self.media, self.start, self.outbound, self.clip.metric
        dur = self.dur
        talk = talk_end - answer
        if outbound:
            mets = [
                metric("nOutbound", 1, start),
                metric("tDialing", 3_000, start + 3_000),
                metric("tContacting", answer - start - 3_000, answer),
            ]
            dial = answer - start
        else:
            mets = [
                metric("tAlert", answer - alert_start, answer),
                metric("tAnswered", answer - entry, answer),
            ]
            dial = 0
        mets.append(metric("tTalk", talk - held_ms, talk_end))
        mets.append(metric("tTalkComplete", talk - held_ms, talk_end))
        if held_ms:
            mets.append(metric("tHeld", held_ms, hold_end))
            mets.append(metric("tHeldComplete", held_ms, hold_end))
        if transfers:
            mets.append(metric("nTransferred", 1, talk_end))
        mets.append(metric("tAcw", acw, acw_end))
        mets.append(metric("tHandle", dial + talk + acw, acw_end))
        if media in ("chat", "message"):
            mets.append(metric("tAgentResponseTime", 4_000 + dur % 30_000, talk_end))
        return mets

    def agent_visit(
        self, pid: str, sid: str, user: Json, segments: list[Json | None], mets: list[Json | None]
    ) -> None:
        """One agent's participant and session (alerted, answering or not)."""
        media, ani, dnis, voice_like, customer_addr, ids, _ = self.call
        participant, session, queue, direction = (
            self.clip.participant,
            self.clip.session,
            self.queue,
            self.direction,
        )
        outbound, edge, endpoint_stats = self.outbound, self.edge, self.endpoint_stats
        base: Json = {
            "sessionId": sid,
            "mediaType": media,
            "direction": direction,
            "ani": ani if voice_like else customer_addr,
            "dnis": dnis if voice_like else queue["name"],
            "addressFrom": customer_addr if not outbound else f"sip:{user['id']}@localhost",
            "addressTo": f"sip:{user['id']}@localhost" if not outbound else ani,
            "provider": "Edge" if voice_like else "PureCloud Messaging",
            "peerId": ids[1],
            "remote": "Customer",
        }
        if voice_like:
            base["edgeId"] = edge
            base["recording"] = True
        if endpoint_stats:
            base["mediaEndpointStats"] = endpoint_stats
        agent: Json = {
            "participantId": pid,
            "participantName": user["name"],
            "purpose": "agent",
            "userId": user["id"],
        }
        if screen_recorded(sid, segments):
            agent["screenRecording"] = True
        participant(agent, [session(base, segments, mets)])

    def ivr_visit(
        self, flow: Json, t_ivr_end: int, abandoned: bool, lang: str, intent: str
    ) -> None:
        """The IVR flow the customer passes before the queue, with its outcome once it ends."""
        media, ani, dnis, _, _, ids, _ = self.call
        queue, start, seen, seg = self.queue, self.start, self.clip.seen, self.clip.seg
        metric, participant, session = self.clip.metric, self.clip.participant, self.clip.session
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
            # The org's outcome for the caller's intent (``flows.Catalogue``); a caller who hung
            # up never got where the outcome leads, so it failed.
            outcome = catalogue(self.pools.seed).outcome_for(intent)
            flow_obj["outcomes"] = [
                {
                    "flowOutcome": outcome["name"],
                    "flowOutcomeId": outcome["id"],
                    "flowOutcomeValue": "FAILURE" if abandoned else "SUCCESS",
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
