"""Can a human take a conversation now: ``provide_handoff_options``, and its gate on handoffs.

The reason, first that applies:

- ``outside_business_hours``: the bot's business hours say closed;
- ``no_agent_online``: no agent of the bot (of the team, when one is named) is online;
- ``queue_full``: the queue holds ``max_queue_length`` conversations or more;
- ``all_agents_busy``: agents are online but none has a free slot;
- ``agents_available``: an online agent has a free slot.

``available`` is true for the last two: joining the queue works (with all agents busy
the person waits for the first free slot, in auto and manual mode alike). Closed
hours and a full queue (full whoever is online) refuse a new ``execute_handoff`` with
409 and that code, so a bot offers "leave a message" instead; nobody online does not
(the person may wait for the bot's wait limit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from handoff.dialogues.presets import Presets, Rendered
from handoff.errors import Conflict
from handoff.protocol.bot import DAYS, HandoffOptions, Reason
from handoff.protocol.common import PRIORITIES, ConversationState, ConversationView
from handoff.routing.business_hours import Schedule
from handoff.routing.context import Context
from handoff.routing.estimate import estimate, typical_wait
from handoff.routing.model import AgentStatus
from handoff.storage.bots import BotRecord

__all__ = ["Availability", "Placement"]


@dataclass(frozen=True, slots=True)
class _Now:
    reason: Reason
    agents_online: int
    agents_with_capacity: int
    queue_length: int
    within: bool
    next_open_at: datetime | None
    zone: str | None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a handed-off conversation stands, and what to tell the person."""

    queue_position: int
    estimated_wait_seconds: float | None
    rendered: Rendered


def _minutes(seconds: float | None) -> int | None:
    return None if seconds is None else max(1, math.ceil(seconds / 60))


