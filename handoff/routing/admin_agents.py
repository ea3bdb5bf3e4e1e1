"""Agents as admins manage them: create, change, disable, reset a password, delete.

Every change keeps one active admin at least (:class:`LastAdminRefused`), checked in
the same transaction as the change. An agent who is disabled or deleted is signed
out where they are connected by the sockets' re-check, which the REST handler runs
at once on this process (other processes within ``HANDOFF_AGENT_RECHECK_SECONDS``).
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.exc import IntegrityError

from handoff.errors import Conflict, NotFound
from handoff.protocol.admin import AdminAgent
from handoff.routing.context import Context
from handoff.routing.presence import agent_view
from handoff.routing.refusals import UnknownBot
from handoff.routing.roles import Role, require_role
from handoff.storage.agents import AgentRecord, LastAdmin

__all__ = ["AdminAgents", "LastAdminRefused", "UnknownAgent", "sync_presence"]

_MANAGE = "managing agents"


class UnknownAgent(NotFound):
    code = "unknown_agent"

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"unknown agent {agent_id!r}", field="agent_id")


class LastAdminRefused(Conflict):
    code = "last_admin"

    def __init__(self, field: str) -> None:
        super().__init__(
            "this is the last active admin: make another agent an admin first",
            field=field,
        )


class AdminAgents:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def view(self, record: AgentRecord) -> AdminAgent:
        live = await self._ctx.state.get_agent(record.id)
        return AdminAgent(
            **agent_view(record, live).model_dump(),
            teams={bot: list(teams) for bot, teams in record.teams.items()},
            disabled=record.disabled,
        )

    async def all(self, caller: AgentRecord) -> list[AdminAgent]:
        require_role(caller, Role.ADMIN, to=_MANAGE)
        return [await self.view(r) for r in await self._ctx.stores.agents.list_all()]

    async def get(self, caller: AgentRecord, agent_id: str) -> AdminAgent:
        require_role(caller, Role.ADMIN, to=_MANAGE)
        return await self.view(await self._record(agent_id))

    async def create(
        self,
        caller: AgentRecord,
        *,
        email: str,
        password: str,
        name: str | None,
        role: str,
        capacity: int,
        bots: dict[str, list[str]],
    ) -> AdminAgent:
        require_role(caller, Role.ADMIN, to=_MANAGE)
        await self._check_bots(bots)
        agents = self._ctx.stores.agents
        if await agents.by_email(email) is not None:
            raise _email_taken()
        try:
            created = await agents.create(
                email, password, name=name, bots=list(bots), capacity=capacity, role=role
            )
        except IntegrityError:  # taken in between
            raise _email_taken() from None
        if any(bots.values()):  # teams differ per bot: store them as given
            created = await self._change(created.id, "bots", bots=bots)
        return await self.view(created)

    async def update(
        self, caller: AgentRecord, agent_id: str, changes: dict[str, Any]
    ) -> AdminAgent:
        """Apply a PATCH (``name``, ``role``, ``capacity``, ``bots``, ``disabled``)."""
        require_role(caller, Role.ADMIN, to=_MANAGE)
        await self._record(agent_id)
        bots = changes.get("bots")
        if bots is not None:
            await self._check_bots(bots)
        values = {k: changes[k] for k in ("name", "role", "capacity") if k in changes}
        field = "disabled" if changes.get("disabled") else "role"
        changed = await self._change(
            agent_id, field, values=values, disabled=changes.get("disabled"), bots=bots
        )
        await sync_presence(self._ctx, changed, capacity="capacity" in changes)
        return await self.view(changed)

    async def reset_password(
        self, caller: AgentRecord, agent_id: str, password: str | None
    ) -> str | None:
        """Set a new password; returns the random one made when none was given."""
        require_role(caller, Role.ADMIN, to="resetting a password")
        made = None if password is not None else secrets.token_urlsafe(12)
        if not await self._ctx.stores.agents.set_password(agent_id, password or made or ""):
            raise UnknownAgent(agent_id)
        return made

    async def delete(self, caller: AgentRecord, agent_id: str) -> None:
        require_role(caller, Role.ADMIN, to=_MANAGE)
        await self._record(agent_id)
        try:
            await self._ctx.stores.agents.change(agent_id, delete=True)
        except LastAdmin:
            raise LastAdminRefused("agent_id") from None

    async def _record(self, agent_id: str) -> AgentRecord:
        record = await self._ctx.stores.agents.get(agent_id)
        if record is None:
            raise UnknownAgent(agent_id)
        return record

    async def _change(self, agent_id: str, field: str, **kwargs: Any) -> AgentRecord:
        try:
            changed = await self._ctx.stores.agents.change(agent_id, **kwargs)
        except LastAdmin:
            raise LastAdminRefused(field) from None
        if changed is None:  # deleted meanwhile
            raise UnknownAgent(agent_id)
        return changed

    async def _check_bots(self, bots: dict[str, list[str]]) -> None:
        for bot_id in bots:
            try:
                await self._ctx.bots.get(bot_id, field="bots")
            except UnknownBot:
                raise UnknownBot(bot_id, field=f"bots.{bot_id}") from None


async def sync_presence(ctx: Context, record: AgentRecord, *, capacity: bool = False) -> None:
    """Carry a stored change into the agent's live presence, if they have one, so routing
    (who may take which bot's and team's conversations) follows it without a reconnect.
    The console's rooms (queue updates of a newly added bot) follow at its next connect."""
    await ctx.state.update_agent(
        record.id,
        name=record.name,
        bots=record.bots,
        teams=record.teams,
        capacity=record.capacity if capacity else None,
    )


def _email_taken() -> Conflict:
    return Conflict("an agent with this email already exists", field="email", code="email_taken")
