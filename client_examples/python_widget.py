"""A chat widget in a terminal, speaking the seed protocol on ``/live_agent``.

    python client_examples/python_widget.py --url http://127.0.0.1:8080 \\
        --bot-id <bot_id> --conversation-id <ConversationID from execute_handoff>

Lines typed on stdin are sent with ``from_user``; what the agent and the server say
(``to_user``) is printed. It exits when the agent ends the chat (``disconnect_socket``),
or on Ctrl-C. After a dropped connection it reconnects and binds again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading

import socketio

NAMESPACE = "/live_agent"


def stdin_lines(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Lines from stdin (None at its end), read by a daemon thread so any stdin works."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, daemon=True).start()
    return queue


async def run(args: argparse.Namespace) -> int:
    sio = socketio.AsyncClient()
    ids = {"ConversationID": args.conversation_id, "BotID": args.bot_id}
    bound = asyncio.Event()
    ended = asyncio.Event()
    status = 0  # the exit status
    last_seq = 0  # the last agent message shown, to resume from after a reconnect

    @sio.on("startConversation", namespace=NAMESPACE)
    async def on_start() -> None:
        # Sent on every (re)connect: bind to the conversation the bot handed us.
        nonlocal status
        request = dict(ids)
        if args.rich:
            request["features"] = ["queue", "typing"]
            if last_seq:  # after a reconnect: everything the agent said since
                request["resume_after_seq"] = last_seq
        ack = await sio.call("username", request, namespace=NAMESPACE)
        if not ack["ok"]:  # the reason came as an `error` event
            status = 1
            ended.set()
            return
        print(f"* joined conversation ({ack['state']})", flush=True)
        bound.set()

    @sio.on("disconnect", namespace=NAMESPACE)
    async def on_disconnect(*_: object) -> None:
        bound.clear()  # until startConversation binds the new connection

    @sio.on("to_user", namespace=NAMESPACE)
    async def on_to_user(data: dict) -> None:
        nonlocal last_seq
        if data.get("sender") == "agent":
            last_seq = max(last_seq, data.get("seq", 0))
            name = (data.get("agent") or {}).get("name", "agent")
            print(f"{name}: {data['message']}", flush=True)
        else:
            print(f"* {data['message']}", flush=True)

    @sio.on("messages", namespace=NAMESPACE)
    async def on_messages(*_: object) -> None:
        # The agent was assigned and asks for the user-bot conversation so far.
        await sio.emit(
            "messages_to_client",
            {"messages": args.transcript, "bot_id": args.bot_id},
            namespace=NAMESPACE,
        )

    @sio.on("disconnect_socket", namespace=NAMESPACE)
    async def on_disconnect_socket(*_: object) -> None:
        print("* the chat has ended; back to the bot", flush=True)
        ended.set()

    @sio.on("error", namespace=NAMESPACE)
    async def on_error(error: dict) -> None:
        # Any refused request: {code, message, field?, event}.
        print(f"! {error['event']} refused: {error['code']}: {error['message']}", flush=True)

    if args.rich:

        @sio.on("queue_position", namespace=NAMESPACE)
        async def on_queue_position(data: dict) -> None:
            print(f"* position {data['position']}, {data['agents_online']} online", flush=True)

        @sio.on("agent_typing", namespace=NAMESPACE)
        async def on_agent_typing(data: dict) -> None:
            if data["typing"]:
                print(f"* {data['agent']['name']} is typing...", flush=True)

    await sio.connect(args.url, namespaces=[NAMESPACE])
    lines = stdin_lines(asyncio.get_running_loop())
    sender = asyncio.create_task(send_lines(sio, ids, lines, bound))
    try:
        await ended.wait()
    finally:
        sender.cancel()
        await sio.disconnect()
    return status


async def send_lines(
    sio: socketio.AsyncClient, ids: dict, lines: asyncio.Queue[str | None], bound: asyncio.Event
) -> None:
    while (line := await lines.get()) is not None:
        if not line.strip():
            continue
        await bound.wait()  # a line typed before the socket is bound waits for it
        try:
            # Stored before the ack; a refusal also comes as an `error` event.
            await sio.call("from_user", {"message": line, **ids}, namespace=NAMESPACE)
        except socketio.exceptions.SocketIOError as exc:  # not connected, or no answer
            print(f"! not sent: {exc or type(exc).__name__}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="socket.url from the bot")
    parser.add_argument("--bot-id", required=True)
    parser.add_argument("--conversation-id", required=True)
    parser.add_argument(
        "--transcript",
        type=json.loads,
        default=[],
        help='the user-bot conversation, as JSON: [{"sender": "user", "message": "..."}]',
    )
    parser.add_argument(
        "--rich", action="store_true", help="opt into queue_position, agent_typing and resume"
    )
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(run(args)))
    except socketio.exceptions.ConnectionError as exc:
        sys.exit(f"cannot connect to {args.url}: {exc}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
