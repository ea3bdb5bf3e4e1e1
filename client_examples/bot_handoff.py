"""A bot handing a conversation to a live agent: ``execute_handoff`` over REST.

    python client_examples/bot_handoff.py --url http://127.0.0.1:8080 \\
        --bot-id <bot_id> --api-key <api_key> --reason "asked for a human"

Prints where the widget connects and the command that starts ``python_widget.py`` for it;
``--json`` prints the server's answer as is instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import aiohttp


async def execute_handoff(args: argparse.Namespace) -> dict:
    body: dict = {}
    if args.conversation_id:
        body["ConversationID"] = args.conversation_id
    if args.user_name:
        body["user"] = {"name": args.user_name}
    if args.reason:
        body["reason"] = args.reason
    if args.team:
        body["team"] = args.team
    url = f"{args.url.rstrip('/')}/api/v1/bots/{args.bot_id}/handoff"
    headers = {"Authorization": f"Bearer {args.api_key}"}
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as resp:
        answer = await resp.json()
        if resp.status != 201:
            error = answer.get("error", {})
            sys.exit(f"handoff refused ({resp.status} {error.get('code')}): {error.get('message')}")
        return dict(answer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the handoff server")
    parser.add_argument("--bot-id", required=True)
    parser.add_argument("--api-key", required=True, help="printed by `handoff create-bot`")
    parser.add_argument("--conversation-id", help="the bot's own id (8-128 of A-Za-z0-9_.:-)")
    parser.add_argument("--user-name", help="the person's name, shown to the agent")
    parser.add_argument("--reason", help="why the bot hands off, shown to the agent")
    parser.add_argument("--team", help="only agents of this team get the conversation")
    parser.add_argument("--json", action="store_true", help="print the server's JSON answer")
    args = parser.parse_args()

    answer = asyncio.run(execute_handoff(args))
    if args.json:
        print(json.dumps(answer))
        return
    socket = answer["socket"]
    print(f"ConversationID: {answer['ConversationID']} ({answer['state']})")
    print(f"the widget connects to {socket['url']}{socket['namespace']} (Socket.IO)")
    print("and sends username {ConversationID, BotID}; try it with:")
    print(
        f"  python client_examples/python_widget.py --url {socket['url']} "
        f"--bot-id {answer['BotID']} --conversation-id {answer['ConversationID']}"
    )


if __name__ == "__main__":
    main()
