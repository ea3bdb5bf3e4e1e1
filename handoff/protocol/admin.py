"""The admin API's bodies: bots, agents and teams as an admin manages them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, field_validator

from handoff.protocol.actions import BotSettings, BotSettingsPatch
from handoff.protocol.common import AgentView
from handoff.protocol.rest import RestBody, integral

__all__ = [
    "EMAIL_PATTERN",
    "TEAM_PATTERN",
    "AdminAgent",
    "AgentCreateRequest",
    "AgentList",
    "AgentPatch",
    "ApiKeyView",
    "BotCreateRequest",
    "BotCreated",
    "BotList",
    "PasswordRequest",
    "PasswordView",
    "TeamList",
    "TeamMember",
    "TeamPatch",
    "TeamRequest",
    "TeamView",
]

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
"""Something, an @, a domain with a dot: enough to catch typos; sign-in proves the rest."""
TEAM_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_ .&+-]{0,99}$"
"""A team's name: it travels in paths (``/teams/{team}``), so no ``/`` and no controls."""
MAX_BOTS_PER_AGENT = 100
MAX_TEAMS_PER_BOT = 20
MAX_TEAM_MEMBERS = 1000

Role = Literal["agent", "supervisor", "admin"]
Capacity = Annotated[int, Field(ge=1, le=100), BeforeValidator(integral)]
"""Conversations at once; the console's own ``set_status`` may lower it for a shift."""
Password = Annotated[str, Field(min_length=8, max_length=1024)]
TeamName = Annotated[str, Field(pattern=TEAM_PATTERN)]
BotTeams = dict[str, Annotated[list[TeamName], Field(max_length=MAX_TEAMS_PER_BOT)]]
"""Bot id → the agent's teams for that bot (an empty list: the bot, no team)."""


class BotCreateRequest(BotSettingsPatch):
    """``POST /api/v1/bots``: a name, and any settings a PATCH takes."""

    name: str = Field(min_length=1, max_length=200)


class BotCreated(BaseModel):
    bot: BotSettings
    api_key: str
    """Shown this once: only its hash is stored."""


class BotList(BaseModel):
    bots: list[BotSettings]


class ApiKeyView(BaseModel):
    """A bot's new API key: shown this once; the previous one no longer works."""

    bot_id: str
    api_key: str


class AgentCreateRequest(RestBody):
    email: str = Field(min_length=3, max_length=320, pattern=EMAIL_PATTERN)
    password: Password
    name: str | None = Field(default=None, min_length=1, max_length=200)
    """Left out: the email's part before the @."""
    role: Role = "agent"
    capacity: Capacity = 3
    bots: BotTeams = Field(default_factory=dict, max_length=MAX_BOTS_PER_AGENT)

    @field_validator("email", mode="before")
    @classmethod
    def _trimmed(cls, value: object) -> object:
        # A pasted address often carries spaces; the stored one is trimmed and lowercase.
        return value.strip().lower() if isinstance(value, str) else value


class AgentPatch(RestBody):
    """Left out means "keep"; ``bots`` replaces the agent's bots and teams as a whole."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    capacity: Capacity | None = None
    bots: BotTeams | None = Field(default=None, max_length=MAX_BOTS_PER_AGENT)
    disabled: bool | None = None
    """True: no sign-in, and their open sockets are ended; false: allowed again."""

    @field_validator("name", "role", "capacity", "bots", "disabled")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null (leave it out to keep it)")
        return value


class AdminAgent(AgentView):
    """An agent as an admin sees them: stored settings, live status and load."""

    teams: dict[str, list[str]] = Field(default_factory=dict)
    """Bot id → the agent's teams for that bot."""
    disabled: bool = False


class AgentList(BaseModel):
    agents: list[AdminAgent]


class PasswordRequest(RestBody):
    password: Password | None = None
    """Left out: a random one, in the answer this once."""


class PasswordView(BaseModel):
    agent_id: str
    password: str | None = None
    """The random password when none was given; null otherwise."""


class TeamMember(BaseModel):
    id: str
    name: str


class TeamView(BaseModel):
    name: str
    members: list[TeamMember]


class TeamList(BaseModel):
    bot_id: str
    teams: list[TeamView]
    """By name; a team exists while it has members."""


class TeamRequest(RestBody):
    """``PUT .../teams/{team}``: who is in it (creates it; an empty list deletes it)."""

    members: list[str] = Field(max_length=MAX_TEAM_MEMBERS)


class TeamPatch(RestBody):
    """``PATCH .../teams/{team}``: a new name, the members kept."""

    name: TeamName
