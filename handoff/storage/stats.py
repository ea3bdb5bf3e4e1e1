"""The supervisor's numbers, computed in SQL from the stored transitions and messages.

Every process and every restart reads the same rows, so the numbers hold across
them. One handoff (a *session*) is a conversation's events from its ``create`` or
``reopen`` to the next one: a window function numbers them. Percentiles are
nearest-rank from ``ROW_NUMBER`` and ``COUNT`` windows, which SQLite and
PostgreSQL both run; durations and buckets are the only expressions that differ
between the two (the stored text's seconds against ``extract(epoch ...)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.storage.db import aware
from handoff.storage.tables import bots, conversation_events, conversations, messages

__all__ = ["BucketRow", "LiveCounts", "StatsFilter", "StatsRepo", "StatsResult"]

_STARTS = ("create", "reopen")
_CLOSES = ("resolve", "abandon", "no_agent", "timeout")
_OUTCOMES = ("resolved", "follow_up", "back_to_bot")
TOTALS_BUCKET = -1
"""The bucket number the whole period's percentiles are reported under."""


@dataclass(frozen=True, slots=True)
class StatsFilter:
    start: datetime
    end: datetime
    step: timedelta
    bot_ids: Sequence[str] | None
    """None: every bot."""
    team: str | None = None
    agent_id: str | None = None


@dataclass(slots=True)
class BucketRow:
    counts: dict[str, int] = field(default_factory=dict)
    percentiles: dict[str, float | None] = field(default_factory=dict)


@dataclass(slots=True)
class StatsResult:
    totals: dict[str, int]
    outcomes: dict[str, int]
    percentiles: dict[str, float | None]
    """``wait_p50``, ``wait_p90``, ``wait_count``, ... for the whole period."""
    buckets: dict[int, BucketRow]
    """Bucket number (0 at ``start``) → its numbers; empty buckets are absent."""


@dataclass(frozen=True, slots=True)
class LiveCounts:
    in_progress: dict[str, int]
    """bot id → conversations assigned now."""
    names: dict[str, str]


class StatsRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._pg = engine.dialect.name == "postgresql"

    # expressions that differ by engine ----------------------------------------------
    def _seconds(self, later: Any, earlier: Any) -> sa.ColumnElement[float]:
        if self._pg:
            return sa.cast(sa.func.extract("epoch", later - earlier), sa.Float)
        return _sqlite_epoch(later) - _sqlite_epoch(earlier)

    def _bucket(self, at: Any, start: datetime, step: timedelta) -> sa.ColumnElement[int]:
        offset = self._seconds(at, sa.literal(start, sa.DateTime(timezone=True)))
        size = step.total_seconds()
        if self._pg:
            return sa.cast(sa.func.floor(offset / size), sa.Integer)
        return sa.cast(offset / size, sa.Integer)  # offset >= 0: truncation is floor

    # the period's numbers ---------------------------------------------------------
    def _sessions(self, f: StatsFilter) -> sa.Subquery:
        e = conversation_events
        c = conversations
        scope = sa.select(c.c.id).where(c.c.updated_at >= f.start)
        if f.bot_ids is not None:
            scope = scope.where(c.c.bot_id.in_(list(f.bot_ids)))
        if f.team is not None:
            scope = scope.where(c.c.team == f.team)
        numbered = (
            sa.select(
                e.c.conversation_id.label("cid"),
                e.c.transition,
                e.c.at,
                e.c.detail["agent_id"].as_string().label("agent_id"),
                e.c.detail["team"].as_string().label("team"),
                e.c.detail["outcome"].as_string().label("outcome"),
                sa.func.sum(sa.case((e.c.transition.in_(_STARTS), 1), else_=0))
                .over(partition_by=e.c.conversation_id, order_by=e.c.id)
                .label("session"),
            )
            .where(e.c.conversation_id.in_(scope))
            .cte("numbered")
        )
        n = numbered.c

        def first(transition: str | tuple[str, ...]) -> Any:
            names = (transition,) if isinstance(transition, str) else transition
            return sa.func.min(sa.case((n.transition.in_(names), n.at)))

        transfer = (n.transition == "transfer") | ((n.transition == "requeue") & n.team.isnot(None))
        sessions = sa.select(
            n.cid,
            n.session,
            first(_STARTS).label("start_at"),
            first("bind").label("queued_at"),
            first("assign").label("assigned_at"),
            first(_CLOSES).label("closed_at"),
            sa.func.max(sa.case((n.transition.in_(_CLOSES), n.transition))).label("close"),
            sa.func.max(sa.case((n.transition.in_(_CLOSES), n.outcome))).label("event_outcome"),
            sa.func.sum(sa.case((transfer, 1), else_=0)).label("transfers"),
            sa.func.max(sa.case((n.agent_id == (f.agent_id or ""), 1), else_=0)).label("by_agent"),
        ).group_by(n.cid, n.session)
        s = sessions.subquery("sessions")
        # Outcomes written before the close event carried them: the conversation row's,
        # when this session is the one that closed it.
        outcome = sa.func.coalesce(
            s.c.event_outcome,
            sa.case(
                (s.c.closed_at == c.c.closed_at, c.c.outcome["status"].as_string()),
            ),
        )
        reply = (
            sa.select(sa.func.min(messages.c.sent_at))
            .where(
                messages.c.conversation_id == s.c.cid,
                messages.c.sender == "agent",
                messages.c.sent_at >= s.c.assigned_at,
                sa.or_(s.c.closed_at.is_(None), messages.c.sent_at <= s.c.closed_at),
            )
            .scalar_subquery()
        )
        query = (
            sa.select(
                s.c.cid,
                s.c.start_at,
                s.c.queued_at,
                s.c.assigned_at,
                s.c.closed_at,
                s.c.close,
                s.c.transfers,
                outcome.label("outcome"),
                reply.label("first_reply_at"),
                self._bucket(s.c.start_at, f.start, f.step).label("bucket"),
            )
            .join_from(s, c, c.c.id == s.c.cid)
            .where(
                s.c.start_at >= f.start,
                s.c.start_at < f.end,
            )
        )
        if f.agent_id is not None:
            query = query.where(s.c.by_agent == 1)
        return query.subquery("handoffs")

    async def summary(self, f: StatsFilter) -> StatsResult:
        f = _utc(f)
        h = self._sessions(f)
        counts = [
            sa.func.count().label("conversations"),
            sa.func.count(h.c.assigned_at).label("assigned"),
            *(
                sa.func.sum(sa.case((h.c.close == t, 1), else_=0)).label(name)
                for t, name in (
                    ("resolve", "resolved"),
                    ("abandon", "abandoned"),
                    ("no_agent", "no_agent"),
                    ("timeout", "timeout"),
                )
            ),
            sa.func.sum(sa.case((h.c.closed_at.is_(None), 1), else_=0)).label("open"),
            sa.func.coalesce(sa.func.sum(h.c.transfers), 0).label("transfers"),
        ]
        outcome_counts = [
            *(
                sa.func.sum(sa.case((h.c.outcome == o, 1), else_=0)).label(f"outcome_{o}")
                for o in _OUTCOMES
            ),
            sa.func.sum(
                sa.case(((h.c.close == "resolve") & (h.c.outcome.is_(None)), 1), else_=0)
            ).label("outcome_none"),
        ]
        def between(later: Any, earlier: Any) -> tuple[Any, Any]:
            return self._seconds(later, earlier), later.isnot(None) & earlier.isnot(None)

        durations = {
            "wait": between(h.c.assigned_at, h.c.queued_at),
            "first_reply": between(h.c.first_reply_at, h.c.assigned_at),
            "handle": between(h.c.closed_at, h.c.assigned_at),
        }
        async with self._engine.connect() as conn:
            total_row = (await conn.execute(sa.select(*counts, *outcome_counts))).one()._mapping
            bucket_rows = (
                await conn.execute(sa.select(h.c.bucket, *counts).group_by(h.c.bucket))
            ).all()
            pct: dict[int, dict[str, float | None]] = {}
            for name, (value, needed) in durations.items():
                for bucket, p50, p90, n in await self._percentiles(conn, h, value, needed):
                    row = pct.setdefault(int(bucket), {})
                    row[f"{name}_p50"], row[f"{name}_p90"] = p50, p90
                    row[f"{name}_count"] = n
        totals = {k: int(total_row[k] or 0) for k in (c.name for c in counts)}
        outcomes = {k: int(total_row[f"outcome_{k}"] or 0) for k in (*_OUTCOMES, "none")}
        buckets: dict[int, BucketRow] = {}
        for r in bucket_rows:
            m = r._mapping
            buckets[int(m["bucket"])] = BucketRow(
                counts={k: int(m[k] or 0) for k in totals},
                percentiles=pct.get(int(m["bucket"]), {}),
            )
        return StatsResult(totals, outcomes, pct.get(TOTALS_BUCKET, {}), buckets)

    @staticmethod
    async def _percentiles(
        conn: Any, h: sa.Subquery, value: sa.ColumnElement[float], needed: Any
    ) -> list[tuple[int, float | None, float | None, int]]:
        """p50 and p90 of ``value`` per bucket and for the whole period (bucket -1)."""
        values = sa.union_all(
            sa.select(h.c.bucket.label("b"), value.label("v")).where(needed),
            sa.select(sa.literal(TOTALS_BUCKET).label("b"), value.label("v")).where(needed),
        ).subquery("vals")
        ranked = sa.select(
            values.c.b,
            values.c.v,
            sa.func.row_number().over(partition_by=values.c.b, order_by=values.c.v).label("rn"),
            sa.func.count().over(partition_by=values.c.b).label("n"),
        ).subquery("ranked")
        r = ranked.c
        # Nearest rank: the ceil(p * n)-th value; integer arithmetic on both engines.
        query = sa.select(
            r.b,
            sa.func.max(sa.case((r.rn == (r.n + 1) // 2, r.v))),
            sa.func.max(sa.case((r.rn == (r.n * 9 + 9) // 10, r.v))),
            sa.func.max(r.n),
        ).group_by(r.b)
        rows = (await conn.execute(query)).all()
        return [(int(b), _num(p50), _num(p90), int(n)) for b, p50, p90, n in rows]

    # the live side ------------------------------------------------------------------
    async def bot_ids(self) -> list[str]:
        """Every bot's id (an admin's dashboard covers them all)."""
        async with self._engine.connect() as conn:
            return list((await conn.scalars(sa.select(bots.c.id).order_by(bots.c.id))).all())

    async def live(self, bot_ids: Sequence[str]) -> LiveCounts:
        c = conversations
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(c.c.bot_id, sa.func.count())
                    .where(c.c.bot_id.in_(list(bot_ids)), c.c.state == "assigned")
                    .group_by(c.c.bot_id)
                )
            ).all()
            names = (
                await conn.execute(
                    sa.select(bots.c.id, bots.c.name).where(bots.c.id.in_(list(bot_ids)))
                )
            ).all()
        return LiveCounts({b: int(n) for b, n in rows}, {i: str(nm) for i, nm in names})


def _sqlite_epoch(at: Any) -> sa.ColumnElement[float]:
    """Unix seconds of a stored time, to the microsecond: SQLite's date functions keep
    only milliseconds, so the digits after the dot (always six as SQLAlchemy writes
    them, "YYYY-MM-DD HH:MM:SS.ffffff") are read from the text."""
    whole = sa.cast(sa.func.strftime("%s", at), sa.Float)
    return whole + sa.cast(sa.func.substr(at, 21, 6), sa.Float) / 1_000_000.0


def _num(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _utc(f: StatsFilter) -> StatsFilter:
    """SQLite keeps times as UTC text: bound times must be UTC too."""
    return StatsFilter(
        aware(f.start).astimezone(UTC),
        aware(f.end).astimezone(UTC),
        f.step,
        f.bot_ids,
        f.team,
        f.agent_id,
    )
