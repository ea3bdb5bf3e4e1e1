"""The end of a handoff, however it comes: the agent resolved it, the person left,
nobody was free in time, or the widget never came."""

from __future__ import annotations

from handoff.protocol import events as ev
from handoff.protocol.common import ConversationView, Outcome
from handoff.routing import wording
from handoff.routing.context import Context
from handoff.routing.dispatch import Dispatcher
from handoff.routing.lifecycle import CloseReason, Transition

__all__ = ["Closer"]


class Closer:
    def __init__(self, ctx: Context, dispatcher: Dispatcher) -> None:
        self._ctx = ctx
        self._dispatcher = dispatcher

    async def close(
        self,
        view: ConversationView,
        transition: Transition,
        actor: str,
        *,
        outcome: Outcome | None = None,
        agent_name: str | None = None,
    ) -> ConversationView:
        """Close the conversation, free its agent, send the widget back to the bot."""
        ctx = self._ctx
        cid = view.conversation_id
        closed = await ctx.move(view, transition, actor, outcome=outcome)
        await ctx.state.release(cid)
        await ctx.state.dequeue(view.bot_id, cid)
        for kind in ("wait", "widget"):
            await ctx.state.clear_deadline(kind, cid)
        reason = closed.close_reason or CloseReason.RESOLVED
        if view.agent_id:
            await ctx.notifier.agent(
                view.agent_id, ev.CONVERSATION_CLOSED, {"conversation_id": cid, "reason": reason}
            )
        if transition is not Transition.ABANDON:
            if transition is Transition.NO_AGENT:
                text = wording.no_agent()
            else:
                text = wording.closed(agent_name)
            await ctx.notifier.widget(cid, ev.TO_USER, {"message": text, "sender": "system"})
        await ctx.notifier.end_widget(cid)
        await ctx.notifier.end_watchers(cid)
        await ctx.state.forget(cid)
        await self._dispatcher.dispatch(view.bot_id)
        return closed
