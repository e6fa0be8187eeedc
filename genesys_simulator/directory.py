"""Directory entity listings (queues, users, codes, flows...) built from the dataset's pools.

Default filters are the API's: users are listed ``active`` only unless ``state`` says
otherwise, presence definitions without the deactivated ones unless ``deactivated=true``,
flows without the deleted ones unless ``deleted=true`` ("Include deleted").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import flows
from .filters import FilterError
from .pools import Pools
from .queue_config import queue_config

Json = dict[str, Any]

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 500
CREATED = "2023-06-01T09:00:00.000Z"

#: ``GET /api/v2/users?state=``: the API lists only ``active`` users unless asked otherwise.
USER_STATES = ("active", "inactive", "deleted", "any")
#: Custom presences deactivated since agents used them: historical user details still name
#: them, ``GET /api/v2/presence/definitions`` lists them only with ``deactivated=true``.
DEACTIVATED_PRESENCES = frozenset({"MEETING", "TRAINING"})

#: The org's short-abandon threshold (Admin > Analytics > abandon intervals): an abandon under
#: it also emits ``tShortAbandon``. Genesys does not document a default; 10 s is ours.
SHORT_ABANDON_MS = 10_000
#: The system wrap-up code of an alert that timed out; ``/routing/wrapupcodes`` does not list it.
TIMEOUT_WRAPUP = "ININ-WRAP-UP-TIMEOUT"

#: Queue media settings key of each session media type (the API says ``call`` for voice).
MEDIA_SETTINGS_KEYS = {
    "voice": "call",
    "callback": "callback",
    "chat": "chat",
    "email": "email",
    "message": "message",
}
#: Every queue's service-level percentage (the API's 0-1 scale); ``oServiceLevel`` reports it
#: as ``target``.
SERVICE_LEVEL_TARGET = 0.8
_SL_BASE_MS = {
    "call": 20_000,
    "callback": 60_000,
    "chat": 30_000,
    "email": 4 * 3_600_000,
    "message": 3_600_000,
}


def service_level_ms(queue: Json, media_type: str) -> int:
    """The queue's service-level target for a media type: an answer later emits ``nOverSla``.

    Targets differ by queue (10 s steps taken from the queue id) so that a metric attributed
    to the wrong queue shows in the service level too.
    """
    key = MEDIA_SETTINGS_KEYS.get(media_type, "call")
    return _SL_BASE_MS[key] + int(queue["id"][-2:], 16) % 3 * 10_000


def _media_settings(queue: Json) -> Json:
    """``mediaSettings`` as ``GET /api/v2/routing/queues`` returns it (percentage is 0-1)."""
    return {
        key: {
            "alertingTimeoutSeconds": 8,
            "serviceLevel": {
                "percentage": SERVICE_LEVEL_TARGET,
                "durationMs": service_level_ms(queue, media),
            },
        }
        for media, key in MEDIA_SETTINGS_KEYS.items()
    }


def user_state(index: int) -> str:
    """The state of pool user ``index``: some agents left (they still appear in old data)."""
    if index % 20 == 10:
        return "deleted"
    if index % 12 == 5:
        return "inactive"
    return "active"


def _division(pools: Pools, division_id: str) -> Json:
    name = next(d["name"] for d in pools.divisions if d["id"] == division_id)
    return {
        "id": division_id,
        "name": name,
        "selfUri": f"/api/v2/authorization/divisions/{division_id}",
    }


def _queues(pools: Pools) -> list[Json]:
    return [
        {
            "id": q["id"],
            "name": q["name"],
            "division": _division(pools, q["divisionId"]),
            "dateCreated": CREATED,
            "memberCount": sum(q["id"] in u["queueIds"] for u in pools.users),
            "userMemberCount": sum(q["id"] in u["queueIds"] for u in pools.users),
            "joinedMemberCount": sum(q["id"] in u["queueIds"] for u in pools.users),
            "dateModified": CREATED,
            "scoringMethod": "TimestampAndPriority",
            # The queue's feature switches, at their defaults (GET lists them even when off).
            "autoAnswerOnly": False,
            "enableAudioMonitoring": False,
            "enableManualAssignment": False,
            "enableTranscription": False,
            "suppressInQueueCallRecording": True,
            "mediaSettings": _media_settings(q),
            **queue_config(pools, k),
            "selfUri": f"/api/v2/routing/queues/{q['id']}",
        }
        for k, q in enumerate(pools.queues)
    ]


def _users(pools: Pools) -> list[Json]:
    return [
        {
            "id": u["id"],
            "name": u["name"],
            "division": _division(pools, u["divisionId"]),
            "email": u["email"],
            "state": user_state(k),
            "username": u["email"],
            "version": 1,
            "acdAutoAnswer": False,
            **_user_extras(pools, k),
            "selfUri": f"/api/v2/users/{u['id']}",
        }
        for k, u in enumerate(pools.users)
    ]


#: Every tenth user leads the next nine; the leads report to user 1, who reports to nobody.
TEAM_SIZE = 10


def _user_extras(pools: Pools, k: int) -> Json:
    """``manager`` (a user reference, as the API returns it) and ``dateWelcomeSent``.

    Users provisioned through single sign-on (every seventh) never got a welcome mail, so
    the API leaves ``dateWelcomeSent`` out for them.
    """
    out: Json = {}
    lead = 1 + TEAM_SIZE * (k // TEAM_SIZE)
    manager = 1 if k == lead else lead
    if k != 1 and manager < len(pools.users):
        manager_id = pools.users[manager]["id"]
        out["manager"] = {"id": manager_id, "selfUri": f"/api/v2/users/{manager_id}"}
    if k % 7 != 3:
        out["dateWelcomeSent"] = f"2023-06-01T09:{k % 60:02d}:00.000Z"
    return out


def _wrapup_codes(pools: Pools) -> list[Json]:
    return [
        {
            "id": w["id"],
            "name": w["name"],
            "division": _division(pools, pools.divisions[0]["id"]),
            "dateCreated": CREATED,
            "dateModified": CREATED,
            "selfUri": f"/api/v2/routing/wrapupcodes/{w['id']}",
        }
        for w in pools.wrapup_codes
    ]


def _divisions(pools: Pools) -> list[Json]:
    return [
        {
            "id": d["id"],
            "name": d["name"],
            "description": f"{d['name']} division",
            "homeDivision": d["homeDivision"],
            "selfUri": f"/api/v2/authorization/divisions/{d['id']}",
        }
        for d in pools.divisions
    ]


def _skills(pools: Pools) -> list[Json]:
    return [
        {
            "id": s["id"],
            "name": s["name"],
            "dateModified": CREATED,
            "state": "active",
            "version": "1",
            # Skills are org-wide: the API reports them in the home division.
            "division": _division(pools, pools.divisions[0]["id"]),
            "selfUri": f"/api/v2/routing/skills/{s['id']}",
        }
        for s in pools.skills
    ]


def _groups(pools: Pools) -> list[Json]:
    return [
        {
            "id": g["id"],
            "name": g["name"],
            "dateModified": CREATED,
            "memberCount": 12,
            "state": "active",
            "version": 1,
            "type": "official",
            "rulesVisible": True,
            "rolesEnabled": False,
            "callsEnabled": False,
            "includeOwners": False,
            "visibility": "public",
            "selfUri": f"/api/v2/groups/{g['id']}",
        }
        for g in pools.groups
    ]


def presence_label(system_presence: str) -> str:
    """Display label of a system presence, e.g. ``ON_QUEUE`` -> ``On Queue``."""
    return system_presence.replace("_", " ").title()


def _presences(pools: Pools) -> list[Json]:
    return [
        {
            "id": p["id"],
            "type": "User" if p["systemPresence"] in DEACTIVATED_PRESENCES else "System",
            "languageLabels": {"en_US": presence_label(p["systemPresence"])},
            "systemPresence": presence_label(p["systemPresence"]).replace(" ", ""),
            "divisionId": "*",
            "deactivated": p["systemPresence"] in DEACTIVATED_PRESENCES,
            "selfUri": f"/api/v2/presence/definitions/{p['id']}",
        }
        for p in pools.presences
    ]


# The Architect listings sort by ``id`` unless asked otherwise (``sortBy`` default ``id``).
def _flows(pools: Pools) -> list[Json]:
    return sorted(flows.flow_entities(pools.seed, pools.divisions[0]), key=lambda e: e["id"])


def _flow_outcomes(pools: Pools) -> list[Json]:
    return sorted(flows.outcome_entities(pools.seed, pools.divisions[0]), key=lambda e: e["id"])


def _flow_milestones(pools: Pools) -> list[Json]:
    found = flows.milestone_entities(pools.seed, pools.divisions[0])
    return sorted(found, key=lambda e: e["id"])


LISTINGS: dict[str, tuple[str, Callable[[Pools], list[Json]]]] = {
    "queues": ("/api/v2/routing/queues", _queues),
    "users": ("/api/v2/users", _users),
    "wrapupcodes": ("/api/v2/routing/wrapupcodes", _wrapup_codes),
    "divisions": ("/api/v2/authorization/divisions", _divisions),
    "skills": ("/api/v2/routing/skills", _skills),
    "groups": ("/api/v2/groups", _groups),
    "presence_definitions": ("/api/v2/presence/definitions", _presences),
    "flows": ("/api/v2/flows", _flows),
    "flow_outcomes": ("/api/v2/flows/outcomes", _flow_outcomes),
    "flow_milestones": ("/api/v2/flows/milestones", _flow_milestones),
}


def entities(pools: Pools, kind: str) -> list[Json]:
    """Every entity of a listing, unfiltered and unpaged (deleted flows, inactive users too).

    What a test compares a full dimension table with.
    """
    return LISTINGS[kind][1](pools)


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    text = query.get(name, [str(default)])[0]
    try:
        return int(text)
    except ValueError as exc:
        raise FilterError(f"{name} must be an integer") from exc


def listing(pools: Pools, kind: str, query: dict[str, list[str]]) -> Json:
    """One page of an entity listing; raises ``FilterError`` for bad paging parameters."""
    path, build = LISTINGS[kind]
    entities = build(pools)
    if kind == "presence_definitions":
        deactivated = query.get("deactivated", ["false"])[0].lower()
        if deactivated not in {"true", "false"}:
            raise FilterError("deactivated must be TRUE or FALSE")
        entities = [e for e in entities if e["deactivated"] == (deactivated == "true")]
        return {"total": len(entities), "entities": entities, "selfUri": path}
    if kind == "users":
        state = query.get("state", ["active"])[0]
        if state not in USER_STATES:
            raise FilterError(f"state must be one of {', '.join(USER_STATES)}")
        if state != "any":
            entities = [e for e in entities if e["state"] == state]
    if kind == "flows":
        # ``deleted``: "Include deleted" (default false): deleted flows only when true.
        deleted = query.get("deleted", ["false"])[0].lower()
        if deleted not in {"true", "false"}:
            raise FilterError("deleted must be true or false")
        if deleted == "false":
            entities = [e for e in entities if not e["deleted"]]
        types = {t.lower() for value in query.get("type", []) for t in value.split(",")}
        if types:
            entities = [e for e in entities if e["type"].lower() in types]
    page_size = _int_param(query, "pageSize", DEFAULT_PAGE_SIZE)
    page_number = _int_param(query, "pageNumber", 1)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise FilterError(f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    if page_number < 1:
        raise FilterError("pageNumber must be 1 or greater")
    ids = set(query.get("id", []))
    if ids:
        entities = [e for e in entities if e["id"] in ids]
    total = len(entities)
    page_count = max(1, -(-total // page_size))
    first = (page_number - 1) * page_size

    # The links carry the listing's filters, as the API's do.
    shown = "".join(
        f"&{k}={query[k][0]}"
        for k in ("state", "deleted")
        if (kind, k) in {("users", "state"), ("flows", "deleted")} and k in query
    )

    def uri(n: int) -> str:
        return f"{path}?pageSize={page_size}&pageNumber={n}{shown}"

    out: Json = {
        "entities": entities[first : first + page_size],
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": total,
        "pageCount": page_count,
        "firstUri": uri(1),
        "selfUri": uri(page_number),
        "lastUri": uri(page_count),
    }
    if page_number > 1:
        out["previousUri"] = uri(page_number - 1)
    if page_number < page_count:
        out["nextUri"] = uri(page_number + 1)
    return out
