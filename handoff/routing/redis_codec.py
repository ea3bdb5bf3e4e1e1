"""How :class:`~handoff.routing.redis_state.RedisRoutingState` writes its values in Redis.

An agent's presence is a hash, one field each (``connected`` as ``1``/``0``, ``bots`` and
``teams`` as JSON), so a script can check one field without decoding the rest; a queue
entry is one JSON string. Replies are read whether or not the client decodes them.
"""

from __future__ import annotations

import json
from typing import Any

from handoff.protocol.common import HandoffPacket
from handoff.routing.model import AgentStatus, Presence, QueueEntry

__all__ = [
    "READ_FIELDS",
    "changes",
    "entry",
    "entry_json",
    "fields",
    "flag",
    "presence_of",
    "text",
]


def flag(value: bool) -> str:
    """A boolean as the scripts read it."""
    return "1" if value else "0"


def text(value: Any) -> str:
    """A reply as text, whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else str(value)


_PRESENCE_FIELDS = ("name", "status", "connected", "capacity", "bots", "teams")
READ_FIELDS = [*_PRESENCE_FIELDS, "last_assigned_at"]


def changes(
    *,
    name: str | None = None,
    status: AgentStatus | None = None,
    connected: bool | None = None,
    capacity: int | None = None,
    bots: tuple[str, ...] | None = None,
    teams: dict[str, list[str]] | None = None,
) -> list[str]:
    """The given presence fields as the hash's field, value pairs (flat)."""
    pairs: list[str] = []
    if name is not None:
        pairs += ["name", name]
    if status is not None:
        pairs += ["status", status.value]
    if connected is not None:
        pairs += ["connected", "1" if connected else "0"]
    if capacity is not None:
        pairs += ["capacity", str(int(capacity))]
    if bots is not None:
        pairs += ["bots", json.dumps(list(bots))]
    if teams is not None:
        pairs += ["teams", json.dumps(teams)]
    return pairs


def fields(presence: Presence) -> list[str]:
    return changes(
        name=presence.name,
        status=presence.status,
        connected=presence.connected,
        capacity=presence.capacity,
        bots=presence.bots,
        teams=presence.teams,
    )


def presence_of(agent_id: str, values: list[Any], load: Any) -> Presence:
    name, status, connected, capacity, bots, teams, last_assigned_at = map(text, values)
    return Presence(
        agent_id=agent_id,
        name=name,
        status=AgentStatus(status),
        capacity=int(capacity),
        bots=tuple(json.loads(bots)),
        teams=json.loads(teams),
        connected=connected == "1",
        last_assigned_at=float(last_assigned_at),
        load=int(load),
    )


def entry_json(entry: QueueEntry) -> str:
    return json.dumps(
        {
            "conversation_id": entry.conversation_id,
            "bot_id": entry.bot_id,
            "enqueued_at": entry.enqueued_at,
            "team": entry.team,
            "user": entry.user,
            "reason": entry.reason,
            "priority": entry.priority,
            "packet": entry.packet.model_dump(mode="json"),
        }
    )


def entry(data: Any) -> QueueEntry:
    values = json.loads(text(data))
    return QueueEntry(
        conversation_id=values["conversation_id"],
        bot_id=values["bot_id"],
        enqueued_at=float(values["enqueued_at"]),
        team=values["team"],
        user=values["user"],
        reason=values["reason"],
        priority=int(values["priority"]),
        packet=HandoffPacket.model_validate(values["packet"]),
    )
