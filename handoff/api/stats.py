"""REST: the supervisor's numbers, as JSON or CSV, and the live state."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from aiohttp import web
from pydantic import ValidationError

from handoff.api.auth import agent_from_request
from handoff.api.keys import SERVICE
from handoff.api.middleware import json_response
from handoff.errors import BadRequest, from_validation_error
from handoff.protocol.stats import (
    MAX_HOURLY_DAYS,
    MAX_PERIOD_DAYS,
    SERIES_FIELDS,
    StatsQuery,
    StatsView,
)

__all__ = ["resolve_period", "setup_stats_routes"]

# A "+" in a query string arrives as a space when the client did not encode it
# (%2B): an offset after a space is read as the "+" it was.
_SPACE_OFFSET = re.compile(r" (\d\d(:?\d\d)?)$")


def _query(request: web.Request, model: type[StatsQuery]) -> StatsQuery:
    data: dict[str, str] = {}
    for key, value in request.query.items():
        if key in data:
            raise BadRequest(f"{key} is given twice", field=key)
        data[key] = _SPACE_OFFSET.sub(r"+\1", value) if key in ("from", "to") else value
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def resolve_period(query: StatsQuery, now: datetime | None = None) -> StatsQuery:
    """The query with its defaults filled in (today in UTC, an hour or a day bucket),
    or :class:`BadRequest` naming the field that makes the period impossible."""
    now = now or datetime.now(UTC)
    start, end = query.from_, query.to
    if start is None:
        base = end if end is not None and end < now else now
        start = base.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if end is None:
        end = max(now, start)
    if start > end:
        raise BadRequest("from is after to", field="from", code="invalid_period")
    span = end - start
    if span > timedelta(days=MAX_PERIOD_DAYS):
        raise BadRequest(
            f"the period is {span.days} days; at most {MAX_PERIOD_DAYS} days",
            field="to",
            code="invalid_period",
        )
    bucket = query.bucket or ("hour" if span <= timedelta(days=2) else "day")
    if bucket == "hour" and span > timedelta(days=MAX_HOURLY_DAYS):
        raise BadRequest(
            f"hourly buckets cover at most {MAX_HOURLY_DAYS} days; use bucket=day",
            field="bucket",
            code="invalid_period",
        )
    return query.model_copy(update={"from_": start, "to": end, "bucket": bucket})


def _wants_csv(request: web.Request, query: StatsQuery) -> bool:
    if query.format == "csv":
        return True
    accept = request.headers.get("Accept", "")
    return "text/csv" in accept and "application/json" not in accept


def _csv(view: StatsView) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SERIES_FIELDS)
    for point in view.series:
        row = point.model_dump(mode="json")
        writer.writerow(["" if row[k] is None else row[k] for k in SERIES_FIELDS])
    stamp = view.from_.strftime("%Y%m%dT%H%M")
    response = web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="handoff-stats-{stamp}-{view.bucket}.csv"'
    )
    return response


async def stats(request: web.Request) -> web.Response:
    record = await agent_from_request(request)
    query = resolve_period(_query(request, StatsQuery))
    view = await request.app[SERVICE].stats.period(record, query)
    if _wants_csv(request, query):
        return _csv(view)
    return json_response(view)


async def live(request: web.Request) -> web.Response:
    record = await agent_from_request(request)
    bot_id = request.query.get("bot_id")
    unknown = sorted(set(request.query) - {"bot_id"})
    if unknown:
        raise BadRequest(f"unknown parameter {unknown[0]!r}; only bot_id", field=unknown[0])
    if bot_id is not None and not 0 < len(bot_id) <= 64:
        raise BadRequest("bot_id must be 1 to 64 characters", field="bot_id")
    return json_response(await request.app[SERVICE].stats.live(record, bot_id))


def setup_stats_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/stats", stats)
    app.router.add_get("/api/v1/stats/live", live)
