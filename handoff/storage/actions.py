"""Custom actions: saved code versions, the published version, env variables, run logs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from handoff.errors import Conflict
from handoff.storage.db import aware, upsert, utcnow
from handoff.storage.tables import action_logs, action_versions, actions, env_vars

__all__ = ["ActionLog", "ActionRepo", "ActionVersion", "EnvRepo", "EnvVar"]


@dataclass(frozen=True, slots=True)
class ActionVersion:
    name: str
    version: int
    code: str
    errors: list[dict[str, Any]]
    created_at: datetime
    published_at: datetime | None
    production: bool


@dataclass(frozen=True, slots=True)
class ActionLog:
    action: str
    version: int | None
    stage: str
    request_id: str
    conversation_id: str | None
    ok: bool
    error: dict[str, Any] | None
    logs: str
    duration_ms: float
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EnvVar:
    name: str
    staging: str | None
    production: str | None
    updated_at: datetime


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _saved_concurrently(name: str) -> Conflict:
    return Conflict(
        f"action {name!r} was saved by another request at the same time; save again",
        code="saved_concurrently",
    )


class ActionRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _action_row(
        self, conn: AsyncConnection, bot_id: str, name: str
    ) -> sa.Row[Any] | None:
        return (
            await conn.execute(
                actions.select().where(actions.c.bot_id == bot_id, actions.c.name == name)
            )
        ).first()

    async def save(self, bot_id: str, name: str, code: str, errors: list[dict[str, Any]]) -> int:
        """Store ``code`` as the action's next version (the same code again keeps its version).

        Raises :class:`Conflict` (``saved_concurrently``) when another save of the
        same action took the version this one read; nothing of this save is stored.
        """
        now = utcnow()
        async with self._engine.begin() as conn:
            row = await self._action_row(conn, bot_id, name)
            if row is None:
                try:
                    action_id = (
                        await conn.execute(
                            actions.insert()
                            .values(
                                bot_id=bot_id,
                                name=name,
                                latest_version=0,
                                created_at=now,
                                updated_at=now,
                            )
                            .returning(actions.c.id)
                        )
                    ).scalar_one()
                except IntegrityError:
                    # Two first saves: the other one created the action after we looked.
                    raise _saved_concurrently(name) from None
                latest = 0
            else:
                action_id, latest = row.id, row.latest_version
                same = await conn.scalar(
                    sa.select(action_versions.c.version).where(
                        action_versions.c.action_id == action_id,
                        action_versions.c.version == latest,
                        action_versions.c.code_hash == _hash(code),
                    )
                )
                if same is not None:
                    return int(same)
            version = latest + 1
            # Conditional on the version read, so two saves racing cannot both take it.
            moved = await conn.execute(
                actions.update()
                .where(actions.c.id == action_id, actions.c.latest_version == latest)
                .values(latest_version=version, updated_at=now)
            )
            if moved.rowcount != 1:
                raise _saved_concurrently(name)
            await conn.execute(
                action_versions.insert().values(
                    action_id=action_id,
                    version=version,
                    code=code,
                    code_hash=_hash(code),
                    errors=errors,
                    created_at=now,
                )
            )
        return version

    async def version(self, bot_id: str, name: str, version: int | None) -> ActionVersion | None:
        """One version; ``None`` asks for the latest saved one."""
        async with self._engine.connect() as conn:
            row = await self._action_row(conn, bot_id, name)
            if row is None:
                return None
            wanted = row.latest_version if version is None else version
            found = (
                await conn.execute(
                    action_versions.select().where(
                        action_versions.c.action_id == row.id,
                        action_versions.c.version == wanted,
                    )
                )
            ).first()
        if found is None:
            return None
        return self._version(name, found, row.production_version)

    async def production(self, bot_id: str, name: str) -> ActionVersion | None:
        async with self._engine.connect() as conn:
            row = await self._action_row(conn, bot_id, name)
        if row is None or row.production_version is None:
            return None
        return await self.version(bot_id, name, row.production_version)

    async def versions(self, bot_id: str, name: str) -> list[ActionVersion]:
        async with self._engine.connect() as conn:
            row = await self._action_row(conn, bot_id, name)
            if row is None:
                return []
            rows = (
                await conn.execute(
                    action_versions.select()
                    .where(action_versions.c.action_id == row.id)
                    .order_by(action_versions.c.version.desc())
                )
            ).all()
        return [self._version(name, r, row.production_version) for r in rows]

    async def names(self, bot_id: str) -> list[tuple[str, int, int | None]]:
        """(name, latest version, production version) of every action of the bot."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        actions.c.name, actions.c.latest_version, actions.c.production_version
                    )
                    .where(actions.c.bot_id == bot_id)
                    .order_by(actions.c.name)
                )
            ).all()
        return [(r.name, r.latest_version, r.production_version) for r in rows]

    async def publish(self, bot_id: str, name: str, version: int) -> None:
        now = utcnow()
        async with self._engine.begin() as conn:
            row = await self._action_row(conn, bot_id, name)
            assert row is not None
            await conn.execute(
                actions.update()
                .where(actions.c.id == row.id)
                .values(production_version=version, updated_at=now)
            )
            await conn.execute(
                action_versions.update()
                .where(action_versions.c.action_id == row.id, action_versions.c.version == version)
                .values(published_at=now)
            )

    @staticmethod
    def _version(name: str, row: sa.Row[Any], production: int | None) -> ActionVersion:
        return ActionVersion(
            name=name,
            version=row.version,
            code=row.code,
            errors=list(row.errors or []),
            created_at=aware(row.created_at),
            published_at=aware(row.published_at) if row.published_at else None,
            production=row.version == production,
        )

    # logs -------------------------------------------------------------------
    async def log(self, bot_id: str, entry: ActionLog) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                action_logs.insert().values(
                    bot_id=bot_id,
                    action=entry.action,
                    version=entry.version,
                    stage=entry.stage,
                    request_id=entry.request_id,
                    conversation_id=entry.conversation_id,
                    ok=entry.ok,
                    error=entry.error,
                    logs=entry.logs,
                    duration_ms=entry.duration_ms,
                    created_at=entry.created_at,
                )
            )

    async def logs(
        self,
        bot_id: str,
        name: str,
        *,
        limit: int = 100,
        ok: bool | None = None,
        stage: str | None = None,
        since: datetime | None = None,
    ) -> list[ActionLog]:
        """The newest entries first; ``ok``, ``stage`` and ``since`` narrow them when given."""
        query = action_logs.select().where(
            action_logs.c.bot_id == bot_id, action_logs.c.action == name
        )
        if ok is not None:
            query = query.where(action_logs.c.ok == ok)
        if stage is not None:
            query = query.where(action_logs.c.stage == stage)
        if since is not None:
            query = query.where(action_logs.c.created_at >= since)
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(query.order_by(action_logs.c.id.desc()).limit(limit))
            ).all()
        return [
            ActionLog(
                action=r.action,
                version=r.version,
                stage=r.stage,
                request_id=r.request_id,
                conversation_id=r.conversation_id,
                ok=r.ok,
                error=r.error,
                logs=r.logs,
                duration_ms=r.duration_ms,
                created_at=aware(r.created_at),
            )
            for r in rows
        ]

    async def purge_logs(self, before: datetime) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                action_logs.delete().where(action_logs.c.created_at < before)
            )
        return int(result.rowcount or 0)


class EnvRepo:
    """A bot's env variables, each with a staging and a production value."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def put(
        self, bot_id: str, name: str, staging: str | None, production: str | None
    ) -> None:
        async with self._engine.begin() as conn:
            await upsert(
                conn,
                env_vars,
                {"bot_id": bot_id, "name": name},
                {"staging": staging, "production": production, "updated_at": utcnow()},
            )

    async def delete(self, bot_id: str, name: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                env_vars.delete().where(env_vars.c.bot_id == bot_id, env_vars.c.name == name)
            )
        return bool(result.rowcount)

    async def all(self, bot_id: str) -> list[EnvVar]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    env_vars.select().where(env_vars.c.bot_id == bot_id).order_by(env_vars.c.name)
                )
            ).all()
        return [EnvVar(r.name, r.staging, r.production, aware(r.updated_at)) for r in rows]

    async def values(self, bot_id: str, stage: str) -> dict[str, str]:
        """The bot's ``stage`` values (``staging`` or ``production``); unset ones left out."""
        return {
            v.name: value
            for v in await self.all(bot_id)
            if (value := v.staging if stage == "staging" else v.production) is not None
        }
