"""The typed hand-back on close, "leave a message", and the outcome column's migration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from handoff.storage.conversations import ConversationRepo
from handoff.storage.db import make_engine, utcnow
from handoff.storage.migrate import upgrade
from handoff.storage.tables import bots, conversations
from tests.conftest import Bot, Server
from tests.integration.webhook_receiver import Receiver, verify

SECRET = "whsec-test-0123456789abcdef"


def auth(bot: Bot) -> dict[str, str]:
    return {"Authorization": f"Bearer {bot.api_key}"}


async def test_a_typed_outcome_is_stored_and_shown_to_the_bot(server: Server) -> None:
    bot = await server.bot()
    cid, _, sock = await server.live_pair(bot)
    outcome = {"status": "follow_up", "note": "call back", "variables": {"ticket": "T-1"}}
    ack = await sock.call("close", {"conversation_id": cid, "outcome": outcome})
    assert ack["ok"] and ack["conversation"]["outcome"] == outcome
    async with server.http.get(
        f"{server.url}/api/v1/bots/{bot.id}/conversations/{cid}", headers=auth(bot)
    ) as resp:
        view = await resp.json()
    assert (view["state"], view["close_reason"], view["outcome"]) == ("closed", "resolved", outcome)
    # No outcome at all is still a close.
    cid2, _, sock2 = await server.live_pair(bot)
    ack = await sock2.call("close", {"conversation_id": cid2})
    assert ack["ok"] and ack["conversation"]["outcome"] is None


async def test_bad_outcomes_are_refused_naming_the_field(server: Server) -> None:
    bot = await server.bot()
    cid, _, sock = await server.live_pair(bot)
    many = {f"v{i}": "x" for i in range(51)}
    for outcome, field in [
        ({"status": "done"}, "outcome.status"),
        ({"note": "no status"}, "outcome.status"),
        ({"status": "resolved", "note": "n" * 2001}, "outcome.note"),
        ({"status": "resolved", "variables": {"x": "v" * 1001}}, "outcome.variables.x"),
        ({"status": "resolved", "variables": {"x": 5}}, "outcome.variables.x"),
        ({"status": "resolved", "variables": {"bad-name": "v"}}, "outcome.variables.bad-name"),
        ({"status": "resolved", "variables": {"1st": "v"}}, "outcome.variables.1st"),
        ({"status": "resolved", "variables": many}, "outcome.variables"),
        ({"status": "resolved", "variables": ["x"]}, "outcome.variables"),
        ({"status": "resolved", "stauts": "x"}, "outcome.stauts"),
        ("n" * 2001, "outcome.note"),
        (42, "outcome"),
    ]:
        ack = await sock.call("close", {"conversation_id": cid, "outcome": outcome})
        assert not ack["ok"], outcome
        assert ack["error"]["field"] == field, (outcome, ack)
    # Nothing was closed by a refusal; a good one still works.
    ok = {"status": "back_to_bot", "variables": {"order_id": "abc123"}}
    ack = await sock.call("close", {"conversation_id": cid, "outcome": ok})
    assert ack["ok"] and ack["conversation"]["outcome"]["variables"] == {"order_id": "abc123"}


async def leave(server: Server, bot: Bot, body: Any) -> tuple[int, Any]:
    async with server.http.post(
        f"{server.url}/api/v1/bots/{bot.id}/handoff/messages", json=body, headers=auth(bot)
    ) as resp:
        return resp.status, await resp.json()


async def test_a_message_left_reaches_the_bots_agents_and_the_bot(server: Server) -> None:
    receiver = await Receiver().start()
    try:
        bot = await server.bot()
        other = await server.bot()
        async with server.http.patch(
            f"{server.url}/api/v1/bots/{bot.id}",
            json={"webhook_url": receiver.url, "webhook_secret": SECRET},
            headers=auth(bot),
        ) as resp:
            assert resp.status == 200
        mine = await server.agent_socket(await server.agent(bot), online=False)
        theirs = await server.agent_socket(await server.agent(other), online=False)
        stored = []
        for i in range(3):
            status, body = await leave(
                server,
                bot,
                {
                    "ConversationID": f"left-conv-{i}",
                    "user": {"name": "Thandi"},
                    "contact": "thandi@example.com",
                    "message": f"please call me back ({i})",
                },
            )
            assert status == 201, body
            stored.append(body)
        assert stored[0]["kind"] == "offline_message" and stored[0]["id"].startswith("msg_")
        status, anonymous = await leave(server, bot, {"contact": "+27 82 000", "message": "hi"})
        assert status == 201 and anonymous["conversation_id"] is None

        ack = await mine.call("queue", {})
        assert ack["ok"]
        left = ack["offline_messages"]
        assert [m["id"] for m in left] == [anonymous["id"], *(m["id"] for m in reversed(stored))]
        assert all(m["kind"] == "offline_message" and m["bot_id"] == bot.id for m in left)
        assert left[1]["message"] == "please call me back (2)"
        assert (await theirs.call("queue", {}))["offline_messages"] == []
        ack = await mine.call("queue", {"bot_id": other.id})
        assert not ack["ok"] and ack["error"]["field"] == "bot_id"

        await receiver.wait_for(lambda r: len(r.ok()) == 4)
        events = [r.event for r in receiver.ok()]
        assert {e["type"] for e in events} == {"message.left"}
        assert all(verify(SECRET, r.headers, r.body) for r in receiver.ok())
        first = next(e for e in events if e["data"]["message_id"] == stored[0]["id"])
        assert first["conversation_id"] == "left-conv-0"
        assert first["data"] == {
            "message_id": stored[0]["id"],
            "user": {"name": "Thandi"},
            "contact": "thandi@example.com",
            "message": "please call me back (0)",
        }
    finally:
        await receiver.stop()


async def test_bad_messages_are_refused_and_nothing_is_stored(server: Server) -> None:
    bot = await server.bot()
    other = await server.bot()
    await server.handoff(other, ConversationID="belongs-to-other")
    good = {"contact": "a@example.com", "message": "call me"}
    for body, status, field in [
        ({"message": "call me"}, 400, "contact"),
        ({"contact": "a@example.com"}, 400, "message"),
        ({**good, "message": ""}, 400, "message"),
        ({**good, "message": " \u200b "}, 400, "message"),
        ({**good, "contact": "\u3164"}, 400, "contact"),
        ({**good, "message": "m" * 4001}, 400, "message"),
        ({**good, "contact": "c" * 321}, 400, "contact"),
        ({**good, "user": {"bio": "x" * 5000}}, 400, "user"),
        ({**good, "user": "Thandi"}, 400, "user"),
        ({**good, "message": 5}, 400, "message"),
        ({**good, "ConversationID": "short"}, 400, "ConversationID"),
        ({**good, "priority": "high"}, 400, "priority"),
        ({**good, "ConversationID": "belongs-to-other"}, 409, "ConversationID"),
    ]:
        got, answer = await leave(server, bot, body)
        assert got == status, (body, answer)
        assert answer["error"]["field"] == field, (body, answer)
    async with server.http.post(
        f"{server.url}/api/v1/bots/{bot.id}/handoff/messages", data=b"{not json"
    ) as resp:
        assert resp.status == 401  # the key is checked first
    async with server.http.post(
        f"{server.url}/api/v1/bots/{bot.id}/handoff/messages", data=b"{nope", headers=auth(bot)
    ) as resp:
        assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_json"
    sock = await server.agent_socket(await server.agent(bot), online=False)
    assert (await sock.call("queue", {}))["offline_messages"] == []


async def _old_outcomes_become_typed(url: str) -> None:
    await upgrade(url, "0003")
    engine = make_engine(url)
    old = sa.table(
        "conversations",
        *(sa.column(c.name, c.type) for c in conversations.columns if c.name != "outcome"),
        sa.column("outcome", sa.String),
    )
    try:
        now = utcnow()
        async with engine.begin() as conn:
            await conn.execute(
                bots.insert().values(id="bot_old", name="Old", api_key_hash="h", created_at=now)
            )
            for cid, outcome in [("old-1", "refund issued"), ("old-2", None)]:
                await conn.execute(
                    old.insert().values(
                        id=cid,
                        bot_id="bot_old",
                        state="closed",
                        user={},
                        entities={},
                        close_reason="resolved",
                        outcome=outcome,
                        session_start_seq=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
        await upgrade(url)
        repo = ConversationRepo(engine)
        one, two = await repo.get("old-1"), await repo.get("old-2")
        assert one is not None and two is not None
        assert one.outcome is not None
        assert (one.outcome.status, one.outcome.note, one.outcome.variables) == (
            "resolved",
            "refund issued",
            {},
        )
        assert two.outcome is None
    finally:
        await engine.dispose()


async def test_old_string_outcomes_migrate_on_sqlite(tmp_path: Path) -> None:
    await _old_outcomes_become_typed(f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}")


async def test_old_string_outcomes_migrate_on_postgres(postgres_url: str) -> None:
    await _old_outcomes_become_typed(postgres_url)
