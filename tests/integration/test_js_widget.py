"""The seed widget snippet, unchanged, under Node with socket.io-client 3.1.3 and 4.8.1.

``tests/js/seed_widget.js`` runs the snippet cut out of ``handoff/console/demo/seed_widget.html``
(see its header for the stdin/stdout protocol); these tests drive it against the real
server and a python-socketio agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from handoff.app import SIO
from handoff.sockets import rooms
from tests.conftest import TIMEOUT, Bot, Recorder, Server
from tests.integration.proxy import FreezingProxy

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = ROOT / "tests" / "js"
HARNESS = JS_DIR / "seed_widget.js"
PAGE = ROOT / "handoff" / "console" / "demo" / "seed_widget.html"
SEED_COPY = JS_DIR / "seed_snippet.txt"  # the seed's ```js block, byte for byte
VENDOR = ROOT / "handoff" / "console" / "vendor" / "socket.io.min.js"
BEGIN, END = "// --- seed snippet begin ---", "// --- seed snippet end ---"
PACKAGES = {"sio3": "3.1.3", "sio4": "4.8.1"}
TRANSCRIPT = [
    {"sender": "user", "message": "I need help with my order"},
    {"sender": "bot", "message": "Would you like to talk to a person?"},
    {"sender": "user", "message": "<b>yes</b> please"},
]


@pytest.fixture(scope="session")
def node() -> str:
    """Node and the two official clients; a clear failure (never a skip) when missing."""
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("`node` is not on PATH: the seed widget tests need Node.js 18+")
    missing = [p for p in PACKAGES if not (JS_DIR / "node_modules" / p / "package.json").is_file()]
    if missing:
        pytest.fail(f"tests/js/node_modules lacks {', '.join(missing)}: run `make js-deps` "
                    "(`make test` does it)")
    return exe


class JsWidget:
    """One ``node seed_widget.js`` process: commands on stdin, events from stdout."""

    def __init__(self, proc: asyncio.subprocess.Process, pkg: str) -> None:
        self.proc = proc
        self.pkg = pkg
        self.rec = Recorder()
        self.stderr = bytearray()
        self._tasks = [asyncio.create_task(self._read_stdout()),
                       asyncio.create_task(self._read_stderr())]

    async def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            try:
                item = json.loads(line)
            except ValueError:
                item = {"event": "stdout_garbage", "data": line.decode(errors="replace")}
            await self.rec.add(item["event"], item.get("data"))
        await self.rec.add("eof", None)

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            self.stderr += line

    async def wait(self, event: str, where: Callable[[Any], bool] = lambda _: True) -> Any:
        try:
            return await self.rec.wait(event, where)
        except AssertionError as exc:
            raise AssertionError(f"[{self.pkg}] {exc}\nnode stderr:\n"
                                 f"{self.stderr.decode(errors='replace')}") from None

    async def told(self, fragment: str) -> str:
        """The next text the snippet showed (``setBotResponse``) containing ``fragment``."""
        return str(await self.wait("setBotResponse", lambda t: fragment in t))

    async def command(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        await self.proc.stdin.drain()

    async def send(self, text: str) -> dict[str, Any]:
        """The page's Send button: the snippet's wrapped "Sending a message" block."""
        await self.command(send=text)
        return dict(await self.wait("sent", lambda d: d["message"] == text))

    async def state(self) -> dict[str, Any]:
        await self.command(state=True)
        return dict(await self.wait("state"))

    async def close(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ConnectionError):
                await self.command(exit=True)
            try:
                await asyncio.wait_for(self.proc.wait(), TIMEOUT)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, TIMEOUT)


StartWidget = Callable[..., Awaitable[JsWidget]]


@pytest.fixture
async def js_widget(server: Server, node: str) -> AsyncIterator[StartWidget]:
    started: list[JsWidget] = []

    async def start(pkg: str, conversation_id: str, bot_id: str, *,
                    transports: str | None = None,
                    transcript: list[dict[str, str]] | None = None,
                    url: str | None = None, page: Path | None = None) -> JsWidget:
        args = [str(HARNESS), "--url", url or server.url, "--conversation", conversation_id,
                "--bot", bot_id]
        if page is not None:  # another page carrying the snippet between the markers
            args += ["--page", str(page)]
        if transports:
            args += ["--transports", transports]
        if transcript is not None:
            args += ["--transcript", json.dumps(transcript)]
        env = {**os.environ, "SIO_PKG": pkg}
        env.pop("DEBUG", None)  # socket.io-client's debug logs would go to stderr
        proc = await asyncio.create_subprocess_exec(
            node, *args, cwd=JS_DIR, env=env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        widget = JsWidget(proc, pkg)
        started.append(widget)
        ready = await widget.wait("ready")
        assert ready == {"pkg": pkg, "version": PACKAGES[pkg]}
        return widget

    try:
        yield start
    finally:
        for widget in started:
            await widget.close()


def seed_region(html: str) -> str:
    begin, end = html.index(BEGIN), html.index(END)
    assert begin < end
    return html[begin + len(BEGIN):end]


def assert_seed_snippet(html: str) -> None:
    """Between the markers: the seed's JavaScript, byte for byte, but for the URL and wrapper."""
    seed = SEED_COPY.read_text().splitlines()
    assert seed[0].startswith('<script src="https://cdn.socket.io/3.1.3/')
    seed_js = seed[3:]  # the CDN <script> tag (two lines) and the blank line after it
    region = seed_region(html).strip("\n").splitlines()
    # The documented differences: the page's wrapper around "Sending a message" ...
    wrapper = [line for line in region if line.endswith("not in the seed")]
    assert wrapper == ["function sendMessage(message) { // [page] wrapper, not in the seed",
                       "} // [page] end of wrapper, not in the seed"]
    region = [line for line in region if line not in wrapper]
    # ... and the URL: this server instead of app.botlhale.io, same call shape.
    ours = "const socket = io.connect(location.origin + '/live_agent', {autoConnect: false});"
    assert region.count(ours) == 1
    region[region.index(ours)] = (
        "const socket = io.connect('https://app.botlhale.io/live_agent', {autoConnect: false});"
    )
    while seed_js and not seed_js[-1].strip():
        seed_js.pop()
    assert region == seed_js


