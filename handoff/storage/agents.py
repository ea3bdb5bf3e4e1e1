"""Agents, their password hashes, and which bots (and teams) they serve."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.storage.db import utcnow
from handoff.storage.tables import agent_bots, agents

__all__ = ["AgentRecord", "AgentRepo", "LastAdmin"]

_hasher = PasswordHasher()


class LastAdmin(Exception):
    """The change would leave no active (neither disabled nor deleted) admin."""


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
    disabled: bool = False
    """Disabled by an operator: may not sign in, and their tokens stop working."""
    password_changed_at: float | None = None
    """Epoch seconds of the last password change (None: never): older tokens are refused."""

    def token_revoked(self, signed_at: float) -> bool:
        """Whether a token signed at ``signed_at`` (whole epoch seconds, as tokens count
        them) predates the last password change. A token of the very second of the
        change still passes: the sign-in right after a reset must work."""
        changed = self.password_changed_at
        return changed is not None and signed_at < int(changed)


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
        password_hash = await asyncio.to_thread(_hasher.hash, password)
        async with self._engine.begin() as conn:
            await conn.execute(
                agents.insert().values(
                    id=agent_id,
                    email=email,
                    name=display,
                    password_hash=password_hash,
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
        """The agent, disabled or not; None when there is none or it was deleted."""
        return (await self.get_many([agent_id])).get(agent_id)

    async def get_many(self, agent_ids: Collection[str]) -> dict[str, AgentRecord]:
        """The agents among ``agent_ids`` that exist and are not deleted, by id."""
        ids = list(dict.fromkeys(agent_ids))
        found: dict[str, AgentRecord] = {}
        async with self._engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                rows = (
                    await conn.execute(
                        agents.select().where(agents.c.id.in_(chunk), agents.c.deleted_at.is_(None))
                    )
                ).all()
                links = (
                    await conn.execute(
                        sa.select(agent_bots.c.agent_id, agent_bots.c.bot_id, agent_bots.c.teams)
                        .where(agent_bots.c.agent_id.in_([row.id for row in rows]))
                        .order_by(agent_bots.c.bot_id)  # a stable order for `bots`
                    )
                ).all()
                by_agent: dict[str, list[Any]] = {}
                for link in links:
                    by_agent.setdefault(link.agent_id, []).append(link)
                for row in rows:
                    found[row.id] = _record(row._mapping, by_agent.get(row.id, []))
        return found

    async def by_email(self, email: str) -> AgentRecord | None:
        """The agent with this email (disabled or not), unless deleted."""
        async with self._engine.connect() as conn:
            agent_id = (
                await conn.execute(
                    sa.select(agents.c.id).where(
                        agents.c.email == email.strip().lower(), agents.c.deleted_at.is_(None)
                    )
                )
            ).scalar()
        return None if agent_id is None else await self.get(agent_id)

    async def set_disabled(self, agent_id: str, disabled: bool) -> AgentRecord | None:
        """Disable or enable the agent; None when there is no such agent."""
        async with self._engine.begin() as conn:
            await conn.execute(
                agents.update()
                .where(agents.c.id == agent_id, agents.c.deleted_at.is_(None))
                .values(disabled_at=utcnow() if disabled else None)
            )
        return await self.get(agent_id)

    async def set_password(self, agent_id: str, password: str) -> bool:
        """Replace the agent's password; False when there is no such agent."""
        password_hash = await asyncio.to_thread(_hasher.hash, password)
        async with self._engine.begin() as conn:
            done = await conn.execute(
                agents.update()
                .where(agents.c.id == agent_id, agents.c.deleted_at.is_(None))
                .values(password_hash=password_hash, password_changed_at=utcnow())
            )
        return bool(done.rowcount)

    async def ever_any(self) -> bool:
        """Whether any agent was ever created here (deleted ones count: the database is
        not new)."""
        async with self._engine.connect() as conn:
            return (await conn.execute(sa.select(agents.c.id).limit(1))).first() is not None

    async def count_active(self) -> int:
        """Agents that are neither deleted nor disabled: who could sign in now."""
        query = sa.select(sa.func.count()).where(
            agents.c.deleted_at.is_(None), agents.c.disabled_at.is_(None)
        )
        async with self._engine.connect() as conn:
            return int((await conn.execute(query)).scalar() or 0)

    async def delete(self, agent_id: str) -> bool:
        """Delete the agent: they are gone for sign-in and lookups, and their email is free.

        The row stays (marked deleted, the email kept inside a renamed one), so the
        conversations and messages they handled still say who did.
        """
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(agents.c.email).where(
                        agents.c.id == agent_id, agents.c.deleted_at.is_(None)
                    )
                )
            ).first()
            if row is None:
                return False
            await conn.execute(
                agents.update()
                .where(agents.c.id == agent_id)
                .values(deleted_at=utcnow(), email=f"deleted:{agent_id}:{row.email}"[:320])
            )
        return True

    async def of_bot(self, bot_id: str) -> list[AgentRecord]:
        """The agents who serve the bot and may work (neither deleted nor disabled), by name."""
        async with self._engine.connect() as conn:
            ids = (
                await conn.scalars(
                    sa.select(agents.c.id)
                    .join(agent_bots, agent_bots.c.agent_id == agents.c.id)
                    .where(
                        agent_bots.c.bot_id == bot_id,
                        agents.c.deleted_at.is_(None),
                        agents.c.disabled_at.is_(None),
                    )
                )
            ).all()
        found = await self.get_many(ids)
        return sorted(found.values(), key=lambda r: (r.name.casefold(), r.id))

    async def authenticate(self, email: str, password: str) -> AgentRecord | None:
        """The agent with these credentials (disabled or not), or None.

        Timing does not reveal which part failed. The hash is checked in a thread:
        argon2 takes tens of milliseconds, which the event loop must not wait out.
        """
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(agents.c.id, agents.c.password_hash).where(
                        agents.c.email == email.strip().lower(), agents.c.deleted_at.is_(None)
                    )
                )
            ).first()
        stored = row.password_hash if row else _DUMMY_HASH
        if not await asyncio.to_thread(_verify, stored, password) or row is None:
            return None
        if _hasher.check_needs_rehash(stored):
            new_hash = await asyncio.to_thread(_hasher.hash, password)
            async with self._engine.begin() as conn:
                await conn.execute(
                    agents.update().where(agents.c.id == row.id).values(password_hash=new_hash)
                )
        return await self.get(row.id)

    async def list_all(self) -> list[AgentRecord]:
        """Every agent not deleted (disabled ones too), by name."""
        async with self._engine.connect() as conn:
            ids = (
                await conn.scalars(sa.select(agents.c.id).where(agents.c.deleted_at.is_(None)))
            ).all()
        found = await self.get_many(ids)
        return sorted(found.values(), key=lambda r: (r.name.casefold(), r.id))

    async def change(
        self,
        agent_id: str,
        *,
        values: dict[str, Any] | None = None,
        disabled: bool | None = None,
        bots: dict[str, list[str]] | None = None,
        delete: bool = False,
    ) -> AgentRecord | None:
        """Change an agent in one transaction that keeps at least one active admin.

        ``values``: columns (``name``, ``role``, ``capacity``); ``bots``: bot id →
        teams, replacing every link; ``delete`` as :meth:`delete`. Raises
        :class:`LastAdmin` when the agent is the last active admin and would stop being
        one, checked after the write inside the transaction (and with the active admins'
        rows locked on PostgreSQL), so two admins demoting each other at once cannot both
        succeed.
        None when there is no such agent (or, after ``delete``, always).
        """
        active = sa.and_(agents.c.deleted_at.is_(None), agents.c.disabled_at.is_(None))
        async with self._engine.begin() as conn:
            # PostgreSQL: lock the active admins' rows, so a concurrent change of another
            # admin waits for this one and then counts what it committed.
            await conn.execute(
                sa.select(agents.c.id).where(active, agents.c.role == "admin").with_for_update()
            )
            row = (
                await conn.execute(
                    sa.select(agents.c.email, agents.c.role, agents.c.disabled_at).where(
                        agents.c.id == agent_id, agents.c.deleted_at.is_(None)
                    )
                )
            ).first()
            if row is None:
                return None
            was_admin = row.role == "admin" and row.disabled_at is None
            stays_admin = (
                not delete
                and (values or {}).get("role", row.role) == "admin"
                and not (disabled if disabled is not None else row.disabled_at is not None)
            )
            update = dict(values or {})
            if disabled is not None:
                update["disabled_at"] = utcnow() if disabled else None
            if delete:
                update["deleted_at"] = utcnow()
                update["email"] = f"deleted:{agent_id}:{row.email}"[:320]
            if update:
                await conn.execute(agents.update().where(agents.c.id == agent_id).values(**update))
            if was_admin and not stays_admin:
                # Counted after the write: on SQLite the write took the database's one
                # write lock, so a concurrent change is either committed (and seen here)
                # or waits for this transaction.
                left = await conn.scalar(
                    sa.select(sa.func.count()).where(active, agents.c.role == "admin")
                )
                if not left:
                    raise LastAdmin(agent_id)  # rolls the transaction back
            if bots is not None:
                await conn.execute(agent_bots.delete().where(agent_bots.c.agent_id == agent_id))
                if bots:
                    await conn.execute(
                        agent_bots.insert(),
                        [
                            {"agent_id": agent_id, "bot_id": b, "teams": list(t)}
                            for b, t in bots.items()
                        ],
                    )
        return None if delete else await self.get(agent_id)


_CHUNK = 500
"""Ids per ``IN (...)``: well under SQLite's limit on bound parameters."""


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _record(m: Any, links: list[Any]) -> AgentRecord:
    return AgentRecord(
        id=m["id"],
        email=m["email"],
        name=m["name"],
        role=m["role"],
        capacity=m["capacity"],
        bots=tuple(link.bot_id for link in links),
        teams={link.bot_id: list(link.teams or []) for link in links},
        disabled=m["disabled_at"] is not None,
        password_changed_at=_epoch(m["password_changed_at"]),
    )


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    # SQLite hands back naive datetimes; they were written in UTC.
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
