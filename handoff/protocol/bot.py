"""The bot side's bodies: ``provide_handoff_options``, business hours, bounded packet parts."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema

from handoff.protocol.common import Count
from handoff.protocol.rest import CONVERSATION_ID_PATTERN, RestBody, UserDict

__all__ = [
    "DAYS",
    "BusinessHours",
    "Day",
    "HandoffOptions",
    "HandoffOptionsRequest",
    "Reason",
]

Reason = Literal[
    "agents_available", "no_agent_online", "all_agents_busy", "outside_business_hours", "queue_full"
]
"""Why a human can (or cannot) take the conversation now: a stable code bots branch on."""

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""In ``date.weekday()`` order."""

HHMM_PATTERN = r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$"
"""A wall-clock time ``HH:MM``, 00:00 to 24:00 (the next midnight)."""
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ZONES: frozenset[str] = frozenset(available_timezones())
"""Every IANA zone name this server knows (its own ``tzdata``, or the system's)."""


def _iso_date(value: str) -> str:
    # fromisoformat alone also takes "20261225" and "2026-W52-5".
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not a date YYYY-MM-DD") from None


def _known_zone(value: str) -> str:
    if value not in ZONES:
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Africa/Johannesburg)")
    return value


HHMM = Annotated[str, Field(pattern=HHMM_PATTERN)]
TimeRange = Annotated[list[HHMM], Field(min_length=2, max_length=2)]
"""``[start, end]``; an end not after the start is on the next day (an overnight range)."""
HolidayDate = Annotated[
    str, AfterValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})
]
TimeZoneName = Annotated[
    str, AfterValidator(_known_zone), WithJsonSchema({"type": "string", "enum": sorted(ZONES)})
]


class BusinessHours(RestBody):
    """When a bot's agents work: weekly ranges in an IANA time zone, and closed dates."""

    time_zone: TimeZoneName
    weekly: dict[Day, Annotated[list[TimeRange], Field(max_length=12)]]
    """Open ranges per day, ``[["08:00", "17:00"]]``; a day left out is closed."""
    holidays: list[HolidayDate] = Field(default_factory=list, max_length=400)
    """Dates (in the bot's zone) that are closed all day."""


class HandoffOptionsRequest(RestBody):
    """``provide_handoff_options``: can a human take this conversation now?"""

    ConversationID: str | None = Field(
        default=None, min_length=8, max_length=128, pattern=CONVERSATION_ID_PATTERN
    )
    language_code: str | None = Field(default=None, min_length=2, max_length=35)
    team: str | None = Field(default=None, min_length=1, max_length=100)
    user: UserDict = Field(default_factory=dict)


class HandoffOptions(BaseModel):
    """The truth about right now, and what to show the person."""

    available: bool
    """True when joining the queue works now (see ``reason``)."""
    reason: Reason
    agents_online: Count
    agents_with_capacity: Count
    queue_length: Count
    queue_position_if_joined: Count
    estimated_wait_seconds: float | None
    """From recent real waits; null with fewer than 3 in the last 24 hours, or nobody online."""
    within_business_hours: bool
    next_open_at: str | None
    """When the bot opens next (ISO 8601 with the bot's UTC offset); null when open or unknown."""
    language: str
    """The language ``messages`` are in."""
    language_fallback: bool
    """True when ``language_code`` has no texts and English was used instead."""
    messages: list[dict[str, Any]]
    """Chat elements (HSL: ``TEXT``, ``BUTTON``, ``QUICK_REPLY``) to show the person."""