def test_page_embeds_the_seed_snippet_verbatim() -> None:
    html = PAGE.read_text()
    assert_seed_snippet(html)
    # socket.io comes from this server; nothing from a CDN.
    assert re.findall(r"""\bsrc\s*=\s*["']?([^"'\s>]*)""", html) == [
        "/console/vendor/socket.io.min.js"
    ]
    assert "://" not in html


async def test_server_serves_the_vendored_client(server: Server, node: str) -> None:
    vendored = VENDOR.read_bytes()
    assert vendored.startswith(b"/*!\n * Socket.IO v4.8.1\n")
    assert b"Released under the MIT License." in vendored[:200]
    assert vendored == (JS_DIR / "node_modules" / "sio4" / "dist" / "socket.io.min.js").read_bytes()
    async with server.http.get(f"{server.url}/console/vendor/socket.io.min.js") as resp:
        assert resp.status == 200
        assert "javascript" in resp.content_type
        assert await resp.read() == vendored
    async with server.http.get(f"{server.url}/console/demo/seed_widget.html") as resp:
        assert resp.status == 200
        assert await resp.read() == PAGE.read_bytes()


@pytest.mark.parametrize("transport", ["default", "websocket"])
@pytest.mark.parametrize("pkg", list(PACKAGES))
async def test_seed_flow_end_to_end(server: Server, js_widget: StartWidget, pkg: str,
                                    transport: str) -> None:
    bot = await server.bot()
    agent = await server.agent(bot, name="Anna")
    agent_sock = await server.agent_socket(agent)
    cid = (await server.handoff(bot, user={"name": "Thandi"}))["ConversationID"]

    widget = await js_widget(pkg, cid, bot.id, transcript=TRANSCRIPT,
                             transports="websocket" if transport == "websocket" else None)
    opened = await widget.wait("open")
    assert opened["transport"] == ("websocket" if transport == "websocket" else "polling")
    await widget.wait("connect")
    await widget.wait("startConversation")

    # username bound the socket: the conversation was queued and given to Anna.
    assigned = await agent_sock.rec.wait("conversation_assigned")
    assert assigned["conversation"]["conversation_id"] == cid
    assert (await server.service.conversation(cid)).state == "assigned"
    await widget.told("Anna joined the chat.")

    # The server asks for the transcript; the snippet's own handler answers with its
    # empty array, then the harness's extra listener with a populated one.
    await widget.wait("messages")
    first = await agent_sock.rec.wait("transcript", lambda d: d["conversation_id"] == cid)
    assert first["messages"] == []
    second = await agent_sock.rec.wait("transcript", lambda d: d["conversation_id"] == cid)
    assert second["messages"] == TRANSCRIPT
    stored = await server.messages.transcript(cid)
    assert [item.model_dump() for item in stored] == TRANSCRIPT

    if transport == "default":
        upgraded = await widget.wait("upgrade")
        assert upgraded["transport"] == "websocket"

    # from_user, through the snippet's block, reaches the agent in order with its seq.
    assert await widget.send("hello from the seed") == {"message": "hello from the seed",
                                                         "connected": True}
    assert (await widget.send("second line"))["connected"]
    one = await agent_sock.rec.wait("user_message")
    two = await agent_sock.rec.wait("user_message")
    assert (one["conversation_id"], one["text"]) == (cid, "hello from the seed")
    assert (two["conversation_id"], two["text"]) == (cid, "second line")
    assert isinstance(one["seq"], int) and two["seq"] == one["seq"] + 1

    # send_message arrives as to_user and the snippet shows it.
    ack = await agent_sock.call("send_message", {"conversation_id": cid, "text": "hi, Anna here"})
    assert ack["ok"], ack
    got = await widget.wait("to_user", lambda d: d.get("sender") == "agent")
    assert got["message"] == "hi, Anna here" and got["seq"] == ack["message"]["seq"]
    await widget.told("hi, Anna here")

    # close → disconnect_socket → the snippet disconnects the socket itself.
    ack = await agent_sock.call("close", {"conversation_id": cid, "outcome": "solved"})
    assert ack["ok"], ack
    await widget.told("Anna ended the chat.")
    await widget.wait("disconnect_socket")
    gone = await widget.wait("disconnect")
    assert gone["reason"] == "io client disconnect"
    assert (await server.service.conversation(cid)).state == "closed"

    # Back with the bot: the block takes its else branch and nothing reaches the server.
    assert await widget.send("are you there?") == {"message": "are you there?",
                                                    "connected": False}
    assert (await widget.state())["connected"] is False
    history = await server.messages.history(cid)
    assert [(m.sender, m.text) for m in history] == [
        ("user", "hello from the seed"), ("user", "second line"), ("agent", "hi, Anna here"),
    ]
    assert not widget.rec.of("error"), widget.rec.of("error")


