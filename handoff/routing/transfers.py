"""Transfers: an agent hands a conversation to a colleague, or back to a team's queue."""

from __future__ import annotations

from handoff.errors import BadRequest, Conflict, NotFound
from handoff.protocol import events as ev
from handoff.protocol.common import ConversationView
from handoff.routing import wording
from handoff.routing.agent_actions import AgentActions
from handoff.routing.context import Context
from handoff.routing.dispatch import Dispatcher
from handoff.routing.lifecycle import Transition
from handoff.routing.queueing import Queue
from handoff.storage.agents import AgentRecord

__all__ = ["Transfers"]


class Transfers:
    def __init__(
        self, ctx: Context, actions: AgentActions, queue: Queue, dispatcher: Dispatcher
    ) -> None:
        self._ctx = ctx
        self._actions = actions
        self._queue = queue
        self._dispatcher = dispatcher

    async def transfer(
        self,
        record: AgentRecord,
        conversation_id: str,
        *,
        to_agent_id: str | None,
        to_team: str | None,
        note: str | None,
    ) -> ConversationView:
        view = await self._actions.own(record, conversation_id)
        if to_agent_id is not None:
            return await self._to_agent(record, view, to_agent_id, note)
        return await self._to_team(record, view, to_team, note)

    async def _to_agent(
        self, record: AgentRecord, view: ConversationView, to_agent_id: str, note: str | None
    ) -> ConversationView:
        ctx = self._ctx
        cid = view.conversation_id
        if to_agent_id == record.id:
            raise BadRequest("you already have this conversation", field="to_agent_id")
        target = await ctx.state.get_agent(to_agent_id)
        if target is None or view.bot_id not in target.bots:
            raise NotFound(
                "no such agent serves this bot", field="to_agent_id", code="unknown_agent"
            )
        if not await ctx.state.move(cid, record.id, to_agent_id, view.bot_id):
            raise Conflict(
                "that agent is not online or has no free capacity",
                field="to_agent_id",
                code="agent_unavailable",
            )
        try:
            view = await ctx.move(
                view,
                Transition.TRANSFER,
                f"agent:{record.id}",
                agent_id=to_agent_id,
                detail={"note": note, "from_agent_id": record.id},
            )
        except Conflict:
            # The stored move lost: give the assignment back to the agent who had it.
            await ctx.state.move(cid, to_agent_id, record.id, view.bot_id)
            raise
        await ctx.notifier.agent(
            record.id,
            ev.CONVERSATION_TRANSFERRED,
            {"conversation_id": cid, "to_agent_id": to_agent_id},
        )
        await self._dispatcher.deliver(view, to_agent_id, note=note, from_agent=record.id)
        await ctx.notifier.widget(
            cid, ev.TO_USER, {"message": wording.transferred(target.name), "sender": "system"}
        )
        await self._dispatcher.dispatch(view.bot_id)
        return view

    async def _to_team(
        self, record: AgentRecord, view: ConversationView, to_team: str | None, note: str | None
    ) -> ConversationView:
        ctx = self._ctx
        cid = view.conversation_id
        if to_team not in await ctx.stores.agents.teams_of_bot(view.bot_id):
            raise NotFound(
                f"no team {to_team!r} for this bot", field="to_team", code="unknown_team"
            )
        await ctx.state.release(cid)
        view = await ctx.move(
            view,
            Transition.REQUEUE,
            f"agent:{record.id}",
            team=to_team,
            detail={"note": note, "from_agent_id": record.id},
        )
        await self._queue.enqueue(view, at_head=True)
        await ctx.notifier.agent(
            record.id, ev.CONVERSATION_TRANSFERRED, {"conversation_id": cid, "to_team": to_team}
        )
        await ctx.notifier.widget(
            cid, ev.TO_USER, {"message": wording.transferred(None), "sender": "system"}
        )
        await self._dispatcher.dispatch(view.bot_id)
        return view
