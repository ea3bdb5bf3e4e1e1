"""Integers are bounded in every model: a huge one is refused as ``invalid_payload`` naming
the field, before anything happens (it used to fail in the database half way through)."""

from __future__ import annotations

import pytest

from handoff.app import SIO
from handoff.protocol.common import MAX_INT
from handoff.sockets import rooms
from tests.conftest import Client, Server


def _in_room(server: Server, client: Client, conversation_id: str) -> bool:
    sid = client.sio.get_sid("/live_agent")
    room = rooms.widget_room(conversation_id)
    return sid in {p[0] for p in server.app[SIO].manager.get_participants("/live_agent", room)}


@pytest.mark.parametrize("value", [2**63, 2**31, -1])
async def test_a_huge_resume_after_seq_is_refused_before_anything_happens(
    server: Server, value: int
) -> None:
    bot = await server.bot()
    await server.agent_socket(await server.agent(bot))
    cid = (await server.handoff(bot))["ConversationID"]
    widget = await server.widget()
    ack = await widget.call(
        "username", {"ConversationID": cid, "BotID": bot.id, "resume_after_seq": value}
    )
    assert ack["ok"] is False, ack
    assert (ack["error"]["code"], ack["error"]["field"]) == ("invalid_payload", "resume_after_seq")
    assert not _in_room(server, widget, cid)
    assert await server.state.touch_connection("widget", cid, 0) == 0
    assert (await server.service.conversation(cid)).state == "pending"
    # The largest number a sequence can reach is taken.
    ack = await widget.call(
        "username", {"ConversationID": cid, "BotID": bot.id, "resume_after_seq": MAX_INT}
    )
    assert ack["ok"] and ack["state"] == "assigned", ack


async def test_a_huge_after_seq_in_history_is_refused(server: Server) -> None:
    bot = await server.bot()
    cid, _widget, agent = await server.live_pair(bot)
    for value in (2**63, 2**31):
        ack = await agent.call("history", {"conversation_id": cid, "after_seq": value})
        assert ack["ok"] is False, ack
        assert (ack["error"]["code"], ack["error"]["field"]) == ("invalid_payload", "after_seq")
    ack = await agent.call("history", {"conversation_id": cid, "after_seq": MAX_INT})
    assert ack == {"ok": True, "messages": []}


CODE = "def main(event, context):\n    return {'statusCode': 200, 'body': '{}'}\n"


@pytest.mark.parametrize("step", ["test", "publish"])
async def test_a_huge_action_version_is_a_400_naming_it(server: Server, step: str) -> None:
    bot = await server.bot()
    headers = {"Authorization": f"Bearer {bot.api_key}"}
    base = f"{server.url}/api/v1/bots/{bot.id}/actions/orders"
    async with server.http.put(base, json={"code": CODE}, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
    for value in (2**63, 2**31):
        async with server.http.post(
            f"{base}/{step}", json={"version": value}, headers=headers
        ) as resp:
            body = await resp.json()
            assert resp.status == 400, body
        assert (body["error"]["code"], body["error"]["field"]) == ("invalid_payload", "version")
    async with server.http.get(f"{server.url}/api/v1/openapi.json") as resp:
        schemas = (await resp.json())["components"]["schemas"]
    version = schemas["PublishRequest"]["properties"]["version"]["anyOf"][0]
    assert (version["minimum"], version["maximum"]) == (1, MAX_INT)
