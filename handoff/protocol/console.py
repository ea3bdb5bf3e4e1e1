"""What an agent console reads and writes over REST besides the chat itself.

The signed-in agent's profile, colleagues for a transfer, canned responses,
private notes and tags. Any client may use them: the console speaks only these.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from handoff.protocol.common import AgentView, Count
from handoff.protocol.rest import RestBody

__all__ = [
    "MAX_CANNED_PER_BOT",
    "MAX_TAGS",
    "MAX_TAG_CHARS",
    "MAX_TEXT_CHARS",
    "SHORTCUT_PATTERN",
    "AgentProfile",
    "BotDetail",
    "CannedList",
    "CannedRequest",
    "CannedResponseView",
    "Colleague",
    "ColleagueList",
    "NoteAuthor",
    "NoteList",
    "NoteRequest",
    "NoteView",
    "TagsRequest",
    "TagsView",
]

MAX_TEXT_CHARS: Final = 4000
"""A canned response's or a note's text, at most (characters)."""
MAX_CANNED_PER_BOT: Final = 500
MAX_TAGS: Final = 20
MAX_TAG_CHARS: Final = 32
SHORTCUT_PATTERN: Final = r"^[A-Za-z0-9_\-]{1,32}$"
_SHORTCUT: Final = re.compile(SHORTCUT_PATTERN)
"""A canned response's shortcut as sent; it is stored (and matched) lower-case."""

# JSON Schema's side of "not blank": some character that is not whitespace. The server
# also counts invisible characters (zero-width spaces, joiners) as blank.
_NOT_BLANK: JsonDict = {"pattern": r"\S"}


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class BotDetail(_Out):
    """A bot the agent serves, as a console shows it."""

    id: str
    name: str
    assignment_mode: Literal["auto", "manual"]


class AgentProfile(AgentView):
    """``GET /api/v1/agents/me``: the *Agent* object plus what a console needs to start."""

    bot_details: list[BotDetail] = Field(default_factory=list)
    teams: dict[str, list[str]] = Field(default_factory=dict)
    """Bot id → the agent's teams for that bot."""
    away_after_seconds: Count = 0
    """``HANDOFF_AGENT_AWAY_SECONDS``: go ``away`` after this long idle (0: never)."""
    max_message_bytes: Count = 0
    """``HANDOFF_MAX_MESSAGE_BYTES``: the longest ``send_message`` text, in UTF-8 bytes."""


class Colleague(_Out):
    id: str
    name: str
    status: Literal["online", "away", "offline"]
    """As routing sees it; ``offline`` while no socket of theirs is connected."""
    load: Count
    capacity: Count
    teams: list[str]


class ColleagueList(_Out):
    """``GET /api/v1/bots/{bot_id}/agents``: who could take a transfer."""

    agents: list[Colleague]
    teams: list[str]
    """Every team name of the bot's agents, sorted."""


class CannedRequest(RestBody):
    """``POST`` or ``PUT`` of a canned response."""

    shortcut: str = Field(json_schema_extra={"pattern": SHORTCUT_PATTERN})
    """Typed after ``/`` in the console; stored lower-case, unique per bot."""
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, json_schema_extra=_NOT_BLANK)

    @field_validator("shortcut")
    @classmethod
    def _lower(cls, value: str) -> str:
        # Said in words: the console shows this message to the admin as it is.
        if not _SHORTCUT.fullmatch(value):
            raise PydanticCustomError(
                "shortcut",
                "a shortcut is 1 to 32 letters, digits, _ or - (no spaces); agents type it after /",
            )
        return value.lower()


class CannedResponseView(_Out):
    id: int
    bot_id: str
    shortcut: str
    text: str
    updated_at: datetime


class CannedList(_Out):
    canned_responses: list[CannedResponseView]


class NoteRequest(RestBody):
    """``POST /api/v1/conversations/{conversation_id}/notes``."""

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, json_schema_extra=_NOT_BLANK)


class NoteAuthor(_Out):
    id: str
    name: str


class NoteView(_Out):
    """A private note: agents see it, the person and the bot's webhooks never do."""

    id: int
    conversation_id: str
    agent: NoteAuthor
    text: str
    created_at: datetime


class NoteList(_Out):
    notes: list[NoteView]


_TAG_SCHEMA: JsonDict = {"minLength": 1, "maxLength": MAX_TAG_CHARS, **_NOT_BLANK}
# Checked by the model's validator, so that every refusal names ``tags``; the
# document states the same rules per item.
_Tag = Annotated[
    str,
    Field(json_schema_extra=_TAG_SCHEMA),
]


class TagsRequest(RestBody):
    """``PUT /api/v1/conversations/{conversation_id}/tags``: the whole new set."""

    tags: list[_Tag] = Field(max_length=MAX_TAGS)

    @field_validator("tags")
    @classmethod
    def _tidy(cls, tags: list[str]) -> list[str]:
        """Trimmed, and each once: the first spelling of a tag (ignoring case) is kept."""
        seen: set[str] = set()
        tidy: list[str] = []
        for raw in tags:
            tag = raw.strip()
            if not tag:
                raise ValueError("a tag is empty (only spaces)")
            if len(raw) > MAX_TAG_CHARS:
                raise ValueError(f"a tag is over {MAX_TAG_CHARS} characters: {raw[:40]!r}")
            if tag.casefold() not in seen:
                seen.add(tag.casefold())
                tidy.append(tag)
        return tidy


class TagsView(_Out):
    conversation_id: str
    tags: list[str]