@pytest.mark.parametrize("pkg", list(PACKAGES))
async def test_queue_position_notices_while_no_agent_is_online(
        server: Server, js_widget: StartWidget, pkg: str) -> None:
    bot = await server.bot()
    agent = await server.agent(bot, name="Anna", capacity=1)
    first_cid = (await server.handoff(bot))["ConversationID"]
    second_cid = (await server.handoff(bot))["ConversationID"]

    first = await js_widget(pkg, first_cid, bot.id)
    notice = await first.told("first in line")
    assert "No agent is online" in notice
    second = await js_widget(pkg, second_cid, bot.id)
    notice = await second.told("number 2 in line")
    assert "No agent is online" in notice
    assert (await server.service.conversation(second_cid)).state == "queued"

    # Anna comes online with room for one: the first is hers, the second moves up.
    agent_sock = await server.agent_socket(agent, capacity=1)
    assigned = await agent_sock.rec.wait("conversation_assigned")
    assert assigned["conversation"]["conversation_id"] == first_cid
    await first.told("Anna joined the chat.")
    await first.wait("messages")
    await second.told("next in line")
    assert (await server.service.conversation(second_cid)).state == "queued"
    assert not second.rec.of("messages")
    for widget in (first, second):
        assert all(isinstance(d, dict) and isinstance(d.get("message"), str)
                   for d in widget.rec.of("to_user"))
        assert not widget.rec.of("error"), widget.rec.of("error")


