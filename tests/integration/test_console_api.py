"""The agent console's REST side: profile, colleagues, canned responses, notes, tags,
handled offline messages; with bad input of every kind, and migration 0007."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from handoff.app import ENGINE
from handoff.storage.agents import AgentRecord, AgentRepo
from handoff.storage.db import make_engine
from handoff.storage.migrate import downgrade, upgrade
from tests.conftest import Bot, Server, make_settings, start_server, stop_server
from tests.integration.test_cli import run

PASSWORD = "s3cret-pass"


async def call(
    server: Server, method: str, path: str, token: str | None, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    async with server.http.request(method, server.url + path, **kwargs) as resp:
        if resp.status == 204:
            assert await resp.read() == b""
            return 204, None
        return resp.status, await resp.json()


def error(body: Any) -> tuple[str, str | None]:
    return body["error"]["code"], body["error"].get("field")


async def admin(server: Server, bot: Bot | list[Bot], name: str = "Ada") -> AgentRecord:
    bots = bot if isinstance(bot, list) else [bot]
    return await AgentRepo(server.app[ENGINE]).create(
        f"{name.lower()}@example.com", PASSWORD, name=name, bots=[b.id for b in bots],
        role="admin",
    )


async def token_of(server: Server, agent: AgentRecord) -> str:
    return await server.login(agent.email, PASSWORD)


# the profile ---------------------------------------------------------------------------


async def test_me_tells_the_console_its_bots_teams_and_limits(server: Server) -> None:
    shop = await server.bot()
    other = await server.bot(assignment_mode="manual")
    anna = await server.agent([shop, other], name="Anna", teams=["billing"])
    status, me = await call(server, "GET", "/api/v1/agents/me", await token_of(server, anna))
    assert status == 200
    # Every field the Agent object had is still there.
    assert {"id", "email", "name", "role", "capacity", "bots", "status", "load"} <= set(me)
    assert me["id"] == anna.id and me["bots"] == sorted([shop.id, other.id])
    assert sorted(me["bot_details"], key=lambda b: b["id"]) == sorted(
        [
            {"id": shop.id, "name": "Test bot", "assignment_mode": "auto"},
            {"id": other.id, "name": "Test bot", "assignment_mode": "manual"},
        ],
        key=lambda b: b["id"],
    )
    assert me["teams"] == {shop.id: ["billing"], other.id: ["billing"]}
    assert me["away_after_seconds"] == server.settings.agent_away_seconds == 300
    assert me["max_message_bytes"] == server.settings.max_message_bytes


async def test_the_away_setting_is_validated_and_reaches_the_console(tmp_path: Path) -> None:
    for bad in ("-1", "soon", "604801"):
        done = run(tmp_path, "serve", env={"HANDOFF_AGENT_AWAY_SECONDS": bad})
        assert done.returncode == 1 and "HANDOFF_AGENT_AWAY_SECONDS" in done.stderr, done.stderr
    runner, server = await start_server(make_settings(tmp_path, agent_away_seconds=0))
    try:
        agent = await server.agent(await server.bot())
        _, me = await call(server, "GET", "/api/v1/agents/me", await token_of(server, agent))
        assert me["away_after_seconds"] == 0
    finally:
        await stop_server(runner, server)


async def test_me_refuses_no_token_a_bad_one_and_a_disabled_agent(server: Server) -> None:
    bot = await server.bot()
    anna = await server.agent(bot)
    token = await token_of(server, anna)
    status, body = await call(server, "GET", "/api/v1/agents/me", None)
    assert (status, error(body)) == (401, ("unauthorized", "Authorization"))
    status, body = await call(server, "GET", "/api/v1/agents/me", token + "x")
    assert status == 401
    await AgentRepo(server.app[ENGINE]).set_disabled(anna.id, True)
    status, body = await call(server, "GET", "/api/v1/agents/me", token)
    assert (status, error(body)) == (403, ("agent_disabled", "Authorization"))


# colleagues ----------------------------------------------------------------------------


async def test_colleagues_have_live_presence_and_the_bots_teams(server: Server) -> None:
    bot = await server.bot()
    elsewhere = await server.bot()
    anna = await server.agent(bot, name="Anna", teams=["billing"])
    ben = await server.agent(bot, name="Ben", teams=["returns", "billing"], capacity=2)
    gone = await server.agent(bot, name="Gone")
    off = await server.agent(bot, name="Off")
    await server.agent(elsewhere, name="Stranger")
    repo = AgentRepo(server.app[ENGINE])
    await repo.delete(gone.id)
    await repo.set_disabled(off.id, True)
    ben_sock = await server.agent_socket(ben)  # online, capacity 2
    anna_sock = await server.agent_socket(anna, online=False)
    await anna_sock.call("set_status", {"status": "away"})

    status, body = await call(
        server, "GET", f"/api/v1/bots/{bot.id}/agents", await token_of(server, anna)
    )
    assert status == 200
    assert body == {
        "agents": [
            {"id": anna.id, "name": "Anna", "status": "away", "load": 0, "capacity": 3,
             "teams": ["billing"]},
            {"id": ben.id, "name": "Ben", "status": "online", "load": 0, "capacity": 2,
             "teams": ["returns", "billing"]},
        ],
        "teams": ["billing", "returns"],
    }
    # Ben takes a conversation: his load shows; gone from the socket, he is offline.
    cid = (await server.handoff(bot))["ConversationID"]
    await server.widget(cid, bot)
    token = await token_of(server, anna)
    _, body = await call(server, "GET", f"/api/v1/bots/{bot.id}/agents", token)
    assert [(a["status"], a["load"]) for a in body["agents"]] == [("away", 0), ("online", 1)]
    await ben_sock.close()
    # His socket's end reaches the server on its own connection: ask until it has.
    for _ in range(100):
        _, body = await call(server, "GET", f"/api/v1/bots/{bot.id}/agents", token)
        if body["agents"][1]["status"] == "offline":
            break
        await asyncio.sleep(0.05)
    assert [(a["status"], a["load"]) for a in body["agents"]] == [("away", 0), ("offline", 1)]


async def test_colleagues_of_a_bot_one_does_not_serve_are_forbidden(server: Server) -> None:
    bot = await server.bot()
    other = await server.bot()
    token = await token_of(server, await server.agent(other))
    status, body = await call(server, "GET", f"/api/v1/bots/{bot.id}/agents", token)
    assert (status, error(body)) == (403, ("forbidden", "bot_id"))
    status, body = await call(server, "GET", "/api/v1/bots/nope/agents", token)
    assert (status, error(body)) == (403, ("forbidden", "bot_id"))
    status, body = await call(server, "GET", f"/api/v1/bots/{bot.id}/agents", None)
    assert (status, error(body)) == (401, ("unauthorized", "Authorization"))


# canned responses ----------------------------------------------------------------------


async def test_admins_manage_canned_responses_and_every_agent_reads_them(server: Server) -> None:
    bot = await server.bot()
    ada = await token_of(server, await admin(server, bot))
    anna = await token_of(server, await server.agent(bot))
    base = f"/api/v1/bots/{bot.id}/canned-responses"
    status, body = await call(server, "GET", base, anna)
    assert (status, body) == (200, {"canned_responses": []})

    status, hello = await call(server, "POST", base, ada, {"shortcut": "Hello", "text": "Hi! 👋"})
    assert status == 201
    assert set(hello) == {"id", "bot_id", "shortcut", "text", "updated_at"}
    assert (hello["bot_id"], hello["shortcut"], hello["text"]) == (bot.id, "hello", "Hi! 👋")
    status, refund = await call(server, "POST", base, ada, {"shortcut": "a-refund_1", "text": "R"})
    assert status == 201
    status, body = await call(server, "GET", base, anna)
    assert [c["shortcut"] for c in body["canned_responses"]] == ["a-refund_1", "hello"]

    status, changed = await call(
        server, "PUT", f"{base}/{hello['id']}", ada, {"shortcut": "hi", "text": "Hello there"}
    )
    assert status == 200
    assert (changed["id"], changed["shortcut"]) == (hello["id"], "hi")
    assert changed["text"] == "Hello there"
    assert changed["updated_at"] >= hello["updated_at"]
    status, _ = await call(server, "DELETE", f"{base}/{refund['id']}", ada)
    assert status == 204
    status, body = await call(server, "GET", base, anna)
    assert body["canned_responses"] == [changed]


async def test_canned_responses_refuse_bad_input(server: Server) -> None:
    bot = await server.bot()
    other = await server.bot()
    ada = await token_of(server, await admin(server, bot))
    anna = await token_of(server, await server.agent(bot))
    outsider = await token_of(server, await admin(server, other, name="Otto"))
    base = f"/api/v1/bots/{bot.id}/canned-responses"
    status, item = await call(server, "POST", base, ada, {"shortcut": "hello", "text": "Hi"})
    assert status == 201
    one = f"{base}/{item['id']}"

    # Not an admin: reads, but may not write.
    for method, path in [("POST", base), ("PUT", one), ("DELETE", one)]:
        status, body = await call(server, method, path, anna, {"shortcut": "x", "text": "y"})
        assert (status, error(body)) == (403, ("forbidden", "role")), method
        assert "admin role" in body["error"]["message"]
    # An admin of another bot: not even reads.
    for method, path in [("GET", base), ("POST", base), ("PUT", one), ("DELETE", one)]:
        status, body = await call(server, method, path, outsider, {"shortcut": "x", "text": "y"})
        assert (status, error(body)) == (403, ("forbidden", "bot_id")), method
    status, body = await call(server, "GET", base, None)
    assert (status, error(body)) == (401, ("unauthorized", "Authorization"))

    for payload, field in [
        ({"shortcut": "", "text": "t"}, "shortcut"),
        ({"shortcut": "x" * 33, "text": "t"}, "shortcut"),
        ({"shortcut": "two words", "text": "t"}, "shortcut"),
        ({"shortcut": "émoji", "text": "t"}, "shortcut"),
        ({"shortcut": 5, "text": "t"}, "shortcut"),
        ({"text": "t"}, "shortcut"),
        ({"shortcut": "ok", "text": ""}, "text"),
        ({"shortcut": "ok", "text": "   "}, "text"),
        ({"shortcut": "ok", "text": "\u200b\u200d"}, "text"),
        ({"shortcut": "ok", "text": "t" * 4001}, "text"),
        ({"shortcut": "ok"}, "text"),
        ({"shortcut": "ok", "text": "t", "extra": 1}, "extra"),
    ]:
        for method, path in [("POST", base), ("PUT", one)]:
            status, body = await call(server, method, path, ada, payload)
            assert (status, error(body)) == (400, ("invalid_payload", field)), (method, payload)

    # A duplicate shortcut (case does not matter: it is stored lower-case).
    status, body = await call(server, "POST", base, ada, {"shortcut": "HELLO", "text": "again"})
    assert (status, error(body)) == (409, ("conflict", "shortcut"))
    status, bye = await call(server, "POST", base, ada, {"shortcut": "bye", "text": "Bye"})
    status, body = await call(server, "PUT", f"{base}/{bye['id']}", ada,
                              {"shortcut": "hello", "text": "x"})
    assert (status, error(body)) == (409, ("conflict", "shortcut"))

    # Unknown ids, also another bot's and ones that are no number.
    status, theirs = await call(server, "POST", f"/api/v1/bots/{other.id}/canned-responses",
                                outsider, {"shortcut": "theirs", "text": "x"})
    assert status == 201
    for canned_id in ["999999", str(theirs["id"]), "abc", "0", "-1", "99999999999"]:
        status, body = await call(server, "PUT", f"{base}/{canned_id}", ada,
                                  {"shortcut": "zz", "text": "x"})
        assert (status, error(body)) == (404, ("unknown_canned_response", "id")), canned_id
        status, body = await call(server, "DELETE", f"{base}/{canned_id}", ada)
        assert (status, error(body)) == (404, ("unknown_canned_response", "id")), canned_id
    # Nothing of that changed what is stored.
    _, body = await call(server, "GET", base, anna)
    assert [(c["shortcut"], c["text"]) for c in body["canned_responses"]] == [
        ("bye", "Bye"), ("hello", "Hi")
    ]
    _, body = await call(server, "GET", f"/api/v1/bots/{other.id}/canned-responses", outsider)
    assert [c["shortcut"] for c in body["canned_responses"]] == ["theirs"]


async def test_a_bot_has_at_most_500_canned_responses(server: Server) -> None:
    bot = await server.bot()
    ada = await token_of(server, await admin(server, bot))
    engine = server.app[ENGINE]
    from handoff.storage.db import utcnow
    from handoff.storage.tables import canned_responses

    now = utcnow()
    async with engine.begin() as conn:
        await conn.execute(
            canned_responses.insert(),
            [{"bot_id": bot.id, "shortcut": f"c{i}", "text": "x", "created_at": now,
              "updated_at": now} for i in range(500)],
        )
    base = f"/api/v1/bots/{bot.id}/canned-responses"
    status, body = await call(server, "POST", base, ada, {"shortcut": "one-more", "text": "x"})
    assert (status, error(body)) == (409, ("too_many_canned_responses", "bot_id"))
    _, body = await call(server, "GET", base, ada)
    assert len(body["canned_responses"]) == 500


# notes and tags --------------------------------------------------------------------------


async def test_notes_are_kept_in_order_with_their_author(server: Server) -> None:
    bot = await server.bot()
    cid, widget, _ = await server.live_pair(bot)
    assigned = await server.conversations.get(cid)
    assert assigned is not None and assigned.agent_id is not None
    anna = await AgentRepo(server.app[ENGINE]).get(assigned.agent_id)
    assert anna is not None
    ada_record = await admin(server, bot, name="Ada")
    anna_token = await token_of(server, anna)
    ada_token = await token_of(server, ada_record)
    path = f"/api/v1/conversations/{cid}/notes"
    status, body = await call(server, "GET", path, anna_token)
    assert (status, body) == (200, {"notes": []})

    status, first = await call(server, "POST", path, anna_token, {"text": "<b>asked twice</b>"})
    assert status == 201
    assert set(first) == {"id", "conversation_id", "agent", "text", "created_at"}
    assert first["agent"] == {"id": anna.id, "name": anna.name}
    assert (first["conversation_id"], first["text"]) == (cid, "<b>asked twice</b>")
    status, second = await call(server, "POST", path, ada_token, {"text": "Refund approved"})
    assert status == 201 and second["agent"] == {"id": ada_record.id, "name": "Ada"}
    status, body = await call(server, "GET", path, ada_token)
    assert body == {"notes": [first, second]}
    # The person never sees a note.
    assert not [d for _, d in widget.rec.events if "Refund approved" in str(d)]
    assert not [d for _, d in widget.rec.events if "asked twice" in str(d)]


async def test_notes_refuse_bad_input(server: Server) -> None:
    bot = await server.bot()
    other = await server.bot()
    cid = (await server.handoff(bot))["ConversationID"]
    anna = await token_of(server, await server.agent(bot))
    outsider = await token_of(server, await server.agent(other))
    path = f"/api/v1/conversations/{cid}/notes"
    for payload, field in [
        ({"text": ""}, "text"),
        ({"text": " \n\t"}, "text"),
        ({"text": "\u200b"}, "text"),
        ({"text": "n" * 4001}, "text"),
        ({"text": 42}, "text"),
        ({}, "text"),
        ({"text": "ok", "agent_id": "x"}, "agent_id"),
    ]:
        status, body = await call(server, "POST", path, anna, payload)
        assert (status, error(body)) == (400, ("invalid_payload", field)), payload
    for method in ("GET", "POST"):
        status, body = await call(server, method, path, outsider, {"text": "x"})
        assert (status, error(body)) == (403, ("forbidden", "conversation_id")), method
        status, body = await call(
            server, method, "/api/v1/conversations/no-such-conversation/notes", anna, {"text": "x"}
        )
        assert (status, error(body)) == (404, ("unknown_conversation", "conversation_id"))
        status, body = await call(server, method, path, None, {"text": "x"})
        assert (status, error(body)) == (401, ("unauthorized", "Authorization"))
    _, body = await call(server, "GET", path, anna)
    assert body == {"notes": []}
    # 4000 characters is fine.
    status, _ = await call(server, "POST", path, anna, {"text": "n" * 4000})
    assert status == 201


async def test_tags_are_trimmed_deduplicated_and_shown_with_the_conversation(
    server: Server,
) -> None:
    bot = await server.bot()
    cid = (await server.handoff(bot))["ConversationID"]
    anna = await token_of(server, await server.agent(bot))
    path = f"/api/v1/conversations/{cid}/tags"
    tags = [" VIP ", "refund", "vip", "Late"]
    status, body = await call(server, "PUT", path, anna, {"tags": tags})
    assert (status, body) == (200, {"conversation_id": cid, "tags": ["VIP", "refund", "Late"]})
    async with server.http.get(
        f"{server.url}/api/v1/bots/{bot.id}/conversations/{cid}",
        headers={"Authorization": f"Bearer {bot.api_key}"},
    ) as resp:
        assert (await resp.json())["tags"] == ["VIP", "refund", "Late"]
    # An agent who takes it sees them in the conversation.
    sock = await server.agent_socket(await server.agent(bot))
    await server.widget(cid, bot)
    assigned = await sock.rec.wait("conversation_assigned")
    assert assigned["conversation"]["tags"] == ["VIP", "refund", "Late"]
    status, body = await call(server, "PUT", path, anna, {"tags": []})
    assert (status, body["tags"]) == (200, [])


async def test_tags_refuse_bad_input(server: Server) -> None:
    bot = await server.bot()
    other = await server.bot()
    cid = (await server.handoff(bot))["ConversationID"]
    anna = await token_of(server, await server.agent(bot))
    outsider = await token_of(server, await server.agent(other))
    path = f"/api/v1/conversations/{cid}/tags"
    status, _ = await call(server, "PUT", path, anna, {"tags": ["kept"]})
    assert status == 200
    for payload, field in [
        ({"tags": ["t"] * 21}, "tags"),
        ({"tags": ["x" * 33]}, "tags"),
        ({"tags": [""]}, "tags"),
        ({"tags": ["   "]}, "tags"),
        ({"tags": "vip"}, "tags"),
        ({"tags": None}, "tags"),
        ({}, "tags"),
        ({"tags": [7]}, "tags.0"),
    ]:
        status, body = await call(server, "PUT", path, anna, payload)
        assert (status, error(body)) == (400, ("invalid_payload", field)), payload
    status, body = await call(server, "PUT", path, outsider, {"tags": ["x"]})
    assert (status, error(body)) == (403, ("forbidden", "conversation_id"))
    status, body = await call(server, "PUT", "/api/v1/conversations/nope-nope/tags", anna,
                              {"tags": ["x"]})
    assert (status, error(body)) == (404, ("unknown_conversation", "conversation_id"))
    status, body = await call(server, "PUT", path, None, {"tags": ["x"]})
    assert status == 401
    view = await server.conversations.get(cid)
    assert view is not None and view.tags == ["kept"]


# offline messages --------------------------------------------------------------------------


async def leave(server: Server, bot: Bot, message: str) -> dict[str, Any]:
    async with server.http.post(
        f"{server.url}/api/v1/bots/{bot.id}/handoff/messages",
        json={"contact": "thandi@example.com", "message": message},
        headers={"Authorization": f"Bearer {bot.api_key}"},
    ) as resp:
        assert resp.status == 201, await resp.text()
        return dict(await resp.json())


async def test_a_handled_offline_message_leaves_the_queue(server: Server) -> None:
    bot = await server.bot()
    anna_record = await server.agent(bot)
    anna = await token_of(server, anna_record)
    first = await leave(server, bot, "call me back")
    second = await leave(server, bot, "never mind")
    assert first["handled_at"] is None and first["handled_by"] is None
    sock = await server.agent_socket(anna_record, online=False)
    ack = await sock.call("queue", {})
    assert [m["id"] for m in ack["offline_messages"]] == [second["id"], first["id"]]

    path = f"/api/v1/bots/{bot.id}/offline-messages/{first['id']}/handled"
    status, handled = await call(server, "POST", path, anna)
    assert status == 200
    assert handled["id"] == first["id"] and handled["handled_by"] == anna_record.id
    assert handled["handled_at"] is not None and handled["message"] == "call me back"
    ack = await sock.call("queue", {})
    assert [m["id"] for m in ack["offline_messages"]] == [second["id"]]
    # Again: the same answer, the first mark kept.
    ben = await token_of(server, await server.agent(bot))
    status, again = await call(server, "POST", path, ben)
    assert (status, again) == (200, handled)


async def test_marking_offline_messages_refuses_bad_input(server: Server) -> None:
    bot = await server.bot()
    other = await server.bot()
    anna = await token_of(server, await server.agent(bot))
    otto = await token_of(server, await server.agent(other))
    mine = await leave(server, bot, "mine")
    theirs = await leave(server, other, "theirs")
    status, body = await call(
        server, "POST", f"/api/v1/bots/{bot.id}/offline-messages/{theirs['id']}/handled", anna
    )
    assert (status, error(body)) == (404, ("unknown_offline_message", "message_id"))
    status, body = await call(
        server, "POST", f"/api/v1/bots/{bot.id}/offline-messages/msg_nope/handled", anna
    )
    assert (status, error(body)) == (404, ("unknown_offline_message", "message_id"))
    status, body = await call(
        server, "POST", f"/api/v1/bots/{bot.id}/offline-messages/{mine['id']}/handled", otto
    )
    assert (status, error(body)) == (403, ("forbidden", "bot_id"))
    status, body = await call(
        server, "POST", f"/api/v1/bots/{bot.id}/offline-messages/{mine['id']}/handled", None
    )
    assert status == 401
    engine = server.app[ENGINE]
    from handoff.storage.tables import offline_messages

    async with engine.connect() as conn:
        handled = (await conn.execute(sa.select(offline_messages.c.handled_at))).scalars().all()
    assert handled == [None, None]


# migration 0007 ---------------------------------------------------------------------------


async def _migrate_0007_both_ways(url: str) -> None:
    await upgrade(url)
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in sa.inspect(c).get_columns("offline_messages")}
            )
        assert {"canned_responses", "conversation_notes"} <= tables
        assert {"handled_at", "handled_by"} <= columns
        # To 0006 by name: later migrations (0009, ...) come down on the way.
        await downgrade(url, "0006")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
            conv = await conn.run_sync(
                lambda c: {col["name"] for col in sa.inspect(c).get_columns("conversations")}
            )
            version = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
        assert not {"canned_responses", "conversation_notes"} & tables
        assert "tags" not in conv and version == "0006"
        await upgrade(url)  # and up again
    finally:
        await engine.dispose()


async def test_migration_0007_up_from_empty_and_one_step_down_on_sqlite(tmp_path: Path) -> None:
    await _migrate_0007_both_ways(f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}")


async def test_migration_0007_up_from_empty_and_one_step_down_on_postgres(
    postgres_url: str,
) -> None:
    await _migrate_0007_both_ways(postgres_url)


async def test_canned_responses_notes_and_tags_on_postgres(pg_server: Server) -> None:
    server = pg_server
    bot = await server.bot()
    ada = await token_of(server, await admin(server, bot))
    base = f"/api/v1/bots/{bot.id}/canned-responses"
    status, item = await call(server, "POST", base, ada, {"shortcut": "Hello", "text": "Hi"})
    assert (status, item["shortcut"]) == (201, "hello")
    status, body = await call(server, "POST", base, ada, {"shortcut": "hello", "text": "again"})
    assert (status, error(body)) == (409, ("conflict", "shortcut"))
    status, _ = await call(server, "DELETE", f"{base}/{item['id']}", ada)
    assert status == 204
    cid = (await server.handoff(bot))["ConversationID"]
    status, note = await call(server, "POST", f"/api/v1/conversations/{cid}/notes", ada,
                              {"text": "first"})
    assert status == 201
    _, body = await call(server, "GET", f"/api/v1/conversations/{cid}/notes", ada)
    assert body == {"notes": [note]}
    status, body = await call(server, "PUT", f"/api/v1/conversations/{cid}/tags", ada,
                              {"tags": ["a", "A", "b"]})
    assert (status, body["tags"]) == (200, ["a", "b"])
