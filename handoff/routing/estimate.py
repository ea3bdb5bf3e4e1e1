"""How long a person will wait for an agent, from the waits the database recorded.

Every assignment stores its wait (queued → assigned) on the conversation, so the
estimate holds across processes and restarts. The typical wait is the median of
the bot's (or the team's) latest :data:`SAMPLE` waits of the last :data:`WINDOW`;
with fewer than :data:`MIN_WAITS` of them there is no estimate (``None``), never a
made-up constant. A team with too little history of its own uses the bot's.

The estimate for a place in line is ``typical × position ÷ servers``, where
``servers`` is the number of agents with a free slot, or, when all are busy, the
number online (each of them frees up about once per typical wait). Nobody online:
no estimate.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

from handoff.routing.context import Context

__all__ = ["MIN_WAITS", "SAMPLE", "WINDOW", "estimate", "typical_wait"]

MIN_WAITS = 3
SAMPLE = 50
WINDOW = timedelta(hours=24)


async def typical_wait(
    ctx: Context, bot_id: str, team: str | None, *, now: datetime | None = None
) -> float | None:
    """The median recent wait in seconds, or None with too little history."""
    since = (now or datetime.now(UTC)) - WINDOW
    repo = ctx.stores.conversations
    waits = await repo.recent_waits(bot_id, team=team, since=since, limit=SAMPLE)
    if team is not None and len(waits) < MIN_WAITS:
        waits = await repo.recent_waits(bot_id, team=None, since=since, limit=SAMPLE)
    if len(waits) < MIN_WAITS:
        return None
    return float(statistics.median(waits))


def estimate(
    typical: float | None, position: int, agents_online: int, agents_with_capacity: int
) -> float | None:
    """Seconds until the person at ``position`` (1-based) is taken, or None if unknown."""
    if typical is None or agents_online <= 0 or position <= 0:
        return None
    servers = agents_with_capacity if agents_with_capacity > 0 else agents_online
    return round(typical * position / servers, 1)
