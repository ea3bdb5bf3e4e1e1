"""Which agent gets a conversation: a pure function, so it is tested without a server."""

from __future__ import annotations

from collections.abc import Iterable

from handoff.routing.model import Presence

__all__ = ["choose_agent", "eligible"]


def eligible(agents: Iterable[Presence], bot_id: str, team: str | None) -> list[Presence]:
    """Agents who serve the bot (and team), are online and connected, and have free capacity."""
    return [a for a in agents if a.serves(bot_id, team) and a.available()]


def choose_agent(agents: Iterable[Presence], bot_id: str, team: str | None) -> Presence | None:
    """The least loaded eligible agent; ties go to the one idle longest.

    Load is the number of open chats (as in Rocket.Chat's and Chatwoot's load
    balancing), not a share of capacity. Remaining ties go by agent id so the
    choice is deterministic.
    """
    candidates = eligible(agents, bot_id, team)
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda a: (a.load, a.last_assigned_at, a.agent_id),
    )
