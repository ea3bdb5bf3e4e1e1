"""A webhook bot that hands a person to a live agent and learns how it ended.

    python client_examples/python_bot.py --url http://127.0.0.1:8080 \\
        --bot-id <bot_id> --api-key <api_key> --webhook-port 8099 --language zu

What a bot on any platform does, in three steps:

1. ``provide_handoff_options``: can a human take this now, how long is the wait, and
   what to show the person (printed as the chat elements the server sent).
2. ``execute_handoff`` when one can: prints where the widget connects.
3. The webhooks: a small HTTP server receives them, checks each signature and drops
   repeats, prints each event, and ends when the conversation is closed, printing the
   close reason, the agent's outcome and the variables the agent set for the bot.

With ``--configure-webhook`` (the default) it first points the bot's webhook at itself
(``PATCH /api/v1/bots/{bot_id}`` with ``webhook_url`` and a fresh ``webhook_secret``);
a bot in production sets these once. Every step prints one line starting with ``*``;
``--json`` prints each server answer and each event as one JSON line instead.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import secrets
import sys
import time
from typing import Any

import aiohttp
from aiohttp import web

# How far a webhook's timestamp may be from our clock before it is refused as a replay.
TOLERANCE_SECONDS = 300


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """The check from docs/bot-api.md: HMAC-SHA256 over "{timestamp}.{body}"."""
    if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    signed = timestamp.encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def show(args: argparse.Namespace, what: str, payload: Any, line: str) -> None:
    if args.json:
        print(json.dumps({what: payload}), flush=True)
    else:
        print(line, flush=True)


def choices(element: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, payload) of a BUTTON's ``data.items`` or a QUICK_REPLY's ``data.quick_replies``
    (the seeds' HSL shape: the payload sent back is ``payload.message``)."""
    data = element.get("data") or {}
    found = []
    for item in data.get("items", []) + data.get("quick_replies", []):
        payload = item.get("payload")
        sent = payload.get("message", "") if isinstance(payload, dict) else str(payload or "")
        found.append((str(item.get("actionable_text") or item.get("message") or ""), sent))
    return found


def describe(elements: list[dict[str, Any]]) -> str:
    """Chat elements (the seeds' HSL shape) as one line of text and [buttons]."""
    parts: list[str] = []
    for element in elements:
        if element.get("type") == "TEXT":
            parts.append(str(element.get("text", "")))
        elif element.get("text"):
            parts.append(str(element["text"]))
        for label, payload in choices(element):
            parts.append(f"[{label} → {payload}]")
    return " ".join(parts)


