"""Custom actions for bot builders: the storage side of the runner.

The runner (``handoff.runner``) runs code; this keeps the code's versions,
the bot's env variables, the execution logs and the state actions save, and
decides which version and which variables a call gets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from handoff.errors import BadRequest, Conflict, NotFound
from handoff.metrics import ACTION_CALLS
from handoff.protocol.actions import ACTION_NAME, ENV_NAME, EnvVarView, InvocationView
from handoff.runner import (
    CodeProblem,
    DetailLimits,
    EventInput,
    InvocationRequest,
    InvocationResult,
    RunnerPool,
    validate_code,
)
from handoff.storage.actions import ActionLog, ActionRepo, ActionVersion, EnvRepo
from handoff.storage.bots import BotRecord
from handoff.storage.db import utcnow
from handoff.storage.details import DetailsRepo

__all__ = ["ActionService", "ActionSettings", "Invocation"]

log = logging.getLogger(__name__)

_MASK = "********"


@dataclass(frozen=True, slots=True)
class ActionSettings:
    env_value_max_chars: int = 50
    conversation_details_ttl: timedelta = timedelta(hours=3)
    log_retention: timedelta = timedelta(days=1)
    limits: DetailLimits = field(default_factory=DetailLimits)
    default_fallback: str = "Sorry, something went wrong on my side. Please try again."


@dataclass(frozen=True, slots=True)
class Invocation:
    view: InvocationView
    result: InvocationResult


def check_name(name: str) -> str:
    if not ACTION_NAME.match(name):
        raise BadRequest(
            "an action name is 1-100 letters, digits, '_' or '-'",
            field="name",
            code="invalid_name",
        )
    return name


def _user_id(user: dict[str, Any]) -> str | None:
    for key in ("user_id", "id", "auth_user_id"):
        value = user.get(key)
        if isinstance(value, str | int) and str(value):
            return str(value)
    return None


class ActionService:
    def __init__(
        self,
        *,
        actions: ActionRepo,
        env: EnvRepo,
        details: DetailsRepo,
        pool: RunnerPool,
        settings: ActionSettings,
    ) -> None:
        self.actions = actions
        self.env = env
        self.details = details
        self.pool = pool
        self.settings = settings

    # saving and publishing ------------------------------------------------
    async def save(self, bot: BotRecord, name: str, code: str) -> tuple[int, list[CodeProblem]]:
        """Validate and store ``code``; saved even with errors so the builder keeps their work."""
        check_name(name)
        problems = validate_code(code)
        version = await self.actions.save(bot.id, name, code, [p.model_dump() for p in problems])
        return version, problems

    async def _version(self, bot: BotRecord, name: str, version: int | None) -> ActionVersion:
        found = await self.actions.version(bot.id, check_name(name), version)
        if found is None:
            what = f"version {version} of action {name!r}" if version else f"action {name!r}"
            raise NotFound(
                f"no {what}; save it first",
                field="version" if version else "name",
                code="unknown_action",
            )
        return found

    async def publish(self, bot: BotRecord, name: str, version: int | None) -> int:
        """Make a saved version the production one ("Train Bot"); earlier ones stay."""
        found = await self._version(bot, name, version)
        if found.errors:
            first = found.errors[0]
            raise Conflict(
                f"version {found.version} has errors and cannot be published: line "
                f"{first.get('line')}: {first.get('message')}",
                field="version",
                code="action_has_errors",
            )
        await self.actions.publish(bot.id, name, found.version)
        # Warm workers keep compiled code by content hash, so nothing to evict.
        return found.version

    # running ----------------------------------------------------------------
    async def test(
        self, bot: BotRecord, name: str, sample: dict[str, Any], version: int | None
    ) -> Invocation:
        """Live test: the saved code on sample input, with the staging variables."""
        found = await self._version(bot, name, version)
        try:
            data = EventInput.model_validate(sample)
        except ValueError as exc:
            raise BadRequest(f"input: {exc}", field="input") from None
        return await self._run(bot, found, data, stage="staging", conversation_id=None)

    async def invoke(
        self,
        bot: BotRecord,
        name: str,
        *,
        conversation_id: str | None,
        user: dict[str, Any],
        entities: Any,
        node: Any,
        event: Any,
    ) -> Invocation:
        """A production call: the published version, production variables, stored state."""
        check_name(name)
        found = await self.actions.production(bot.id, name)
        if found is None:
            raise NotFound(
                f"action {name!r} has no published version; publish it first",
                field="name",
                code="not_published",
            )
        user_id = _user_id(user)
        stored_user = await self.details.user(user_id) if user_id else None
        key = self._conversation_key(bot, conversation_id, user_id)
        stored_conversation = await self.details.conversation(key) if key else {}
        data = EventInput(
            node=node,
            event=event,
            user=user,
            entities=entities,
            user_details=stored_user
            if stored_user is not None
            else {"language_code": "en", "name": "Guest User"},
            conversation_details=stored_conversation,
        )
        done = await self._run(
            bot, found, data, stage="production", conversation_id=conversation_id
        )
        result = done.result
        if result.ok:
            # Only a successful call saves state: a broken one never loses what is stored.
            if result.user_details is not None and user_id:
                await self.details.save_user(user_id, result.user_details)
            if result.conversation_details is not None and key:
                await self.details.save_conversation(
                    key, result.conversation_details, self.settings.conversation_details_ttl
                )
        return done

    @staticmethod
    def _conversation_key(
        bot: BotRecord, conversation_id: str | None, user_id: str | None
    ) -> str | None:
        if conversation_id:
            return f"{bot.id}:c:{conversation_id}"
        if user_id:
            return f"{bot.id}:u:{user_id}"
        return None

    async def _run(
        self,
        bot: BotRecord,
        found: ActionVersion,
        data: EventInput,
        *,
        stage: str,
        conversation_id: str | None,
    ) -> Invocation:
        request = InvocationRequest(
            bot_id=bot.id,
            action=found.name,
            code=found.code,
            input=data,
            env=await self.env.values(bot.id, stage),
            timeout_s=bot.action_timeout_seconds,
            limits=self.settings.limits,
        )
        result = await self.pool.invoke(request)
        kind = "ok" if result.ok else str(result.error.kind) if result.error else "error"
        ACTION_CALLS.labels(stage, kind).inc()
        if not result.ok and result.error is not None:
            log.info(
                "action %s/%s v%d (%s) broke: %s: %s",
                bot.id,
                found.name,
                found.version,
                stage,
                result.error.kind,
                result.error.message,
            )
        await self.actions.log(
            bot.id,
            ActionLog(
                action=found.name,
                version=found.version,
                stage=stage,
                request_id=result.request_id or request.request_id,
                conversation_id=conversation_id,
                ok=result.ok,
                error=result.error.model_dump(mode="json") if result.error else None,
                logs=result.logs,
                duration_ms=result.duration_ms,
                created_at=utcnow(),
            ),
        )
        view = InvocationView(
            ok=result.ok,
            output=result.output,
            logs=result.logs,
            duration_ms=round(result.duration_ms, 3),
            error=result.error,
            request_id=result.request_id or request.request_id,
            version=found.version,
            status_code=result.status_code,
        )
        return Invocation(view, result)

    def fallback(self, bot: BotRecord) -> str:
        return bot.fallback_message or self.settings.default_fallback

    # env variables ------------------------------------------------------------
    async def put_env(
        self,
        bot: BotRecord,
        name: str,
        staging: str | None,
        production: str | None,
        *,
        keep: set[str] | None = None,
    ) -> EnvVarView:
        """Set a variable; the stages named in ``keep`` keep their stored value."""
        if not ENV_NAME.match(name):
            raise BadRequest(
                "an env variable name is a letter or '_' then letters, digits or '_', at most 100",
                field="name",
                code="invalid_name",
            )
        limit = self.settings.env_value_max_chars
        for which, value in (("staging", staging), ("production", production)):
            if value is not None and len(value) > limit:
                raise BadRequest(
                    f"{which} is {len(value)} characters; the limit is {limit}",
                    field=which,
                    code="value_too_long",
                )
            if value is not None and "\0" in value:
                raise BadRequest(f"{which} contains a NUL character", field=which)
        keep = keep or set()
        if {"staging", "production"} <= keep:
            raise BadRequest("give staging, production or both", field="staging")
        if keep:
            stored = next((v for v in await self.env.all(bot.id) if v.name == name), None)
            if stored is not None:
                staging = stored.staging if "staging" in keep else staging
                production = stored.production if "production" in keep else production
        await self.env.put(bot.id, name, staging, production)
        await self.pool.retire_bot(bot.id)
        return next(v for v in await self.list_env(bot) if v.name == name)

    async def delete_env(self, bot: BotRecord, name: str) -> None:
        if not await self.env.delete(bot.id, name):
            raise NotFound(f"no env variable {name!r}", field="name", code="unknown_variable")
        await self.pool.retire_bot(bot.id)

    async def list_env(self, bot: BotRecord) -> list[EnvVarView]:
        """The bot's variables with their values masked: secrets never leave once set."""
        return [
            EnvVarView(
                name=v.name,
                staging=_MASK if v.staging is not None else None,
                production=_MASK if v.production is not None else None,
                updated_at=v.updated_at,
            )
            for v in await self.env.all(bot.id)
        ]

    # housekeeping ---------------------------------------------------------------
    async def purge(self) -> tuple[int, int]:
        """Drop execution logs older than a day and expired conversation details."""
        logs = await self.actions.purge_logs(utcnow() - self.settings.log_retention)
        details = await self.details.purge_expired()
        return logs, details
