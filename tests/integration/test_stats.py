"""GET /api/v1/stats and /stats/live against conversations the test drives through the server.

The expected numbers come from the test's own timeline, read back as the server
stored it (its event and message times), never from the wall clock.
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from handoff.app import ENGINE
from handoff.storage.agents import AgentRecord, AgentRepo
from handoff.storage.db import make_engine
from handoff.storage.migrate import downgrade, upgrade
from tests.conftest import Bot, Server, make_settings, start_server, stop_server


async def _get(
    server: Server, path: str, token: str, headers: dict[str, str] | None = None, **query: str
) -> tuple[int, Any, Any]:
    async with server.http.get(
        f"{server.url}{path}",
        params=query,
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
    ) as resp:
        if resp.content_type == "text/csv":
            return resp.status, await resp.text(), resp.headers
        return resp.status, await resp.json(), resp.headers


async def _staff(server: Server, bot: Bot, role: str) -> tuple[AgentRecord, str]:
    record = await AgentRepo(server.app[ENGINE]).create(
        f"{role}-{time.monotonic_ns()}@example.com", "s3cret-pass", bots=[bot.id], role=role
    )
    return record, await server.login(record.email)


@dataclass
class Day:
    """What the test did, with the server's own times for it."""

    bot: Bot
    handoffs: list[dict[str, Any]]
    supervisor: str
    admin: str
    agent_token: str
    agent_a: AgentRecord
    ben_id: str
    open_cid: str


def _nearest_rank(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(p * len(ordered)) - 1]


async def _drive_a_day(server: Server) -> Day:
    bot = await server.bot()
    other_bot = await server.bot()
    a = await server.agent(bot, name="Anna")
    b = await server.agent(bot, name="Ben")
    sock_a = await server.agent_socket(a)
    sock_b = await server.agent_socket(b, online=False)
    assert (await sock_b.call("set_status", {"status": "away"}))["ok"]

    async def assigned(sock: Any, cid: str) -> None:
        await sock.rec.wait(
            "conversation_assigned", lambda d: d["conversation"]["conversation_id"] == cid
        )

    async def say(sock: Any, cid: str, text: str) -> None:
        ack = await sock.call("send_message", {"conversation_id": cid, "text": text})
        assert ack["ok"], ack

    async def close(sock: Any, cid: str, status: str) -> None:
        ack = await sock.call("close", {"conversation_id": cid, "outcome": {"status": status}})
        assert ack["ok"], ack

    # 1: taken, answered, resolved.
    c1 = (await server.handoff(bot, user={"name": "Ama"}))["ConversationID"]
    w1 = await server.widget(c1, bot)
    await assigned(sock_a, c1)
    await w1.call("from_user", {"message": "my order", "ConversationID": c1, "BotID": bot.id})
    await say(sock_a, c1, "Let me look")
    await say(sock_a, c1, "Found it")
    await close(sock_a, c1, "resolved")
    # 2: taken, answered, transferred to Ben, who closes it with a follow-up owed.
    c2 = (await server.handoff(bot))["ConversationID"]
    await server.widget(c2, bot)
    await assigned(sock_a, c2)
    await say(sock_a, c2, "Hello")
    assert (await sock_b.call("set_status", {"status": "online"}))["ok"]
    ack = await sock_a.call("transfer", {"conversation_id": c2, "to_agent_id": b.id})
    assert ack["ok"], ack
    await assigned(sock_b, c2)
    await close(sock_b, c2, "follow_up")
    assert (await sock_b.call("set_status", {"status": "away"}))["ok"]
    # 3: taken, answered, handed back to the bot.
    c3 = (await server.handoff(bot))["ConversationID"]
    await server.widget(c3, bot)
    await assigned(sock_a, c3)
    await say(sock_a, c3, "Hi there")
    await close(sock_a, c3, "back_to_bot")
    # 1 again: the bot hands the same conversation over once more (a second handoff),
    # and no widget ever binds it: it times out.
    again = await server.handoff(bot, ConversationID=c1)
    assert again["ConversationID"] == c1 and again["state"] == "pending"
    # 4 and 5, with nobody online: one person leaves, one waits past the limit.
    assert (await sock_a.call("set_status", {"status": "away"}))["ok"]
    c4 = (await server.handoff(bot))["ConversationID"]
    w4 = await server.widget(c4, bot)
    c5 = (await server.handoff(bot))["ConversationID"]
    await server.widget(c5, bot)
    await w4.close()
    # Another bot's conversation: never in this bot's numbers.
    await server.handoff(other_bot)
    await server.service.sweep(time.time() + 100_000)
    for cid, reason in ((c4, "abandoned"), (c5, "no_agent"), (c1, "timeout")):
        view = await server.conversations.get(cid)
        assert view is not None and view.close_reason == reason, (cid, view)
    # 6: taken and still open.
    assert (await sock_a.call("set_status", {"status": "online"}))["ok"]
    c6 = (await server.handoff(bot))["ConversationID"]
    await server.widget(c6, bot)
    await assigned(sock_a, c6)

    handoffs: list[dict[str, Any]] = []
    for cid in (c1, c2, c3, c4, c5, c6):
        events = await server.conversations.events(cid)
        sent = [m for m in await server.messages.history(cid) if m.sender == "agent"]
        session: dict[str, Any] | None = None
        for e in events:
            if e["transition"] in ("create", "reopen"):
                session = {"cid": cid, "start": e["at"], "transfers": 0}
                handoffs.append(session)
            assert session is not None
            if e["transition"] == "transfer":
                session["transfers"] += 1
            session.setdefault(e["transition"], e["at"])
        for h in handoffs:
            if h["cid"] == cid and "assign" in h:
                end = next((h[k] for k in ("resolve", "abandon") if k in h), None)
                replies = [
                    m.sent_at
                    for m in sent
                    if m.sent_at >= h["assign"] and (end is None or m.sent_at <= end)
                ]
                if replies:
                    h["reply"] = min(replies)
    supervisor = await _staff(server, bot, "supervisor")
    admin = await _staff(server, other_bot, "admin")
    return Day(bot, handoffs, supervisor[1], admin[1], await server.login(b.email), a, b.id, c6)


