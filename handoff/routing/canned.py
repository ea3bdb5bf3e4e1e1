"""Canned responses: every agent of a bot reads them, its admins manage them."""

from __future__ import annotations

from handoff.errors import BadRequest, Conflict, NotFound
from handoff.protocol.console import MAX_CANNED_PER_BOT, CannedResponseView
from handoff.routing.context import Context, is_blank
from handoff.routing.refusals import NotYourBot
from handoff.routing.roles import Role, require_role
from handoff.storage.agents import AgentRecord
from handoff.storage.canned import CannedFull, DuplicateShortcut

__all__ = ["CannedResponses", "UnknownCanned"]


class UnknownCanned(NotFound):
    code = "unknown_canned_response"

    def __init__(self) -> None:
        super().__init__("this bot has no canned response with this id", field="id")


def _duplicate(shortcut: str) -> Conflict:
    return Conflict(
        f"this bot has a canned response /{shortcut} already", field="shortcut", code="conflict"
    )


class CannedResponses:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def list(self, record: AgentRecord, bot_id: str) -> list[CannedResponseView]:
        """The bot's canned responses, by shortcut; for any agent who serves it."""
        _serves(record, bot_id)
        return await self._ctx.stores.canned.list(bot_id)

    async def create(
        self, record: AgentRecord, bot_id: str, shortcut: str, text: str
    ) -> CannedResponseView:
        _manages(record, bot_id)
        _check_text(text)
        try:
            return await self._ctx.stores.canned.create(
                bot_id, shortcut, text, limit=MAX_CANNED_PER_BOT
            )
        except DuplicateShortcut:
            raise _duplicate(shortcut) from None
        except CannedFull:
            raise Conflict(
                f"this bot has {MAX_CANNED_PER_BOT} canned responses, the most it may have; "
                "delete one first",
                field="bot_id",
                code="too_many_canned_responses",
            ) from None

    async def update(
        self, record: AgentRecord, bot_id: str, canned_id: int | None, shortcut: str, text: str
    ) -> CannedResponseView:
        _manages(record, bot_id)
        _check_text(text)
        if canned_id is None:
            raise UnknownCanned()
        try:
            updated = await self._ctx.stores.canned.update(bot_id, canned_id, shortcut, text)
        except DuplicateShortcut:
            raise _duplicate(shortcut) from None
        if updated is None:
            raise UnknownCanned()
        return updated

    async def delete(self, record: AgentRecord, bot_id: str, canned_id: int | None) -> None:
        _manages(record, bot_id)
        if canned_id is None or not await self._ctx.stores.canned.delete(bot_id, canned_id):
            raise UnknownCanned()


def _serves(record: AgentRecord, bot_id: str) -> None:
    if bot_id not in record.bots:
        raise NotYourBot(field="bot_id")


def _manages(record: AgentRecord, bot_id: str) -> None:
    _serves(record, bot_id)
    require_role(record, Role.ADMIN, to="managing canned responses")


def _check_text(text: str) -> None:
    if is_blank(text):
        raise BadRequest("text is empty (only spaces or invisible characters)", field="text")