class Bot:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.base = f"{args.url.rstrip('/')}/api/v1/bots/{args.bot_id}"
        self.headers = {"Authorization": f"Bearer {args.api_key}"}
        self.secret = args.webhook_secret or secrets.token_urlsafe(32)
        self.seen: set[str] = set()
        self.closed: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.conversation_id: str | None = None

    async def call(
        self, http: aiohttp.ClientSession, method: str, path: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        async with http.request(method, self.base + path, json=body, headers=self.headers) as r:
            return r.status, dict(await r.json())

    # the webhook receiver ------------------------------------------------------------
    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get("X-Handoff-Timestamp", "0")
        signature = request.headers.get("X-Handoff-Signature", "")
        if not timestamp.isdigit() or not verify(self.secret, timestamp, body, signature):
            print("! a webhook with a bad signature was refused", flush=True)
            return web.json_response({"error": "bad signature"}, status=401)
        delivery = request.headers.get("X-Handoff-Delivery", "")
        if delivery in self.seen:  # at-least-once: a retry of one we already handled
            return web.json_response({"ok": True, "duplicate": True})
        self.seen.add(delivery)
        event = json.loads(body)
        if event.get("conversation_id") == self.conversation_id:
            data = event.get("data", {})
            show(self.args, "event", event, f"* webhook {event['type']} {summary(event)}")
            if event["type"] == "conversation.closed" and not self.closed.done():
                self.closed.set_result(data)
        return web.json_response({"ok": True})

    async def listen(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/handoff-webhook", self.webhook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self.args.webhook_host, self.args.webhook_port).start()
        return runner

    # the three steps -----------------------------------------------------------------
    async def run(self) -> int:
        runner = await self.listen()
        try:
            async with aiohttp.ClientSession() as http:
                return await self._steps(http)
        finally:
            await runner.cleanup()

    async def _steps(self, http: aiohttp.ClientSession) -> int:
        args = self.args
        if args.configure_webhook:
            url = f"http://{args.webhook_host}:{args.webhook_port}/handoff-webhook"
            status, answer = await self.call(
                http, "PATCH", "", {"webhook_url": url, "webhook_secret": self.secret}
            )
            if status != 200:
                return refused("setting the webhook", status, answer)
            print(f"* webhooks go to {url}", flush=True)

        person: dict[str, Any] = {"name": args.user_name} if args.user_name else {}
        ask: dict[str, Any] = {"language_code": args.language, "user": person}
        if args.conversation_id:
            ask["ConversationID"] = args.conversation_id
        if args.team:
            ask["team"] = args.team
        status, options = await self.call(http, "POST", "/handoff/options", ask)
        if status != 200:
            return refused("provide_handoff_options", status, options)
        wait = options.get("estimated_wait_seconds")
        show(
            args,
            "options",
            options,
            f"* options: available={options['available']} ({options['reason']}), "
            f"{options['agents_online']} online, queue {options['queue_length']}, "
            f"wait {'unknown' if wait is None else f'{wait:.0f} s'}",
        )
        if not args.json:
            print(f"* show the person: {describe(options.get('messages', []))}", flush=True)
        if not options["available"]:
            return 3

        handoff: dict[str, Any] = {"user": person, "reason": args.reason or "asked for a human"}
        for key in ("ConversationID", "team", "language_code"):
            if key in ask:
                handoff[key] = ask[key]
        if args.entities:
            handoff["entities"] = json.loads(args.entities)
        status, answer = await self.call(http, "POST", "/handoff", handoff)
        if status != 201:
            return refused("execute_handoff", status, answer)
        self.conversation_id = answer["ConversationID"]
        socket = answer["socket"]
        show(
            args,
            "handoff",
            answer,
            f"* handoff {self.conversation_id}: the widget connects to "
            f"{socket['url']}{socket['namespace']}, position {answer.get('queue_position')}",
        )
        if args.no_wait:
            return 0
        data = await self.closed
        outcome = data.get("outcome") or {}
        print(
            f"* ended: {data.get('close_reason')}; outcome {outcome.get('status')}; "
            f"variables {json.dumps(outcome.get('variables') or {}, sort_keys=True)}; "
            f"note {outcome.get('note')!r}",
            flush=True,
        )
        return 0


def summary(event: dict[str, Any]) -> str:
    data = event.get("data", {})
    if event["type"] == "conversation.assigned":
        return f"to {data.get('agent_name') or data.get('agent_id')}"
    if event["type"] == "conversation.closed":
        return f"({data.get('close_reason')})"
    return ""


def refused(step: str, status: int, answer: dict[str, Any]) -> int:
    error = answer.get("error", {})
    print(
        f"! {step} refused ({status} {error.get('code')}, {error.get('field')}): "
        f"{error.get('message')}",
        flush=True,
    )
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the handoff server")
    parser.add_argument("--bot-id", required=True)
    parser.add_argument("--api-key", required=True, help="printed by `handoff create-bot`")
    parser.add_argument("--conversation-id", help="the bot's own id (8-128 of A-Za-z0-9_.:-)")
    parser.add_argument("--user-name", help="the person's name, shown to the agent")
    parser.add_argument("--reason", help="why the bot hands off, shown to the agent")
    parser.add_argument("--entities", help="what the bot collected, as a JSON object")
    parser.add_argument("--team", help="only agents of this team")
    parser.add_argument("--language", default="en", help="the person's language (en, zu, af)")
    parser.add_argument("--webhook-host", default="127.0.0.1")
    parser.add_argument("--webhook-port", type=int, default=8099)
    parser.add_argument("--webhook-secret", help="the bot's secret (default: a new one)")
    parser.add_argument(
        "--no-configure-webhook",
        dest="configure_webhook",
        action="store_false",
        help="the bot's webhook_url and webhook_secret are set already",
    )
    parser.add_argument("--no-wait", action="store_true", help="stop after the handoff")
    parser.add_argument("--json", action="store_true", help="print answers as JSON lines")
    args = parser.parse_args()

    async def run() -> int:
        return await Bot(args).run()

    sys.exit(asyncio.run(run()))


if __name__ == "__main__":
    main()
