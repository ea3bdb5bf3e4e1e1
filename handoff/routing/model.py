"""Records kept in the shared routing state (presence and queue entries)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from handoff.protocol.common import HandoffPacket

__all__ = ["AgentStatus", "Presence", "QueueEntry"]


class AgentStatus(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


@dataclass(slots=True)
class Presence:
    """An agent as routing sees them. ``load`` is derived from the assignments."""

    agent_id: str
    name: str
    status: AgentStatus
    capacity: int
    bots: tuple[str, ...]
    teams: dict[str, list[str]] = field(default_factory=dict)
    connected: bool = True
    last_assigned_at: float = 0.0
    load: int = 0

    def serves(self, bot_id: str, team: str | None) -> bool:
        if bot_id not in self.bots:
            return False
        return team is None or team in self.teams.get(bot_id, [])

    def available(self) -> bool:
        return self.connected and self.status is AgentStatus.ONLINE and self.load < self.capacity


@dataclass(slots=True)
class QueueEntry:
    conversation_id: str
    bot_id: str
    enqueued_at: float
    team: str | None = None
    user: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    priority: int = 1
    """Its rank (``protocol.common.PRIORITIES``): a higher one is queued ahead."""
    packet: HandoffPacket = field(default_factory=HandoffPacket)

    @property
    def target_agent(self) -> str | None:
        """The agent the bot asked for, if any."""
        return self.packet.agent_id
