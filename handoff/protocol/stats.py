"""The supervisor's numbers: ``GET /api/v1/stats`` and ``GET /api/v1/stats/live``.

A *conversation* here is one handoff: from ``execute_handoff`` creating (or
reopening) it to its close. It belongs to the period, and to a series bucket,
by the time it started. Percentiles are nearest-rank (the smallest value with at
least p% of the values at or below it), so every one is a value that happened.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from handoff.protocol.common import Count
from handoff.protocol.console import Colleague

__all__ = [
    "MAX_HOURLY_DAYS",
    "MAX_PERIOD_DAYS",
    "SERIES_FIELDS",
    "BotLive",
    "LiveView",
    "Outcomes",
    "Percentiles",
    "SeriesPoint",
    "StatsQuery",
    "StatsView",
    "Totals",
]

MAX_PERIOD_DAYS: Final = 366
"""The longest period one query may cover."""

MAX_HOURLY_DAYS: Final = 31
"""The longest period hourly buckets may cover (744 points)."""

Bucket = Literal["hour", "day"]


class StatsQuery(BaseModel):
    """The query string of ``GET /api/v1/stats``, checked (each error names its field).

    ``from``/``to``: ISO 8601 with an offset; by default today in UTC (midnight to
    now). ``to`` is exclusive. ``bucket``: ``hour`` by default for periods up to two
    days, else ``day``. The defaults and the period's limits are applied by the
    handler (:func:`handoff.api.stats.resolve_period`), which names the field.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    bot_id: str | None = Field(default=None, min_length=1, max_length=64)
    team: str | None = Field(default=None, min_length=1, max_length=100)
    agent_id: str | None = Field(default=None, min_length=1, max_length=64)
    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    bucket: Bucket | None = None
    format: Literal["json", "csv"] = "json"

    @property
    def start(self) -> datetime:
        assert self.from_ is not None
        return self.from_

    @property
    def end(self) -> datetime:
        assert self.to is not None
        return self.to

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self.bucket == "hour" else timedelta(days=1)


class Percentiles(BaseModel):
    """Seconds; null when nothing was measured."""

    p50: float | None = None
    p90: float | None = None
    count: Count = 0
    """How many values they were taken from."""


class Totals(BaseModel):
    conversations: Count = 0
    """Handoffs started in the period."""
    assigned: Count = 0
    """Of those, the ones an agent took."""
    resolved: Count = 0
    abandoned: Count = 0
    no_agent: Count = 0
    timeout: Count = 0
    transfers: Count = 0
    """Transfers to another agent or to a team, in those conversations."""
    open: Count = 0
    """Of those, the ones not closed yet."""


class Outcomes(BaseModel):
    """How agents closed them (``close`` with an outcome); ``none``: closed without one."""

    resolved: Count = 0
    follow_up: Count = 0
    back_to_bot: Count = 0
    none: Count = 0


class SeriesPoint(BaseModel):
    """One bucket, ``start`` to ``start`` + bucket; present even when empty (zeros)."""

    start: datetime
    conversations: Count = 0
    assigned: Count = 0
    resolved: Count = 0
    abandoned: Count = 0
    no_agent: Count = 0
    timeout: Count = 0
    transfers: Count = 0
    wait_p50: float | None = None
    wait_p90: float | None = None
    first_reply_p50: float | None = None
    first_reply_p90: float | None = None
    handle_p50: float | None = None
    handle_p90: float | None = None
    abandonment_rate: float | None = None
    no_agent_rate: float | None = None


SERIES_FIELDS: Final = tuple(SeriesPoint.model_fields)
"""The CSV export's columns, in order."""


class StatsView(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, populate_by_name=True)

    bot_ids: list[str]
    """The bots counted (all the caller may see when no ``bot_id`` was given)."""
    team: str | None
    agent_id: str | None
    from_: datetime = Field(alias="from")
    to: datetime
    bucket: Bucket
    totals: Totals
    abandonment_rate: float | None
    """abandoned / conversations; null without conversations."""
    no_agent_rate: float | None
    outcomes: Outcomes
    wait_seconds: Percentiles
    """Queued (the widget bound) to the first agent taking it."""
    first_reply_seconds: Percentiles
    """The first assignment to the first agent message after it."""
    handle_seconds: Percentiles
    """The first assignment to the close."""
    series: list[SeriesPoint]


class BotLive(BaseModel):
    bot_id: str
    name: str
    queue_length: Count
    longest_wait_seconds: float | None
    """How long the first one in the queue has waited; null for an empty queue."""
    in_progress: Count
    """Conversations an agent has now."""
    agents_online: Count
    agents_away: Count
    agents_offline: Count
    agents: list[Colleague]
    """Who serves the bot, as ``GET /api/v1/bots/{bot_id}/agents`` gives them."""


class LiveView(BaseModel):
    at: datetime
    bots: list[BotLive]
