"""Optional queue configuration as ``GET /api/v2/routing/queues`` returns it.

Real orgs configure queues unevenly: every queue carries its after-call-work and
agent-owned-routing settings (the API lists them at their defaults), while bullseye rings,
conditional group routing or activation, in-queue flows, prompts, scripts, direct routing and
outbound addresses appear only on the queues that use them. Which queue uses what follows from
its position in the pool, so the listing is the same on every run. A queue uses conditional
group routing or conditional group activation, never both (the API refuses the second).
"""

from __future__ import annotations

from typing import Any

from .pools import Pools, stable_uuid

Json = dict[str, Any]

#: ``acwSettings.wrapupPrompt`` values in use; the timeout ones carry ``timeoutMs``.
_WRAPUP_PROMPTS = ("OPTIONAL", "MANDATORY", "MANDATORY_TIMEOUT", "MANDATORY_FORCED_TIMEOUT")
#: Keys of ``defaultScripts``: the communication types a script is the default for.
_SCRIPT_MEDIA = ("CALL", "CALLBACK", "EMAIL", "MESSAGE")


def _ref(entity_id: str, name: str, path: str) -> Json:
    return {"id": entity_id, "name": name, "selfUri": f"{path}/{entity_id}"}


def _member_group(pools: Pools, index: int) -> Json:
    group = pools.groups[index % len(pools.groups)]
    return {
        "id": group["id"],
        "name": group["name"],
        "type": "GROUP",
        "selfUri": f"/api/v2/groups/{group['id']}",
    }


def _acw(k: int) -> Json:
    prompt = _WRAPUP_PROMPTS[k % len(_WRAPUP_PROMPTS)]
    out: Json = {"wrapupPrompt": prompt}
    if "TIMEOUT" in prompt:
        out["timeoutMs"] = 30_000 + k % 3 * 15_000
    return out


def _agent_owned(k: int) -> Json:
    enabled = k % 3 == 0
    return {
        "enableAgentOwnedCallbacks": enabled,
        "maxOwnedCallbackHours": 24 if enabled else 1,
        "maxOwnedCallbackDelayHours": 48 if enabled else 1,
    }


def _bullseye(pools: Pools, k: int) -> Json:
    """Three rings: each widens after a timeout and drops one skill; the last never expires."""
    rings = []
    for ring in range(3):
        skill = pools.skills[(k + ring) % len(pools.skills)]
        entry: Json = {
            "actions": {
                "skillsToRemove": [
                    {
                        "id": skill["id"],
                        "name": skill["name"],
                        "selfUri": f"/api/v2/routing/skills/{skill['id']}",
                    }
                ]
            },
            "memberGroups": [_member_group(pools, k + ring)],
        }
        if ring < 2:
            entry["expansionCriteria"] = [
                {"type": "TIMEOUT_SECONDS", "threshold": 15.0 * (ring + 1)}
            ]
        rings.append(entry)
    return {"rings": rings}


def _conditional_routing(pools: Pools, queue: Json, k: int) -> Json:
    """The queue's own agents first, a second group once the estimated wait passes a minute."""
    own = _ref(queue["id"], queue["name"], "/api/v2/routing/queues")
    return {
        "rules": [
            {
                "queue": own,
                "metric": "EstimatedWaitTime",
                "operator": "LessThanOrEqualTo",
                "conditionValue": 0.0,
                "waitSeconds": 2,
                "groups": [_member_group(pools, k)],
            },
            {
                "queue": own,
                "metric": "EstimatedWaitTime",
                "operator": "GreaterThan",
                "conditionValue": 60.0,
                "waitSeconds": 20,
                "groups": [_member_group(pools, k + 1)],
            },
        ]
    }


def _condition(queue: Json, operator: str, value: float) -> Json:
    return {
        "simpleMetric": {
            "metric": "EstimatedWaitTime",
            "queue": _ref(queue["id"], queue["name"], "/api/v2/routing/queues"),
        },
        "operator": operator,
        "value": value,
    }


def _conditional_activation(pools: Pools, queue: Json, k: int) -> Json:
    return {
        "pilotRule": {
            "conditionExpression": "C1",
            "conditions": [_condition(queue, "GreaterThan", 30.0)],
        },
        "rules": [
            {
                "conditionExpression": "C1",
                "conditions": [_condition(queue, "GreaterThan", 120.0)],
                "groups": [_member_group(pools, k + 2)],
            }
        ],
    }


