"""A live agent in a terminal, on ``/agent``.

    python client_examples/python_agent.py --url http://127.0.0.1:8080 \\
        --email anna@example.com --password secret

Signs in over REST, connects with the token, goes online, and prints the conversations
assigned to you and what people write. A line you type goes to the current conversation
(the last one assigned, or the one picked with /use). Commands:

    /close [outcome]   end the current conversation; the person goes back to the bot.
                       The outcome is a note, or typed: a status first (resolved,
                       follow_up, back_to_bot), then name=value variables for the bot,
                       then a note: /close back_to_bot order=abc123 refund agreed
    /use ID            make another of your conversations current (an id prefix is enough)
    /queue             list the conversations waiting
    /accept ID         take a waiting conversation (bots in manual assignment mode)
    /quit              go offline and leave (your open conversations go back to the queue)

End of input (Ctrl-D) leaves without going offline: the server keeps your conversations
for its agent grace period, in case you come back.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import threading
import uuid

import aiohttp
import socketio

NAMESPACE = "/agent"


def stdin_lines(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Lines from stdin (None at its end), read by a daemon thread so any stdin works."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, daemon=True).start()
    return queue


def say(text: str) -> None:
    print(text, flush=True)


async def sign_in(url: str, email: str, password: str) -> tuple[str, dict]:
    """POST /api/v1/auth/login: the token that opens /agent, and who we are."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/api/v1/auth/login", json={"email": email, "password": password}) as resp,
    ):
        body = await resp.json()
    if resp.status != 200:
        sys.exit(f"sign-in refused: {body['error']['message']}")
    return body["token"], body["agent"]


OUTCOME_STATUSES = ("resolved", "follow_up", "back_to_bot")


def parse_outcome(text: str) -> str | dict:
    """``/close`` arguments as the ``close`` outcome: a plain note, or a typed outcome
    when the first word is a status (then ``name=value`` words are variables)."""
    words = text.split()
    if words[0] not in OUTCOME_STATUSES:
        return text
    outcome: dict = {"status": words[0]}
    rest = words[1:]
    variables = {}
    while rest and "=" in rest[0]:
        name, _, value = rest.pop(0).partition("=")
        variables[name] = value
    if variables:
        outcome["variables"] = variables
    if rest:
        outcome["note"] = " ".join(rest)
    return outcome


