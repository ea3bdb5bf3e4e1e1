"""Transfers: a conversation handed to a colleague, or back to a team's queue.

The agent who holds it transfers it; so may a supervisor of its bot (it need not be
theirs), and a supervisor's take-over is a transfer to themselves. One path for all
of them: the holder is told ``conversation_transferred``, the next agent gets
``conversation_assigned`` with the note, the person is told, the bot gets its webhook.
"""

from __future__ import annotations

from handoff.errors import BadRequest, Conflict, NotFound
from handoff.protocol import events as ev
from handoff.protocol.common import ConversationState, ConversationView
from handoff.routing import wording
from handoff.routing.agent_actions import AgentActions
from handoff.routing.context import Context
from handoff.routing.dispatch import Dispatcher
from handoff.routing.lifecycle import Transition
from handoff.routing.queueing import Queue
from handoff.routing.refusals import NotAssigned, NotYourConversation
from handoff.routing.roles import Role, has_role
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
        """Hand it on: the agent's own, or (a supervisor) any held one of their bots."""
        view = await self._held(record, conversation_id)
        if to_agent_id is not None:
            return await self.to_agent(record, view, to_agent_id, note)
        return await self._to_team(record, view, to_team, note)

    async def _held(self, record: AgentRecord, conversation_id: str) -> ConversationView:
        try:
            return await self._actions.own(record, conversation_id)
        except NotYourConversation:
            if not has_role(record, Role.SUPERVISOR):
                raise  # an agent is told it is not theirs, as before there were supervisors
        view = await self._actions.served(record, conversation_id)
        if view.state != ConversationState.ASSIGNED or view.agent_id is None:
            raise NotAssigned()
        return view

    async def to_agent(
        self, record: AgentRecord, view: ConversationView, to_agent_id: str, note: str | None
    ) -> ConversationView:
        """Move an assigned ``view`` from its agent to ``to_agent_id``, on ``record``'s word.

        A supervisor moving it to themselves steps in: their status and capacity do not
        stop it (they chose to; auto routing never gives them more than their capacity).
        """
        ctx = self._ctx
        cid = view.conversation_id
        holder = view.agent_id
        assert holder is not None  # an assigned conversation has its agent
        if to_agent_id == holder:
            mine = holder == record.id
            raise BadRequest(
                "you already have this conversation" if mine else "that agent already has it",
                field="conversation_id" if mine else "to_agent_id",
                code="already_theirs",
            )
        step_in = to_agent_id == record.id
        target = await ctx.state.get_agent(to_agent_id)
        if target is None or view.bot_id not in target.bots:
            raise NotFound(
                "no such agent serves this bot", field="to_agent_id", code="unknown_agent"
            )
        if not await ctx.state.move(cid, holder, to_agent_id, view.bot_id, step_in=step_in):
            if step_in:
                raise Conflict(
                    "your console is not connected, or the conversation moved meanwhile",
                    field="conversation_id",
                    code="agent_unavailable",
                )
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
                detail=_detail(record, holder, note),
            )
        except Conflict:
            # The stored move lost: give the assignment back to the agent who had it.
            await ctx.state.move(cid, to_agent_id, holder, view.bot_id, step_in=True)
            raise
        await ctx.notifier.agent(
            holder,
            ev.CONVERSATION_TRANSFERRED,
            _told(cid, record, holder, to_agent_id=to_agent_id),
        )
        await self._dispatcher.deliver(view, to_agent_id, note=note, from_agent=holder)
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
        holder = view.agent_id
        assert holder is not None
        if to_team not in await ctx.stores.teams.names(view.bot_id):
            raise NotFound(
                f"no team {to_team!r} for this bot", field="to_team", code="unknown_team"
            )
        await ctx.state.release(cid)
        view = await ctx.move(
            view,
            Transition.REQUEUE,
            f"agent:{record.id}",
            team=to_team,
            detail=_detail(record, holder, note),
        )
        await self._queue.enqueue(view, at_head=True)
        await ctx.notifier.agent(
            holder, ev.CONVERSATION_TRANSFERRED, _told(cid, record, holder, to_team=to_team)
        )
        await ctx.notifier.widget(
            cid, ev.TO_USER, {"message": wording.transferred(None), "sender": "system"}
        )
        await self._dispatcher.dispatch(view.bot_id)
        return view


def _detail(record: AgentRecord, holder: str, note: str | None) -> dict[str, str | None]:
    """What the move's record keeps: the note, who had it, and who moved it if not them."""
    detail: dict[str, str | None] = {"note": note, "from_agent_id": holder}
    if record.id != holder:
        detail["by_agent_id"] = record.id
    return detail


def _told(cid: str, record: AgentRecord, holder: str, **target: str | None) -> dict[str, object]:
    """``conversation_transferred`` for the holder; ``by_agent_id`` when a supervisor did it."""
    told: dict[str, object] = {"conversation_id": cid, **target}
    if record.id != holder:
        told["by_agent_id"] = record.id
        told["by_agent_name"] = record.name
    return told
