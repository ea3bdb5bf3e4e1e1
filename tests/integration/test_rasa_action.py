"""The Rasa example: its custom actions, run by the real rasa-sdk action server (in its own
venv, ``make rasa-deps``), called the way Rasa calls it (``POST /webhook``)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import Bot, Server, free_port

ROOT = Path(__file__).resolve().parents[2]
RASA_BOT = ROOT / "client_examples" / "rasa_bot"
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
# Starting the action server imports sanic and the actions on a shared machine: a bound
# on how long that may take, never a measurement.
STARTUP = 60.0

pytestmark = pytest.mark.timeout(300)


def rasa_python() -> Path:
    """The action server's interpreter, made on first use when `make test` has not."""
    if not RASA_PYTHON.exists():
        subprocess.run(["make", "-C", str(ROOT), "rasa-deps"], check=True)
    return RASA_PYTHON


class ActionServer:
    def __init__(self, url: str, proc: asyncio.subprocess.Process, bot: Bot) -> None:
        self.url = url
        self.proc = proc
        self.bot = bot

    async def call(self, http: aiohttp.ClientSession, action: str, tracker: dict[str, Any]) -> Any:
        """What Rasa's ``RemoteAction`` posts: the next action, the tracker and the domain."""
        body = {
            "next_action": action,
            "sender_id": tracker["sender_id"],
            "tracker": tracker,
            "domain": DOMAIN,
            "version": "3.10.0",
        }
        async with http.post(f"{self.url}/webhook", json=body) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


DOMAIN: dict[str, Any] = {
    "version": "3.1",
    "intents": ["greet", "human_handoff", "order_status"],
    "entities": ["order_id"],
    "slots": {
        name: {"type": "any", "mappings": [{"type": "custom"}]}
        for name in (
            "name",
            "language",
            "order_id",
            "handoff_available",
            "handoff_reason",
            "handoff_wait_seconds",
            "handoff_conversation_id",
        )
    },
    "responses": {},
    "actions": ["action_handoff_options", "action_execute_handoff"],
    "forms": {},
    "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
}


def tracker(sender_id: str, *, language: str = "en") -> dict[str, Any]:
    """A tracker as Rasa sends it: a short conversation that ends with a request for a human."""
    latest = {
        "intent": {"name": "human_handoff", "confidence": 0.98},
        "entities": [],
        "text": "I want to talk to a person",
        "message_id": uuid.uuid4().hex,
        "metadata": {},
    }
    events = [
        {"event": "action", "name": "action_session_start", "timestamp": 1.0},
        {"event": "user", "text": "hi", "timestamp": 2.0, "parse_data": {}},
        {"event": "bot", "text": "Hello! What's your order number?", "timestamp": 3.0},
        {"event": "user", "text": "abc123", "timestamp": 4.0, "parse_data": {}},
        {"event": "slot", "name": "order_id", "value": "abc123", "timestamp": 4.1},
        {"event": "bot", "text": "Your order is delayed.", "timestamp": 5.0},
        {"event": "user", "text": latest["text"], "timestamp": 6.0, "parse_data": latest},
    ]
    return {
        "sender_id": sender_id,
        "slots": {
            "name": "Thandi",
            "language": language,
            "order_id": "abc123",
            "handoff_available": None,
            "handoff_reason": None,
            "handoff_wait_seconds": None,
            "handoff_conversation_id": None,
        },
        "latest_message": latest,
        "latest_event_time": 6.0,
        "followup_action": None,
        "paused": False,
        "events": events,
        "latest_input_channel": "rest",
        "active_loop": {},
        "latest_action": {"action_name": "action_listen"},
        "latest_action_name": "action_listen",
    }


@pytest.fixture
async def action_server(server: Server) -> AsyncIterator[ActionServer]:
    bot = await server.bot()
    port = free_port()
    env = {
        **os.environ,
        "HANDOFF_URL": server.url,
        "HANDOFF_BOT_ID": bot.id,
        "HANDOFF_API_KEY": bot.api_key,
    }
    proc = await asyncio.create_subprocess_exec(
        str(rasa_python()),
        *("-m", "rasa_sdk", "--actions", "actions", "--port", str(port)),
        cwd=RASA_BOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with asyncio.timeout(STARTUP):
            while True:
                try:
                    async with server.http.get(f"{url}/health") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    if proc.returncode is not None:
                        raise AssertionError("the Rasa action server ended at start") from None
                    await asyncio.sleep(0.2)
        yield ActionServer(url, proc, bot)
    finally:
        proc.kill()
        await proc.wait()


def slots(answer: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in answer["events"] if e["event"] == "slot"}


async def test_rasa_actions_offer_a_human_and_hand_off_with_the_transcript(
    server: Server, action_server: ActionServer
) -> None:
    bot = action_server.bot
    sender = f"rasa-{uuid.uuid4().hex}"

    # Nobody online: the action says so in the person's language, with no "chat" button.
    answer = await action_server.call(server.http, "action_handoff_options", tracker(sender))
    assert slots(answer)["handoff_available"] is False
    assert slots(answer)["handoff_reason"] == "no_agent_online"
    assert answer["responses"], answer
    payloads = [b["payload"] for r in answer["responses"] for b in r.get("buttons") or []]
    assert payloads and "/handoff" not in payloads

    agent = await server.agent(bot, name="Anna")
    sock = await server.agent_socket(agent)
    answer = await action_server.call(server.http, "action_handoff_options", tracker(sender))
    assert slots(answer)["handoff_available"] is True
    assert slots(answer)["handoff_reason"] == "agents_available"
    texts = " ".join(r.get("text") or "" for r in answer["responses"])
    assert texts.strip()

    answer = await action_server.call(server.http, "action_execute_handoff", tracker(sender))
    assert slots(answer)["handoff_conversation_id"] == sender
    handoff = next(r["custom"]["handoff"] for r in answer["responses"] if r.get("custom"))
    assert handoff["socket"] == {"url": server.url, "namespace": "/live_agent"}

    view = await server.service.conversation(sender)
    assert view.user["name"] == "Thandi"
    assert view.entities == {"order_id": "abc123"}
    assert view.reason == "Rasa intent human_handoff"

    # The widget binds; Anna gets the conversation with Rasa's transcript, and the widget
    # is never asked for one (the bot gave it).
    widget = await server.widget(sender, bot)
    assigned = await sock.rec.wait("conversation_assigned")
    assert assigned["conversation"]["conversation_id"] == sender
    # It comes with the assignment (the handoff packet counts its lines).
    assert assigned["conversation"]["handoff_packet"]["transcript"] == 5
    said = [(m["sender"], m["message"]) for m in assigned["transcript"]]
    assert said == [
        ("user", "hi"),
        ("bot", "Hello! What's your order number?"),
        ("user", "abc123"),
        ("bot", "Your order is delayed."),
        ("user", "I want to talk to a person"),
    ]
    await widget.rec.wait("to_user", lambda d: "Anna" in d["message"])
    assert widget.rec.of("messages") == []

    # A second call for the same Rasa conversation is the same handoff.
    again = await action_server.call(server.http, "action_execute_handoff", tracker(sender))
    assert slots(again)["handoff_conversation_id"] == sender


async def test_rasa_action_reports_a_refusal_to_the_person(
    server: Server, action_server: ActionServer
) -> None:
    # A Rasa sender id the server refuses as a ConversationID (too short): the person is
    # told, and no handoff slot is set.
    answer = await action_server.call(server.http, "action_execute_handoff", tracker("abc"))
    assert not slots(answer)
    assert "couldn't reach a person" in answer["responses"][0]["text"]
    assert await server.conversations.get("abc") is None