@pytest.mark.parametrize("case", ["unknown_conversation", "bot_mismatch"])
@pytest.mark.parametrize("pkg", list(PACKAGES))
async def test_bad_username_is_refused_and_binds_nothing(
        server: Server, js_widget: StartWidget, pkg: str, case: str) -> None:
    bot = await server.bot()
    other: Bot = await server.bot()
    cid = (await server.handoff(bot))["ConversationID"]
    if case == "unknown_conversation":
        asked_cid, asked_bot = "no-such-conversation", bot.id
    else:
        asked_cid, asked_bot = cid, other.id

    widget = await js_widget(pkg, asked_cid, asked_bot)
    await widget.wait("startConversation")
    error = await widget.wait("error")
    assert error["code"] == case and error["event"] == "username", error
    assert error["message"]

    # Nothing bound: the socket is in no conversation room, and from_user is refused.
    room = rooms.widget_room(asked_cid)
    assert not list(server.app[SIO].manager.get_participants("/live_agent", room))
    assert (await server.service.conversation(cid)).state == "pending"
    assert (await widget.send("hello?"))["connected"]
    refused = await widget.wait("error", lambda e: e.get("event") == "from_user")
    assert refused["code"] == "not_bound", refused
    assert await server.messages.history(cid) == []
    assert not widget.rec.of("to_user") and not widget.rec.of("setBotResponse")
    # The server did not drop the socket for it.
    assert (await widget.state())["connected"] is True


@pytest.mark.parametrize("pkg", ["sio3", "sio4"])
async def test_the_seed_widget_reconnects_and_shows_what_it_missed(
        server: Server, js_widget: StartWidget, pkg: str) -> None:
    """A connection gone silent, then dead: the snippet's own reconnect shows what it missed.

    The silence is made by a proxy between the widget and the server (see
    ``tests/integration/proxy.py``); the server notices only when the proxy cuts it.
    """
    proxy = FreezingProxy(server.settings.port)
    await proxy.start()
    try:
        await _silent_then_gone(server, js_widget, pkg, proxy)
    finally:
        await proxy.close()


async def _silent_then_gone(server: Server, js_widget: StartWidget, pkg: str,
                            proxy: FreezingProxy) -> None:
    bot = await server.bot()
    agent = await server.agent_socket(await server.agent(bot, name="Anna"))
    cid = (await server.handoff(bot))["ConversationID"]
    # The seed snippet, unchanged, connected through the proxy (polling, then WebSocket).
    widget = await js_widget(pkg, cid, bot.id, url=proxy.url)
    await widget.wait("upgrade")
    await widget.told("Anna joined the chat.")
    assert (await agent.call("send_message", {"conversation_id": cid, "text": "hello"}))["ok"]
    await widget.told("hello")
    assert (await widget.send("thanks"))["connected"]
    await agent.rec.wait("user_message", lambda d: d["text"] == "thanks")

    proxy.freeze()
    lost = [f"lost {i}" for i in range(5)]
    for text in lost:
        assert (await agent.call("send_message", {"conversation_id": cid, "text": text}))["ok"]
    proxy.cut()
    await agent.rec.wait("user_left")
    # socket.io-client reconnects by itself; the snippet answers startConversation with
    # username, and the server sends what the frozen connection swallowed.
    for text in lost:
        await widget.told(text)
    await agent.rec.wait("user_returned")
    shown = [t for t in widget.rec.of("setBotResponse") if t.startswith(("hello", "lost"))]
    assert shown == ["hello", *lost]
    assert not widget.rec.of("error"), widget.rec.of("error")
