"""What the server itself tells the person, through ``to_user``.

A widget that knows only the seed protocol shows these as ordinary messages,
so every state change the person should know about is said here in words.
"""

from __future__ import annotations

import math

__all__ = [
    "agent_joined",
    "agent_lost",
    "closed",
    "no_agent",
    "queue_position",
    "transferred",
]


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "about 1 minute" if minutes == 1 else f"about {minutes} minutes"


def queue_position(position: int, wait_seconds: float | None, agents_online: int) -> str:
    if agents_online == 0:
        where = "You're first in line" if position == 1 else f"You're number {position} in line"
        return f"{where}. No agent is online right now; please stay here and one will join you."
    where = "You're next in line" if position == 1 else f"You're number {position} in the queue"
    if wait_seconds is None:
        return f"{where}. An agent will be with you shortly."
    return f"{where}. Estimated wait: {_minutes(wait_seconds)}."


def agent_joined(name: str) -> str:
    return f"{name} joined the chat."


def transferred(name: str | None) -> str:
    if name:
        return f"You're being transferred to {name}."
    return "You're being transferred to another agent. Please hold on."


def agent_lost() -> str:
    return "Your agent was disconnected. You're first in line for the next agent."


def no_agent() -> str:
    return (
        "Sorry, no agent is available right now. Your messages have been kept "
        "and you're back with the bot."
    )


def closed(name: str | None) -> str:
    who = name or "The agent"
    return f"{who} ended the chat. You're back with the bot."
