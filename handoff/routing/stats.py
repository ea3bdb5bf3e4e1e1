"""The supervisor's numbers: who may read which bot's, the period's stats, the live state.

The period's numbers come from the database (:mod:`handoff.storage.stats`); the
live ones from the routing state, the same that routes conversations (the
:class:`RoutingState` interface, so any implementation of it serves), plus the
database for the conversations in progress and the agents who never connected.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from handoff.errors import BadRequest, Forbidden
from handoff.protocol.stats import (
    BotLive,
    LiveView,
    Outcomes,
    Percentiles,
    SeriesPoint,
    StatsQuery,
    StatsView,
    Totals,
)
from handoff.routing.colleagues import agents_with_presence
from handoff.routing.context import Context
from handoff.routing.model import AgentStatus
from handoff.routing.roles import Role, has_role, require_role
from handoff.storage.agents import AgentRecord
from handoff.storage.stats import StatsFilter, StatsRepo

__all__ = ["Statistics"]

_METRICS = ("wait", "first_reply", "handle")


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class Statistics:
    def __init__(self, ctx: Context, repo: StatsRepo) -> None:
        self._ctx = ctx
        self._repo = repo

    async def _scope(self, record: AgentRecord, bot_id: str | None) -> list[str] | None:
        """The bots the caller may read, narrowed to ``bot_id``; None: every bot (admin)."""
        require_role(record, Role.SUPERVISOR, to="reading the dashboard's numbers")
        admin = has_role(record, Role.ADMIN)
        if bot_id is None:
            return None if admin else list(record.bots)
        if bot_id in record.bots:
            return [bot_id]
        if not admin:
            raise Forbidden("you do not serve this bot", field="bot_id")
        if bot_id not in await self._repo.bot_ids():
            raise BadRequest(f"unknown bot {bot_id!r}", field="bot_id", code="unknown_bot")
        return [bot_id]

    async def period(self, record: AgentRecord, query: StatsQuery) -> StatsView:
        """``GET /api/v1/stats``: the period's totals, percentiles and zero-filled series."""
        scope = await self._scope(record, query.bot_id)
        bot_ids = scope if scope is not None else await self._repo.bot_ids()
        result = await self._repo.summary(
            StatsFilter(
                query.start,
                query.end,
                query.step,
                scope,
                team=query.team,
                agent_id=query.agent_id,
            )
        )
        totals = result.totals
        series: list[SeriesPoint] = []
        for index, start in enumerate(_bucket_starts(query.start, query.end, query.step)):
            row = result.buckets.get(index)
            if row is None:
                series.append(SeriesPoint(start=start))
                continue
            n = row.counts["conversations"]
            point: dict[str, object] = {
                "start": start,
                **{k: v for k, v in row.counts.items() if k != "open"},
                **{k: v for k, v in row.percentiles.items() if not k.endswith("_count")},
                "abandonment_rate": _rate(row.counts["abandoned"], n),
                "no_agent_rate": _rate(row.counts["no_agent"], n),
            }
            series.append(SeriesPoint.model_validate(point))
        pct = result.percentiles

        def percentiles(name: str) -> Percentiles:
            return Percentiles(
                p50=pct.get(f"{name}_p50"),
                p90=pct.get(f"{name}_p90"),
                count=int(pct.get(f"{name}_count") or 0),
            )

        return StatsView(
            bot_ids=bot_ids,
            team=query.team,
            agent_id=query.agent_id,
            from_=query.start,  # type: ignore[call-arg]  # populate_by_name
            to=query.end,
            bucket=query.bucket or "hour",
            totals=Totals(**totals),
            abandonment_rate=_rate(totals["abandoned"], totals["conversations"]),
            no_agent_rate=_rate(totals["no_agent"], totals["conversations"]),
            outcomes=Outcomes(**result.outcomes),
            wait_seconds=percentiles("wait"),
            first_reply_seconds=percentiles("first_reply"),
            handle_seconds=percentiles("handle"),
            series=series,
        )

    async def live(self, record: AgentRecord, bot_id: str | None) -> LiveView:
        """``GET /api/v1/stats/live``: agents, queues and conversations in progress now."""
        scope = await self._scope(record, bot_id)
        bot_ids = scope if scope is not None else await self._repo.bot_ids()
        ctx = self._ctx
        counts = await self._repo.live(bot_ids)
        now = time.time()
        bots: list[BotLive] = []
        for bid in bot_ids:
            if bid not in counts.names:
                continue  # deleted meanwhile
            agents = await agents_with_presence(ctx, bid)
            queue = await ctx.state.queue(bid)
            oldest = min((e.enqueued_at for e in queue), default=None)
            by_status = {s: sum(a.status == s.value for a in agents) for s in AgentStatus}
            bots.append(
                BotLive(
                    bot_id=bid,
                    name=counts.names[bid],
                    queue_length=len(queue),
                    longest_wait_seconds=None if oldest is None else max(0.0, now - oldest),
                    in_progress=counts.in_progress.get(bid, 0),
                    agents_online=by_status[AgentStatus.ONLINE],
                    agents_away=by_status[AgentStatus.AWAY],
                    agents_offline=by_status[AgentStatus.OFFLINE],
                    agents=agents,
                )
            )
        return LiveView(at=datetime.now(UTC), bots=bots)

    async def queues(self) -> list[tuple[str, int, float | None]]:
        """Every bot's queue now: ``(bot_id, length, longest wait in seconds or None)``.

        For ``/metrics``, read at scrape time from the routing state (no counter kept by hand).
        """
        now = time.time()
        result: list[tuple[str, int, float | None]] = []
        for bid in await self._repo.bot_ids():
            queue = await self._ctx.state.queue(bid)
            oldest = min((e.enqueued_at for e in queue), default=None)
            result.append((bid, len(queue), None if oldest is None else max(0.0, now - oldest)))
        return result


def _bucket_starts(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Every bucket's start from ``start`` up to ``end`` (one at least, for an empty period)."""
    starts = [start]
    while starts[-1] + step < end:
        starts.append(starts[-1] + step)
    return starts