def _default_scripts(pools: Pools, queue: Json, k: int) -> Json:
    division = next(d for d in pools.divisions if d["id"] == queue["divisionId"])
    out: Json = {}
    for j, media in enumerate(_SCRIPT_MEDIA[: 2 + k % 3]):
        script_id = stable_uuid(pools.seed, "script", k * len(_SCRIPT_MEDIA) + j)
        out[media] = {
            "id": script_id,
            "name": f"{queue['name']} {media.title()} Script",
            "division": _ref(division["id"], division["name"], "/api/v2/authorization/divisions"),
            "versionId": stable_uuid(pools.seed, "script-version", k * len(_SCRIPT_MEDIA) + j),
            "createdDate": "2023-06-01T09:00:00.000Z",
            "modifiedDate": "2023-06-01T09:00:00.000Z",
            "publishedDate": "2023-06-01T09:00:00.000Z",
            "startPageId": stable_uuid(pools.seed, "script-page", k * len(_SCRIPT_MEDIA) + j),
            "startPageName": "Start",
            "selfUri": f"/api/v2/scripts/{script_id}",
        }
    return out


def _direct_routing(pools: Pools, k: int) -> Json:
    backup = pools.queues[(k + 1) % len(pools.queues)]
    return {
        "callMediaSettings": {"useAgentAddressOutbound": True},
        "emailMediaSettings": {"useAgentAddressOutbound": k % 2 == 0},
        "messageMediaSettings": {"useAgentAddressOutbound": False},
        "backupQueueId": backup["id"],
        "waitForAgent": True,
        "agentWaitSeconds": 60,
    }


def _outbound_email(pools: Pools, queue: Json, k: int) -> Json:
    domain = "support.example.com"
    route_id = stable_uuid(pools.seed, "email-route", k)
    topic = queue["name"].removesuffix(" Queue").lower()
    return {
        "domain": {
            "id": domain,
            "name": domain,
            "selfUri": f"/api/v2/routing/email/domains/{domain}",
        },
        "route": {
            "id": route_id,
            "name": f"{topic}@{domain}",
            "pattern": topic,
            "queue": _ref(queue["id"], queue["name"], "/api/v2/routing/queues"),
            "priority": 5,
            "fromName": queue["name"].removesuffix(" Queue"),
            "fromEmail": f"{topic}@{domain}",
            "allowMultipleActions": False,
            "historyInclusion": "Include",
            "selfUri": f"/api/v2/routing/email/domains/{domain}/routes/{route_id}",
        },
    }


def queue_config(pools: Pools, k: int) -> Json:
    """The optional configuration of pool queue ``k``: only what that queue uses."""
    queue = pools.queues[k]
    seed = pools.seed
    out: Json = {"acwSettings": _acw(k), "agentOwnedRouting": _agent_owned(k)}
    if k % 3 == 1:
        out["bullseye"] = _bullseye(pools, k)
    if k % 4 == 1:
        out["conditionalGroupRouting"] = _conditional_routing(pools, queue, k)
    elif k % 4 == 3:
        out["conditionalGroupActivation"] = _conditional_activation(pools, queue, k)
    if k % 2 == 0:
        flow_path = "/api/v2/flows"
        out["queueFlow"] = _ref(
            stable_uuid(seed, "inqueue-call", k), f"{queue['name']} In-Queue", flow_path
        )
        out["onHoldPrompt"] = _ref(
            stable_uuid(seed, "prompt-hold", k), "HoldMusic", "/api/v2/architect/prompts"
        )
    if k % 3 == 0:
        out["whisperPrompt"] = _ref(
            stable_uuid(seed, "prompt-whisper", k), f"Whisper{k}", "/api/v2/architect/prompts"
        )
        out["emailInQueueFlow"] = _ref(
            stable_uuid(seed, "inqueue-email", k),
            f"{queue['name']} Email In-Queue",
            "/api/v2/flows",
        )
        out["outboundEmailAddress"] = _outbound_email(pools, queue, k)
    if k % 4 == 2:
        out["messageInQueueFlow"] = _ref(
            stable_uuid(seed, "inqueue-message", k),
            f"{queue['name']} Message In-Queue",
            "/api/v2/flows",
        )
        out["outboundMessagingAddresses"] = {
            "smsAddress": _ref(
                stable_uuid(seed, "sms-number", k),
                f"+1555010{k:04d}",
                "/api/v2/routing/sms/phonenumbers",
            )
        }
        out["cannedResponseLibraries"] = {
            "mode": "SelectedOnly",
            "libraryIds": [stable_uuid(seed, "canned-library", k)],
        }
    if k % 5 == 0:
        out["defaultScripts"] = _default_scripts(pools, queue, k)
    if k % 5 == 3:
        out["directRouting"] = _direct_routing(pools, k)
    return out
