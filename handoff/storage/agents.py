"""Agents, their password hashes, and which bots (and teams) they serve."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.storage.db import utcnow
from handoff.storage.tables import agent_bots, agents

__all__ = ["AgentRecord", "AgentRepo"]

_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class AgentRecord:
    id: str
    email: str
    name: str
    role: str
    capacity: int
    bots: tuple[str, ...]
    teams: dict[str, list[str]] = field(default_factory=dict)
    """bot id → the teams the agent belongs to for that bot."""


class AgentRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(
        self,
        email: str,
        password: str,
        *,
        name: str | None = None,
        bots: list[str],
        capacity: int = 3,
        teams: list[str] | None = None,
        role: str = "agent",
    ) -> AgentRecord:
        agent_id = "agt_" + secrets.token_hex(8)
        email = email.strip().lower()
        display = name or email.split("@")[0]
        async with self._engine.begin() as conn:
            await conn.execute(
                agents.insert().values(
                    id=agent_id,
                    email=email,
                    name=display,
                    password_hash=_hasher.hash(password),
                    role=role,
                    capacity=capacity,
                    created_at=utcnow(),
                )
            )
            if bots:
                await conn.execute(
                    agent_bots.insert(),
                    [{"agent_id": agent_id, "bot_id": b, "teams": teams or []} for b in bots],
                )
        team_map = {b: list(teams or []) for b in bots}
        return AgentRecord(agent_id, email, display, role, capacity, tuple(bots), team_map)

    async def get(self, agent_id: str) -> AgentRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(agents.select().where(agents.c.id == agent_id))).first()
            if row is None:
                return None
            links = (
                await conn.execute(
                    sa.select(agent_bots.c.bot_id, agent_bots.c.teams).where(
                        agent_bots.c.agent_id == agent_id
                    )
                )
            ).all()
        m = row._mapping
        return AgentRecord(
            id=m["id"],
            email=m["email"],
            name=m["name"],
            role=m["role"],
            capacity=m["capacity"],
            bots=tuple(link.bot_id for link in links),
            teams={link.bot_id: list(link.teams or []) for link in links},
        )

    async def teams_of_bot(self, bot_id: str) -> set[str]:
        """Every team name any agent of the bot belongs to."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(agent_bots.c.teams).where(agent_bots.c.bot_id == bot_id)
                )
            ).all()
        return {team for row in rows for team in (row.teams or [])}

    async def authenticate(self, email: str, password: str) -> AgentRecord | None:
        """The agent with these credentials, or None. Timing does not reveal which part failed."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(agents.c.id, agents.c.password_hash).where(
                        agents.c.email == email.strip().lower()
                    )
                )
            ).first()
        stored = row.password_hash if row else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _hasher.check_needs_rehash(stored):
            async with self._engine.begin() as conn:
                await conn.execute(
                    agents.update()
                    .where(agents.c.id == row.id)
                    .values(password_hash=_hasher.hash(password))
                )
        return await self.get(row.id)


_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