class Agent:
    def __init__(self, sio: socketio.AsyncClient, capacity: int | None) -> None:
        self.sio = sio
        self.capacity = capacity
        self.chats: list[str] = []  # conversation ids assigned to us, oldest first
        self.current: str | None = None
        self.waiting = -1

    async def request(self, event: str, data: dict) -> dict | None:
        """Send a request; its answer on success, None (and a printed reason) otherwise."""
        ack = await self.sio.call(event, data, namespace=NAMESPACE)
        if not ack["ok"]:
            say(f"! {event}: {ack['error']['code']}: {ack['error']['message']}")
            return None
        return dict(ack)

    # server → agent ------------------------------------------------------------
    async def on_connect(self) -> None:
        # On every (re)connect: the server may not remember our status.
        status: dict = {"status": "online"}
        if self.capacity is not None:
            status["capacity"] = self.capacity
        ack = await self.request("set_status", status)
        if ack:
            me = ack["agent"]
            say(f"* online as {me['name']} (capacity {me['capacity']}, serving {me['bots']})")

    async def on_conversation_assigned(self, data: dict) -> None:
        conv = data["conversation"]
        cid = conv["conversation_id"]
        if cid not in self.chats:
            self.chats.append(cid)
        self.current = cid
        who = conv["user"].get("name", "someone")
        say(f"* assigned {cid}: {who}, reason: {conv['reason'] or '-'} (now current)")
        if data.get("note"):
            say(f"  note from {data['from_agent_id']}: {data['note']}")
        for item in data["transcript"]:
            say(f"  ({item['sender']} to bot) {item['message']}")
        for message in data["messages"]:
            say(f"  [{cid[:8]}] {message['sender']}: {message['text']}")

    async def on_transcript(self, data: dict) -> None:
        if not data["messages"]:
            return
        say(f"* [{data['conversation_id'][:8]}] what the person said to the bot:")
        for item in data["messages"]:
            say(f"  ({item['sender']}) {item['message']}")

    async def on_user_message(self, data: dict) -> None:
        say(f"[{data['conversation_id'][:8]}] user: {data['text']}")

    async def on_user_left(self, data: dict) -> None:
        say(f"* [{data['conversation_id'][:8]}] the person left; they may come back")

    async def on_user_returned(self, data: dict) -> None:
        say(f"* [{data['conversation_id'][:8]}] the person is here")

    async def on_conversation_transferred(self, data: dict) -> None:
        target = data.get("to_agent_id") or f"team {data.get('to_team')}"
        self._drop(data["conversation_id"], f"transferred to {target}")

    async def on_conversation_closed(self, data: dict) -> None:
        self._drop(data["conversation_id"], f"closed ({data['reason']})")

    async def on_queue_updated(self, data: dict) -> None:
        if len(data["conversations"]) != self.waiting:
            self.waiting = len(data["conversations"])
            say(f"* {self.waiting} waiting in the queue of {data['bot_id']}")

    def _drop(self, cid: str, why: str) -> None:
        if cid in self.chats:
            self.chats.remove(cid)
        if self.current == cid:
            self.current = self.chats[-1] if self.chats else None
        now = f"; current: {self.current}" if self.current else ""
        say(f"* [{cid[:8]}] {why}{now}")

    # what you type ---------------------------------------------------------------
    async def command(self, line: str) -> bool:
        """Act on one typed line; False to quit."""
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name == "/quit":
            await self.request("set_status", {"status": "offline"})
            return False
        if name == "/queue":
            ack = await self.request("queue", {})
            for entry in ack["conversations"] if ack else []:
                say(f"  {entry['position']}. {entry['conversation_id']} {entry['reason'] or ''}")
        elif name == "/accept":
            await self.request("accept", {"conversation_id": arg})
        elif name == "/use":
            found = [c for c in self.chats if c.startswith(arg)] if arg else []
            if len(found) == 1:
                self.current = found[0]
                say(f"* current: {self.current}")
            else:
                say(f"! /use: pick one of {self.chats}")
        elif self.current is None:
            say("! no conversation yet")
        elif name == "/close":
            body: dict = {"conversation_id": self.current}
            if arg:
                body["outcome"] = parse_outcome(arg)
            await self.request("close", body)
        elif name.startswith("/"):
            say("! commands: /close [outcome], /use ID, /queue, /accept ID, /quit")
        else:
            # A client_msg_id makes a retried send safe: the server stores it once.
            message_id = str(uuid.uuid4())
            await self.request(
                "send_message",
                {"conversation_id": self.current, "text": line, "client_msg_id": message_id},
            )
        return True


async def run(args: argparse.Namespace) -> None:
    url = args.url.rstrip("/")
    password = args.password or getpass.getpass(f"password for {args.email}: ")
    token, me = await sign_in(url, args.email, password)
    say(f"* signed in as {me['name']} ({me['id']})")
    sio = socketio.AsyncClient()
    agent = Agent(sio, args.capacity)
    for event in (
        "connect",
        "conversation_assigned",
        "transcript",
        "user_message",
        "user_left",
        "user_returned",
        "conversation_transferred",
        "conversation_closed",
        "queue_updated",
    ):
        sio.on(event, getattr(agent, f"on_{event}"), namespace=NAMESPACE)
    await sio.connect(url, namespaces=[NAMESPACE], auth={"token": token})
    lines = stdin_lines(asyncio.get_running_loop())
    try:
        while (line := await lines.get()) is not None:
            if line.strip():
                try:
                    if not await agent.command(line.strip()):
                        break
                except socketio.exceptions.SocketIOError as exc:  # not connected, or no answer
                    say(f"! {exc or type(exc).__name__}")
    finally:
        await sio.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the handoff server")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", help="asked for when not given")
    parser.add_argument("--capacity", type=int, help="chats at once (default: your account's)")
    args = parser.parse_args()
    try:
        asyncio.run(run(args))
    except socketio.exceptions.ConnectionError as exc:
        sys.exit(f"cannot connect to {args.url}: {exc}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
