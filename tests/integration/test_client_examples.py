"""The client examples, run as real programs against a real server."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from tests.conftest import Server, free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "client_examples"
# Each program starts an interpreter and imports socketio, on a machine shared with other
# work: a generous bound on how long one step may take, never a measurement.
WITHIN = 30.0


class Program:
    """A client example running as a subprocess; its output is read line by line."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process) -> None:
        self.name = name
        self.proc = proc
        self.lines: list[str] = []

    @classmethod
    async def start(cls, script: str, *args: str) -> Program:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-u",
            str(EXAMPLES / script),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        return cls(script, proc)

    def _failed(self, why: str) -> AssertionError:
        output = "\n".join(self.lines)
        return AssertionError(f"{self.name} {why}; its output so far:\n{output}")

    async def expect(self, text: str) -> str:
        """The next line of output containing ``text``."""
        assert self.proc.stdout is not None
        try:
            async with asyncio.timeout(WITHIN):
                while raw := await self.proc.stdout.readline():
                    line = raw.decode().rstrip("\n")
                    self.lines.append(line)
                    if text in line:
                        return line
        except TimeoutError:
            raise self._failed(f"printed no line with {text!r} within {WITHIN}s") from None
        raise self._failed(f"ended without printing {text!r}")

    async def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def finish(self) -> int:
        """Wait for the program to end by itself; its exit status."""
        assert self.proc.stdout is not None
        try:
            async with asyncio.timeout(WITHIN):
                rest = await self.proc.stdout.read()
                self.lines.extend(rest.decode().splitlines())
                return await self.proc.wait()
        except TimeoutError:
            raise self._failed(f"did not end within {WITHIN}s") from None

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        if self.proc.stdin is not None:
            self.proc.stdin.close()


async def run_to_end(script: str, *args: str) -> tuple[int, str]:
    program = await Program.start(script, *args)
    try:
        status = await program.finish()
    finally:
        await program.stop()
    return status, "\n".join(program.lines)


async def test_widget_and_agent_examples_talk_both_ways(server: Server) -> None:
    bot = await server.bot()
    agent = await server.agent(bot, name="Anna")
    status, out = await run_to_end(
        "bot_handoff.py",
        *("--url", server.url, "--bot-id", bot.id, "--api-key", bot.api_key),
        *("--user-name", "Thandi", "--reason", "asked for a human", "--json"),
    )
    assert status == 0, out
    handoff = json.loads(out)
    cid = handoff["ConversationID"]
    assert handoff["socket"] == {"url": server.url, "namespace": "/live_agent"}

    programs: list[Program] = []
    try:
        anna = await Program.start(
            "python_agent.py",
            *("--url", server.url, "--email", agent.email, "--password", "s3cret-pass"),
        )
        programs.append(anna)
        await anna.expect("* online as Anna")
        transcript = [{"sender": "user", "message": "I want a person"}]
        widget = await Program.start(
            "python_widget.py",
            *("--url", handoff["socket"]["url"], "--bot-id", handoff["BotID"]),
            *("--conversation-id", cid, "--transcript", json.dumps(transcript)),
        )
        programs.append(widget)
        await anna.expect(f"* assigned {cid}: Thandi, reason: asked for a human")
        await widget.expect("* Anna joined the chat.")
        await anna.expect("(user) I want a person")

        await widget.type("hello from the widget")
        await anna.expect("user: hello from the widget")
        await anna.type("hi from the agent")
        await widget.expect("Anna: hi from the agent")

        await anna.type("/close all sorted")
        await widget.expect("* Anna ended the chat. You're back with the bot.")
        await widget.expect("* the chat has ended; back to the bot")
        assert await widget.finish() == 0
        await anna.expect(f"* [{cid[:8]}] closed (resolved)")
        await anna.type("/quit")
        assert await anna.finish() == 0
    finally:
        for program in programs:
            await program.stop()

    view = await server.service.conversation(cid)
    assert (view.state, view.close_reason) == ("closed", "resolved")
    assert view.outcome is not None
    assert (view.outcome.status, view.outcome.note) == ("resolved", "all sorted")
    stored = [(m.sender, m.text) for m in await server.messages.history(cid)]
    assert stored == [("user", "hello from the widget"), ("agent", "hi from the agent")]


