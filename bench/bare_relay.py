"""The yardstick: a bare python-socketio relay with DEFAULT settings.

Same event names and payload shapes as the handoff server, so one load
generator drives both, but nothing else: rooms only, no persistence, no
validation, no rate limits, no state machine. python-socketio's defaults are
kept on purpose (``async_handlers=True``, aiohttp's WebSocket compression left
on by python-engineio, the default asyncio loop, CPython's default GC), as the
issue asks for the ratio against "python-socketio's default settings".

Usage: python bench/bare_relay.py --port 8123
"""

from __future__ import annotations

import argparse
import itertools
from collections import deque
from datetime import UTC, datetime

import socketio
from aiohttp import web

WIDGET = "/live_agent"
AGENT = "/agent"


def build() -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
    app = web.Application()
    sio.attach(app)

    assigned: dict[str, str] = {}  # conversation id -> agent id
    seqs: dict[str, int] = {}
    agent_of_sid: dict[str, str] = {}
    free: dict[str, int] = {}  # agent id -> free capacity (online agents only)
    waiting: deque[str] = deque()  # bound conversations without an agent
    msg_ids = itertools.count(1)

    def now() -> str:
        return datetime.now(UTC).isoformat()

    def next_seq(cid: str) -> int:
        seq = seqs.get(cid, 0) + 1
        seqs[cid] = seq
        return seq

    async def dispatch() -> None:
        # Least loaded = most free capacity; enough for a yardstick.
        while waiting and free:
            agent_id = max(free, key=free.__getitem__)
            if free[agent_id] <= 0:
                return
            cid = waiting.popleft()
            free[agent_id] -= 1
            assigned[cid] = agent_id
            await sio.emit("conversation_assigned",
                           {"conversation": {"conversation_id": cid, "agent_id": agent_id,
                                             "state": "assigned"}},
                           room=f"agent:{agent_id}", namespace=AGENT)

    # /live_agent -----------------------------------------------------------
    @sio.on("connect", namespace=WIDGET)
    async def widget_connect(sid, environ, auth=None):
        sio.start_background_task(sio.emit, "startConversation", room=sid, namespace=WIDGET)

    @sio.on("username", namespace=WIDGET)
    async def username(sid, data):
        cid = data["ConversationID"]
        await sio.enter_room(sid, f"conv:{cid}", namespace=WIDGET)
        if cid not in assigned and cid not in waiting:
            waiting.append(cid)
            await dispatch()
        return {"ok": True, "conversation_id": cid}

    @sio.on("from_user", namespace=WIDGET)
    async def from_user(sid, data):
        cid = data["ConversationID"]
        seq = next_seq(cid)
        agent_id = assigned.get(cid)
        if agent_id is not None:
            await sio.emit("user_message",
                           {"conversation_id": cid, "seq": seq, "text": data["message"],
                            "sent_at": now()},
                           room=f"agent:{agent_id}", namespace=AGENT)
        return {"ok": True, "seq": seq}

    # /agent ------------------------------------------------------------------
    @sio.on("connect", namespace=AGENT)
    async def agent_connect(sid, environ, auth=None):
        agent_id = (auth or {}).get("token")
        if not agent_id:
            raise socketio.exceptions.ConnectionRefusedError({"code": "unauthorized"})
        agent_of_sid[sid] = agent_id
        await sio.enter_room(sid, f"agent:{agent_id}", namespace=AGENT)

    @sio.on("disconnect", namespace=AGENT)
    async def agent_disconnect(sid, *args):
        free.pop(agent_of_sid.pop(sid, ""), None)

    @sio.on("set_status", namespace=AGENT)
    async def set_status(sid, data):
        agent_id = agent_of_sid[sid]
        capacity = int(data.get("capacity") or 1)
        if data.get("status") == "online":
            load = sum(1 for a in assigned.values() if a == agent_id)
            free[agent_id] = capacity - load
            sio.start_background_task(dispatch)
        else:
            free.pop(agent_id, None)
        return {"ok": True, "agent": {"id": agent_id, "status": data.get("status"),
                                      "capacity": capacity}}

    @sio.on("send_message", namespace=AGENT)
    async def send_message(sid, data):
        cid = data["conversation_id"]
        agent_id = agent_of_sid[sid]
        seq = next_seq(cid)
        sent_at = now()
        await sio.emit("to_user",
                       {"message": data["text"], "seq": seq, "sender": "agent",
                        "agent": {"id": agent_id, "name": agent_id}},
                       room=f"conv:{cid}", namespace=WIDGET)
        return {"ok": True, "message": {"id": next(msg_ids), "conversation_id": cid,
                                        "seq": seq, "sender": "agent", "text": data["text"],
                                        "sent_at": sent_at, "agent_id": agent_id,
                                        "client_msg_id": None}}

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    print(f"bare relay listening on http://{args.host}:{args.port}", flush=True)
    web.run_app(build(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
