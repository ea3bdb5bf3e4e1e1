"""Every Socket.IO room name, built in one place."""

from __future__ import annotations

__all__ = ["agent_room", "bot_room", "watch_room", "widget_room"]


def widget_room(conversation_id: str, *, rich: bool = False) -> str:
    """Widget sockets bound to a conversation (``rich``: those that opted into extra events)."""
    return f"conv:{conversation_id}:rich" if rich else f"conv:{conversation_id}"


def agent_room(agent_id: str) -> str:
    """Every socket of one agent."""
    return f"agent:{agent_id}"


def bot_room(bot_id: str) -> str:
    """Every connected agent who serves the bot."""
    return f"bot:{bot_id}"


def watch_room(conversation_id: str) -> str:
    """Agent sockets watching a conversation read-only (supervisors)."""
    return f"watch:{conversation_id}"