async def test_bot_example_tells_where_the_widget_connects_or_why_not(server: Server) -> None:
    bot = await server.bot()
    args = ("--url", server.url, "--bot-id", bot.id)
    status, out = await run_to_end("bot_handoff.py", *args, "--api-key", bot.api_key)
    assert status == 0, out
    assert f"the widget connects to {server.url}/live_agent" in out
    assert f"python_widget.py --url {server.url} --bot-id {bot.id} --conversation-id" in out
    status, out = await run_to_end("bot_handoff.py", *args, "--api-key", "hk_wrong")
    assert status == 1
    assert "handoff refused (401 unauthorized)" in out


async def test_widget_example_explains_a_refused_bind(server: Server) -> None:
    bot = await server.bot()
    status, out = await run_to_end(
        "python_widget.py",
        *("--url", server.url, "--bot-id", bot.id, "--conversation-id", "no-such-conversation"),
    )
    assert status == 1, out
    assert "! username refused: unknown_conversation" in out


async def test_python_bot_offers_a_human_hands_off_and_learns_the_outcome(server: Server) -> None:
    bot = await server.bot()
    args = ("--url", server.url, "--bot-id", bot.id, "--api-key", bot.api_key)
    status, out = await run_to_end("python_bot.py", *args, "--webhook-port", str(free_port()))
    # Nobody online: the bot learns it before promising anything, and shows other options.
    assert status == 3, out
    assert "* options: available=False (no_agent_online), 0 online" in out
    assert "Leave a message" in out

    sock = await server.agent_socket(await server.agent(bot, name="Anna"))
    program = await Program.start(
        "python_bot.py",
        *args,
        *("--webhook-port", str(free_port()), "--user-name", "Thandi"),
        *("--entities", json.dumps({"order_id": "abc123"})),
    )
    try:
        await program.expect("* webhooks go to http://127.0.0.1:")
        await program.expect("* options: available=True (agents_available), 1 online")
        line = await program.expect("* handoff ")
        cid = line.split()[2].rstrip(":")
        await server.widget(cid, bot)
        assigned = await sock.rec.wait("conversation_assigned")
        assert assigned["conversation"]["entities"] == {"order_id": "abc123"}
        await program.expect("* webhook conversation.assigned to Anna")
        outcome = {
            "status": "back_to_bot",
            "note": "refund agreed",
            "variables": {"refund": "yes"},
        }
        ack = await sock.call("close", {"conversation_id": cid, "outcome": outcome})
        assert ack["ok"], ack
        await program.expect("* webhook conversation.closed (resolved)")
        await program.expect(
            "* ended: resolved; outcome back_to_bot; variables {\"refund\": \"yes\"}; "
            "note 'refund agreed'"
        )
        assert await program.finish() == 0
    finally:
        await program.stop()


async def test_agent_example_closes_with_a_typed_outcome(server: Server) -> None:
    bot = await server.bot()
    agent = await server.agent(bot, name="Anna")
    anna = await Program.start(
        "python_agent.py",
        *("--url", server.url, "--email", agent.email, "--password", "s3cret-pass"),
    )
    try:
        await anna.expect("* online as Anna")
        cid = (await server.handoff(bot))["ConversationID"]
        await server.widget(cid, bot)
        await anna.expect(f"* assigned {cid}")
        await anna.type("/close back_to_bot order=abc123 tier=gold wants a callback")
        await anna.expect(f"* [{cid[:8]}] closed (resolved)")
    finally:
        await anna.stop()
    view = await server.service.conversation(cid)
    assert view.outcome is not None
    assert view.outcome.status == "back_to_bot"
    assert view.outcome.variables == {"order": "abc123", "tier": "gold"}
    assert view.outcome.note == "wants a callback"