def _expected(day: Day) -> dict[str, Any]:
    hs = day.handoffs
    waits = [(h["assign"] - h["bind"]).total_seconds() for h in hs if "assign" in h]
    replies = [(h["reply"] - h["assign"]).total_seconds() for h in hs if "reply" in h]
    handles = [(h["resolve"] - h["assign"]).total_seconds() for h in hs if "resolve" in h]
    return {"wait": waits, "first_reply": replies, "handle": handles}


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) < 1e-5


async def _check_day(server: Server, day: Day) -> None:
    start = min(h["start"] for h in day.handoffs).replace(minute=0, second=0, microsecond=0)
    query = {
        "bot_id": day.bot.id,
        "from": start.isoformat(),
        "to": (start + timedelta(days=1)).isoformat(),
    }
    status, body, _ = await _get(server, "/api/v1/stats", day.supervisor, **query)
    assert status == 200, body
    assert body["totals"] == {
        "conversations": 7,
        "assigned": 4,
        "resolved": 3,
        "abandoned": 1,
        "no_agent": 1,
        "timeout": 1,
        "transfers": 1,
        "open": 1,
    }
    assert body["outcomes"] == {"resolved": 1, "follow_up": 1, "back_to_bot": 1, "none": 0}
    assert body["abandonment_rate"] == pytest.approx(1 / 7)
    assert body["no_agent_rate"] == pytest.approx(1 / 7)
    expected = _expected(day)
    for name, values in expected.items():
        got = body[f"{name}_seconds"]
        assert got["count"] == len(values), (name, got, values)
        assert _close(got["p50"], _nearest_rank(values, 0.5)), (name, got, values)
        assert _close(got["p90"], _nearest_rank(values, 0.9)), (name, got, values)
    assert [len(expected[k]) for k in ("wait", "first_reply", "handle")] == [4, 3, 3]
    # A continuous, zero-filled hourly axis; each conversation in the hour it began.
    series = body["series"]
    assert body["bucket"] == "hour" and len(series) == 24
    starts = [datetime.fromisoformat(p["start"]) for p in series]
    assert starts == [start + timedelta(hours=i) for i in range(24)]
    by_hour: dict[int, int] = {}
    for h in day.handoffs:
        index = int((h["start"] - start).total_seconds() // 3600)
        by_hour[index] = by_hour.get(index, 0) + 1
    assert [p["conversations"] for p in series] == [by_hour.get(i, 0) for i in range(24)]
    assert sum(p["transfers"] for p in series) == 1
    # Each bucket's percentiles from its own conversations only.
    for index, point in enumerate(series):
        mine = [
            h for h in day.handoffs if int((h["start"] - start).total_seconds() // 3600) == index
        ]
        values = _expected(Day(**{**day.__dict__, "handoffs": mine}))
        for name, vs in values.items():
            assert _close(point[f"{name}_p50"], _nearest_rank(vs, 0.5)), (index, name)
            assert _close(point[f"{name}_p90"], _nearest_rank(vs, 0.9)), (index, name)
        abandoned = sum(1 for h in mine if "abandon" in h)
        assert point["abandonment_rate"] == (abandoned / len(mine) if mine else None)

    # Daily buckets over a week that ends tomorrow: 7 days, the conversations on today's.
    week = {
        **query,
        "from": (start - timedelta(days=5)).isoformat(),
        "bucket": "day",
        "to": (start + timedelta(days=2)).isoformat(),
    }
    status, weekly, _ = await _get(server, "/api/v1/stats", day.supervisor, **week)
    assert status == 200 and [p["conversations"] for p in weekly["series"]] == [0] * 5 + [7, 0]

    # One agent's share: the conversations Ben took part in (the transferred one).
    status, ben, _ = await _get(
        server, "/api/v1/stats", day.supervisor, agent_id=day.ben_id, **query
    )
    assert status == 200 and ben["totals"]["conversations"] == 1 and ben["totals"]["transfers"] == 1

    # The same numbers on the admin's dashboard (an admin reads any bot).
    status, as_admin, _ = await _get(server, "/api/v1/stats", day.admin, **query)
    assert status == 200 and as_admin["totals"] == body["totals"]
    # Without bot_id a supervisor reads their bots: here the one.
    status, mine, _ = await _get(
        server, "/api/v1/stats", day.supervisor, **{"from": query["from"], "to": query["to"]}
    )
    assert status == 200 and mine["bot_ids"] == [day.bot.id] and mine["totals"] == body["totals"]

    # CSV: the series rows under a header, as a download.
    status, text, headers = await _get(
        server, "/api/v1/stats", day.supervisor, headers={"Accept": "text/csv"}, **query
    )
    assert status == 200
    assert (
        "attachment" in headers["Content-Disposition"] and ".csv" in headers["Content-Disposition"]
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["conversations"]) for r in rows] == [p["conversations"] for p in series]
    assert list(rows[0])[:2] == ["start", "conversations"]
    status, text2, _ = await _get(server, "/api/v1/stats", day.supervisor, format="csv", **query)
    assert status == 200 and text2 == text

    # A period with no data: zeros and nulls, not an error.
    empty = {
        **query,
        "from": (start - timedelta(days=3)).isoformat(),
        "to": (start - timedelta(days=2)).isoformat(),
    }
    status, none, _ = await _get(server, "/api/v1/stats", day.supervisor, **empty)
    assert status == 200 and none["totals"]["conversations"] == 0
    assert none["wait_seconds"] == {"p50": None, "p90": None, "count": 0}
    assert none["abandonment_rate"] is None and all(p["conversations"] == 0 for p in none["series"])

    # Live: Anna online with the open conversation, Ben away, nobody queued.
    status, live, _ = await _get(server, "/api/v1/stats/live", day.supervisor, bot_id=day.bot.id)
    assert status == 200, live
    (entry,) = live["bots"]
    assert entry["in_progress"] == 1 and entry["queue_length"] == 0
    assert entry["longest_wait_seconds"] is None
    assert (entry["agents_online"], entry["agents_away"]) == (1, 1)
    anna = next(x for x in entry["agents"] if x["id"] == day.agent_a.id)
    assert (anna["status"], anna["load"]) == ("online", 1)


async def test_a_days_numbers_match_what_happened(server: Server) -> None:
    await _check_day(server, await _drive_a_day(server))


async def test_the_same_numbers_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    runner, server = await start_server(make_settings(tmp_path, database_url=postgres_url))
    try:
        await _check_day(server, await _drive_a_day(server))
    finally:
        await stop_server(runner, server)


async def test_the_numbers_hold_across_a_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    runner, server = await start_server(settings)
    try:
        day = await _drive_a_day(server)
        start = min(h["start"] for h in day.handoffs)
        query = {"bot_id": day.bot.id, "from": (start - timedelta(hours=1)).isoformat()}
        before = (await _get(server, "/api/v1/stats", day.supervisor, **query))[1]
    finally:
        await stop_server(runner, server)
    runner, server = await start_server(settings)
    try:
        query["to"] = before["to"]
        status, after, _ = await _get(server, "/api/v1/stats", day.supervisor, **query)
        assert status == 200
        assert after["totals"] == before["totals"] and after["series"] == before["series"]
        assert after["wait_seconds"] == before["wait_seconds"]
    finally:
        await stop_server(runner, server)


async def test_roles_and_bots_are_checked(server: Server) -> None:
    bot = await server.bot()
    other = await server.bot()
    agent = await server.agent(bot)
    agent_token = await server.login(agent.email)
    _, supervisor = await _staff(server, bot, "supervisor")
    _, admin = await _staff(server, bot, "admin")
    for path in ("/api/v1/stats", "/api/v1/stats/live"):
        status, body, _ = await _get(server, path, agent_token)
        assert status == 403 and body["error"]["field"] == "role", body
        assert "supervisor role" in body["error"]["message"]
        status, body, _ = await _get(server, path, supervisor, bot_id=other.id)
        assert status == 403 and body["error"]["field"] == "bot_id", body
        status, body, _ = await _get(server, path, admin, bot_id=other.id)
        assert status == 200, body
        status, body, _ = await _get(server, path, admin, bot_id="bot_nope")
        assert status == 400 and body["error"] == {
            "code": "unknown_bot",
            "message": "unknown bot 'bot_nope'",
            "field": "bot_id",
        }
        status, body, _ = await _get(server, path, "not-a-token")
        assert status == 401, body
    # An admin without bot_id reads every bot; the live view lists them all.
    status, body, _ = await _get(server, "/api/v1/stats/live", admin)
    assert status == 200 and {b["bot_id"] for b in body["bots"]} >= {bot.id, other.id}


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ({"from": "yesterday"}, "from", "datetime"),
        ({"from": "2026-01-02T00:00:00"}, "from", "timezone"),
        ({"to": "2026-13-01T00:00:00Z"}, "to", "datetime"),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from", "after"),
        ({"from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to", "366 days"),
        (
            {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z", "bucket": "hour"},
            "bucket",
            "bucket=day",
        ),
        ({"bucket": "week"}, "bucket", "'hour' or 'day'"),
        ({"format": "xml"}, "format", "'json' or 'csv'"),
        ({"colour": "red"}, "colour", "Extra inputs"),
        ({"team": ""}, "team", "at least 1"),
    ],
)
async def test_bad_queries_name_their_field(
    server: Server, query: dict[str, str], field: str, says: str
) -> None:
    bot = await server.bot()
    _, supervisor = await _staff(server, bot, "supervisor")
    status, body, _ = await _get(server, "/api/v1/stats", supervisor, **query)
    assert status == 400, body
    assert body["error"]["field"] == field and says in body["error"]["message"], body


async def test_an_offset_sent_unencoded_still_reads(server: Server) -> None:
    bot = await server.bot()
    _, supervisor = await _staff(server, bot, "supervisor")
    url = f"{server.url}/api/v1/stats?from=2026-01-01T00:00:00+02:00&to=2026-01-02T00:00:00+02:00"
    async with server.http.get(url, headers={"Authorization": f"Bearer {supervisor}"}) as resp:
        body = await resp.json()
    assert resp.status == 200, body
    assert body["from"].startswith("2026-01-01T00:00:00+02:00")
    assert datetime.fromisoformat(body["series"][0]["start"]) == datetime(
        2025, 12, 31, 22, tzinfo=UTC
    )
    assert len(body["series"]) == 24


async def test_a_team_transfer_counts_and_teams_filter(server: Server) -> None:
    bot = await server.bot()
    billing = await server.agent(bot, teams=["billing"], name="Bea")
    sales = await server.agent(bot, teams=["sales"], name="Sam")
    sock_b = await server.agent_socket(billing)
    sock_s = await server.agent_socket(sales)
    cid = (await server.handoff(bot, team="billing"))["ConversationID"]
    await server.widget(cid, bot)
    await sock_b.rec.wait("conversation_assigned")
    ack = await sock_b.call("transfer", {"conversation_id": cid, "to_team": "sales"})
    assert ack["ok"], ack
    await sock_s.rec.wait("conversation_assigned")
    assert (await sock_s.call("close", {"conversation_id": cid}))["ok"]
    _, supervisor = await _staff(server, bot, "supervisor")
    q = {"bot_id": bot.id, "from": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
    status, body, _ = await _get(server, "/api/v1/stats", supervisor, **q)
    assert status == 200, body
    assert body["totals"]["transfers"] == 1 and body["totals"]["resolved"] == 1
    # Closed by an agent without an outcome.
    assert body["outcomes"] == {"resolved": 0, "follow_up": 0, "back_to_bot": 0, "none": 1}
    # The conversation's team is the one it was transferred to.
    for team, n in (("sales", 1), ("billing", 0)):
        status, body, _ = await _get(server, "/api/v1/stats", supervisor, team=team, **q)
        assert status == 200 and body["totals"]["conversations"] == n, (team, body)
    # Both agents took part in it.
    for agent in (billing, sales):
        status, body, _ = await _get(server, "/api/v1/stats", supervisor, agent_id=agent.id, **q)
        assert status == 200 and body["totals"]["conversations"] == 1, body


async def _migrate_0009_both_ways(url: str) -> None:
    async def indexes() -> set[str]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda c: {i["name"] for i in sa.inspect(c).get_indexes("conversations")}
                )
        finally:
            await engine.dispose()

    await upgrade(url)
    assert "ix_conversations_bot_id_updated_at" in await indexes()
    await downgrade(url, "0007")
    assert "ix_conversations_bot_id_updated_at" not in await indexes()
    await upgrade(url)
    assert "ix_conversations_bot_id_updated_at" in await indexes()


async def test_migration_0009_up_and_down_on_sqlite(tmp_path: Path) -> None:
    await _migrate_0009_both_ways(f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}")


async def test_migration_0009_up_and_down_on_postgres(postgres_url: str) -> None:
    await _migrate_0009_both_ways(postgres_url)