class Availability:
    def __init__(self, ctx: Context, presets: Presets) -> None:
        self._ctx = ctx
        self.presets = presets
        self._own: dict[str, Presets] = {}

    def use_presets(self, bot_id: str, presets: Presets | None) -> None:
        """Render this bot's messages from ``presets`` (its overrides merged over the
        shipped ones, see ``Presets.merged``); None: the shipped ones again.

        Kept per process: each process loads the bot's dialogue file itself.
        """
        if presets is None:
            self._own.pop(bot_id, None)
        else:
            self._own[bot_id] = presets

    def _presets(self, bot: BotRecord) -> Presets:
        return self._own.get(bot.id, self.presets)

    async def _now(self, bot: BotRecord, team: str | None, now: datetime) -> _Now:
        ctx = self._ctx
        agents = [
            a
            for a in await ctx.state.agents_for_bot(bot.id)
            if a.serves(bot.id, team) and a.connected and a.status is AgentStatus.ONLINE
        ]
        free = sum(1 for a in agents if a.load < a.capacity)
        queue_length = len(await ctx.state.queue(bot.id))
        schedule = Schedule.from_stored(bot.business_hours)
        within = schedule is None or schedule.within(now)
        reason: Reason
        if not within:
            reason = "outside_business_hours"
        elif not agents:
            reason = "no_agent_online"
        elif bot.max_queue_length is not None and queue_length >= bot.max_queue_length:
            reason = "queue_full"
        elif not free:
            reason = "all_agents_busy"
        else:
            reason = "agents_available"
        return _Now(
            reason,
            len(agents),
            free,
            queue_length,
            within,
            None if schedule is None else schedule.next_open_at(now),
            None if schedule is None else str(schedule.zone),
        )

    async def _position_if_joined(self, bot_id: str, priority: str) -> int:
        rank = PRIORITIES[priority]
        return 1 + sum(1 for e in await self._ctx.state.queue(bot_id) if e.priority >= rank)

    async def handoff_options(
        self,
        bot: BotRecord,
        *,
        conversation_id: str | None,
        language: str | None,
        team: str | None,
        user: dict[str, Any],
    ) -> HandoffOptions:
        """What a human can do for this conversation right now, and what to show the person."""
        now = datetime.now(UTC)
        state = await self._now(bot, team, now)
        position = await self._queued_position(bot, conversation_id)
        if position is None:
            position = await self._position_if_joined(bot.id, "normal")
        typical = await typical_wait(self._ctx, bot.id, team, now=now)
        wait = estimate(typical, position, state.agents_online, state.agents_with_capacity)
        opens = state.next_open_at
        context: dict[str, Any] = {
            "minutes": _minutes(wait),
            "position": position,
            "queue_length": state.queue_length,
            "agents_online": state.agents_online,
            "agents_with_capacity": state.agents_with_capacity,
            "next_open_weekday": _weekday(opens, now) if opens else None,
            "next_open_time": opens.strftime("%H:%M") if opens else None,
            "next_open_date": opens.date().isoformat() if opens else None,
            "time_zone": state.zone,
            "team": team,
            "user": user,
        }
        rendered = self._presets(bot).render(
            "provide_handoff_options", state.reason, language, context
        )
        return HandoffOptions(
            available=state.reason in ("agents_available", "all_agents_busy"),
            reason=state.reason,
            agents_online=state.agents_online,
            agents_with_capacity=state.agents_with_capacity,
            queue_length=state.queue_length,
            queue_position_if_joined=position,
            estimated_wait_seconds=wait,
            within_business_hours=state.within,
            next_open_at=opens.isoformat() if opens else None,
            language=rendered.language,
            language_fallback=rendered.language_fallback,
            messages=rendered.messages,
        )

    async def _queued_position(self, bot: BotRecord, conversation_id: str | None) -> int | None:
        if conversation_id is None:
            return None
        return await self._ctx.state.position(bot.id, conversation_id)

    async def gate(self, bot: BotRecord) -> None:
        """Refuse a new handoff while the bot is closed or its queue is full (409).

        Whoever is online: a full queue is full with nobody online too.
        """
        now = datetime.now(UTC)
        schedule = Schedule.from_stored(bot.business_hours)
        if schedule is not None and not schedule.within(now):
            opens_at = schedule.next_open_at(now)
            opens = opens_at.isoformat() if opens_at else "not scheduled"
            raise Conflict(
                f"outside business hours (next open: {opens}); offer to leave a message",
                field="business_hours",
                code="outside_business_hours",
            )
        if bot.max_queue_length is not None:
            waiting = len(await self._ctx.state.queue(bot.id))
            if waiting >= bot.max_queue_length:
                raise Conflict(
                    f"the queue is full ({waiting} of {bot.max_queue_length} wait)",
                    field="max_queue_length",
                    code="queue_full",
                )

    async def placement(
        self, bot: BotRecord, view: ConversationView, language: str | None
    ) -> Placement:
        """After ``execute_handoff``: the queue position, the wait, and the messages."""
        now = datetime.now(UTC)
        state = await self._now(bot, view.team, now)
        position = None
        if view.state == ConversationState.QUEUED:
            position = await self._ctx.state.position(bot.id, view.conversation_id)
        if position is None:
            position = await self._position_if_joined(bot.id, view.priority)
        typical = await typical_wait(self._ctx, bot.id, view.team, now=now)
        wait = estimate(typical, position, state.agents_online, state.agents_with_capacity)
        if state.agents_online == 0:
            condition = "no_agent_online"
        elif wait is None:
            condition = "queued_no_estimate"
        else:
            condition = "queued"
        context = {
            "position": position,
            "minutes": _minutes(wait),
            "agents_online": state.agents_online,
            "team": view.team,
            "user": view.user,
        }
        rendered = self._presets(bot).render("execute_handoff", condition, language, context)
        return Placement(position, wait, rendered)


def _weekday(at: datetime, now: datetime) -> str:
    """``today``, ``tomorrow`` or the weekday key of ``at``, in ``at``'s zone."""
    days = (at.date() - now.astimezone(at.tzinfo).date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return DAYS[at.weekday()]
