"""Small fixed pools of directory entities (queues, users, codes...) derived from the seed.

Conversations only reference ids from these pools, so the directory endpoints and the
conversation records stay consistent with each other.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

FIRST_NAMES = (
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Femi",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kara",
    "Liam",
    "Maya",
    "Nils",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tess",
)
LAST_NAMES = (
    "Adler",
    "Brook",
    "Costa",
    "Dietz",
    "Evans",
    "Fujii",
    "Garcia",
    "Haas",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Moreau",
    "Nagy",
    "Okafor",
    "Park",
    "Rossi",
    "Silva",
    "Tanaka",
    "Weber",
)
QUEUE_TOPICS = (
    "Sales",
    "Billing",
    "Support",
    "Retention",
    "Claims",
    "Onboarding",
    "Technical",
    "Returns",
    "VIP",
    "Collections",
    "Bookings",
    "General",
)
WRAPUP_NAMES = (
    "Resolved",
    "Escalated",
    "Callback Scheduled",
    "Wrong Number",
    "Sale Completed",
    "Refund Issued",
    "Information Given",
    "Complaint Logged",
    "Transferred",
    "No Answer",
    "Follow-up Needed",
    "Account Updated",
    "Payment Taken",
    "Cancelled",
    "Spam",
)
SKILL_NAMES = ("English", "Spanish", "German", "Billing", "Hardware", "Software", "VIP", "Claims")
GROUP_NAMES = ("Tier 1", "Tier 2", "Supervisors", "Night Shift", "Back Office")
SYSTEM_PRESENCES = (
    "AVAILABLE",
    "AWAY",
    "BUSY",
    "OFFLINE",
    "IDLE",
    "ON_QUEUE",
    "MEAL",
    "TRAINING",
    "MEETING",
    "BREAK",
)
FLOW_SPECS = (
    ("INBOUNDCALL", "Main IVR", "voice"),
    ("INBOUNDCHAT", "Web Chat Flow", "chat"),
    ("INBOUNDEMAIL", "Email Router", "email"),
    ("INBOUNDSHORTMESSAGE", "Messaging Flow", "message"),
)


def stable_uuid(seed: int, kind: str, index: int) -> str:
    """Deterministic UUID (version 4 layout) for entity ``index`` of ``kind``."""
    digest = hashlib.blake2b(f"{seed}:{kind}:{index}".encode(), digest_size=16).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:32]}"


@dataclass
class Pools:
    """All directory entities of one dataset, built once (they are tiny)."""

    seed: int
    #: How many users (agents) the org has; 60 unless a test asks for a bigger org.
    user_count: int = 60
    divisions: list[dict[str, Any]] = field(default_factory=list)
    queues: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    wrapup_codes: list[dict[str, Any]] = field(default_factory=list)
    skills: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    flows: list[dict[str, Any]] = field(default_factory=list)
    presences: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Build every pool from the seed."""
        seed = self.seed
        rng = random.Random(f"pools:{seed}")
        self.divisions = [
            {"id": stable_uuid(seed, "division", k), "name": name, "homeDivision": k == 0}
            for k, name in enumerate(("Home", "Europe", "Americas"))
        ]
        self.queues = [
            {
                "id": stable_uuid(seed, "queue", k),
                "name": f"{topic} Queue",
                "divisionId": self.divisions[k % len(self.divisions)]["id"],
            }
            for k, topic in enumerate(QUEUE_TOPICS)
        ]
        self.users = []
        for k in range(self.user_count):
            first = FIRST_NAMES[k % len(FIRST_NAMES)]
            last = LAST_NAMES[(k * 7 + rng.randrange(len(LAST_NAMES))) % len(LAST_NAMES)]
            self.users.append(
                {
                    "id": stable_uuid(seed, "user", k),
                    "name": f"{first} {last}",
                    "email": f"{first.lower()}.{last.lower()}{k}@example.com",
                    "divisionId": self.divisions[k % len(self.divisions)]["id"],
                    "queueIds": [self.queues[(k + j) % len(self.queues)]["id"] for j in range(3)],
                    # Every tenth agent has left: inactive in the directory, still in history
                    # (conversations and user details), as agents who left are in the real API.
                    "state": "inactive" if k % 10 == 9 else "active",
                }
            )
        self.wrapup_codes = [
            {"id": stable_uuid(seed, "wrapup", k), "name": name}
            for k, name in enumerate(WRAPUP_NAMES)
        ]
        self.skills = [
            {"id": stable_uuid(seed, "skill", k), "name": name}
            for k, name in enumerate(SKILL_NAMES)
        ]
        self.groups = [
            {"id": stable_uuid(seed, "group", k), "name": name}
            for k, name in enumerate(GROUP_NAMES)
        ]
        self.flows = [
            {"id": stable_uuid(seed, "flow", k), "name": name, "type": ftype, "mediaType": media}
            for k, (ftype, name, media) in enumerate(FLOW_SPECS)
        ]
        self.presences = [
            {"id": stable_uuid(seed, "presence", k), "systemPresence": name}
            for k, name in enumerate(SYSTEM_PRESENCES)
        ]

    def presence_id(self, system_presence: str) -> str:
        """Organization presence id that backs a system presence."""
        for entry in self.presences:
            if entry["systemPresence"] == system_presence:
                return str(entry["id"])
        raise KeyError(system_presence)
