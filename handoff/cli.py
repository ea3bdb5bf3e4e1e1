"""``handoff serve | migrate | create-bot | update-bot | set-dialogue | create-agent |
set-password | disable-agent | enable-agent | delete-agent``."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from handoff.dialogues.bundle import Bundle, install, read_bundle
from handoff.dialogues.loader import DialogueError
from handoff.protocol.actions import check_webhook_url
from handoff.routing.roles import Role
from handoff.serve import serve, settings_from_env
from handoff.storage.agents import AgentRecord, AgentRepo
from handoff.storage.bots import BotRepo
from handoff.storage.db import make_engine
from handoff.storage.migrate import upgrade

__all__ = ["main"]


def _with_db(work: Callable[[Any], Awaitable[dict[str, Any]]]) -> None:
    settings = settings_from_env()

    async def run() -> dict[str, Any]:
        url = settings.resolved_database_url()
        if url.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        await upgrade(url)
        engine = make_engine(url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    print(json.dumps(asyncio.run(run())))


def migrate(args: argparse.Namespace) -> None:
    settings = settings_from_env()
    if settings.resolved_database_url().startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(upgrade(settings.resolved_database_url(), args.revision))
    print(json.dumps({"ok": True, "revision": args.revision}))


def _bundle(path: str | None) -> Bundle | None:
    """The dialogue file and its actions, checked before anything is stored."""
    if path is None:
        return None
    try:
        return read_bundle(Path(path))
    except DialogueError as exc:
        sys.exit(f"handoff: --dialogue: {exc}")


def create_bot(args: argparse.Namespace) -> None:
    bundle = _bundle(args.dialogue)

    async def work(engine: Any) -> dict[str, Any]:
        repo = BotRepo(engine)
        bot, key = await repo.create(
            args.name,
            assignment_mode=args.assignment,
            wait_limit_seconds=args.wait_limit,
            webhook_url=_webhook_url(args.webhook_url),
            webhook_secret=_webhook_secret(args.webhook_secret),
        )
        if args.escalate_on_break:
            await repo.update(bot.id, escalate_on_break=True)
        made: dict[str, Any] = {
            "bot_id": bot.id,
            "api_key": key,
            "name": bot.name,
            "assignment_mode": bot.assignment_mode,
            "webhook_url": bot.webhook_url,
            "webhook_secret_set": bot.webhook_secret is not None,
        }
        if args.escalate_on_break:
            made["escalate_on_break"] = True
        if bundle is not None:
            made.update(await install(engine, bot.id, bundle))
        return made

    _with_db(work)


def set_dialogue(args: argparse.Namespace) -> None:
    bundle = _bundle(args.file)
    assert bundle is not None

    async def work(engine: Any) -> dict[str, Any]:
        if await BotRepo(engine).get(args.bot) is None:
            sys.exit(f"handoff: --bot {args.bot}: no such bot")
        return {"bot_id": args.bot, **(await install(engine, args.bot, bundle))}

    _with_db(work)


def _webhook_url(value: str | None) -> str | None:
    """``--webhook-url``: an http(s) URL; ``""`` clears it."""
    if not value:
        return None
    try:
        check_webhook_url(value)
    except ValueError as exc:
        sys.exit(f"handoff: --webhook-url {value}: {exc}")
    return value


def _webhook_secret(value: str | None) -> str | None:
    """``--webhook-secret``: 16-200 characters; ``""`` clears it (webhooks go unsigned)."""
    if not value:
        return None
    if not 16 <= len(value) <= 200:
        sys.exit("handoff: --webhook-secret: must be 16 to 200 characters")
    return value


def update_bot(args: argparse.Namespace) -> None:
    """Change a bot's webhook settings; an option left out keeps what is stored."""

    async def work(engine: Any) -> dict[str, Any]:
        repo = BotRepo(engine)
        if await repo.get(args.bot) is None:
            sys.exit(f"handoff: --bot {args.bot}: no such bot")
        changes: dict[str, object] = {}
        if args.webhook_url is not None:
            changes["webhook_url"] = _webhook_url(args.webhook_url)
        if args.webhook_secret is not None:
            changes["webhook_secret"] = _webhook_secret(args.webhook_secret)
        if changes:
            await repo.update(args.bot, **changes)
        bot = await repo.get(args.bot)
        assert bot is not None
        return {
            "bot_id": bot.id,
            "name": bot.name,
            "webhook_url": bot.webhook_url,
            "webhook_secret_set": bot.webhook_secret is not None,
        }

    _with_db(work)


def create_agent(args: argparse.Namespace) -> None:
    async def work(engine: Any) -> dict[str, Any]:
        bots = BotRepo(engine)
        for bot_id in args.bot:
            if await bots.get(bot_id) is None:
                sys.exit(f"handoff: --bot {bot_id}: no such bot")
        try:
            agent = await AgentRepo(engine).create(
                args.email,
                args.password,
                name=args.name,
                bots=args.bot,
                capacity=args.capacity,
                teams=args.team,
                role=args.role,
            )
        except IntegrityError:
            sys.exit(f"handoff: --email {args.email}: an agent with this email already exists")
        return {
            "agent_id": agent.id,
            "email": agent.email,
            "name": agent.name,
            "bots": list(agent.bots),
            "capacity": agent.capacity,
            "role": agent.role,
        }

    _with_db(work)


def set_password(args: argparse.Namespace) -> None:
    """A new password for an agent: the one given, or a random one printed once."""
    if args.password is not None and not args.password:
        sys.exit("handoff: --password: must not be empty (leave it out for a random one)")

    async def work(engine: Any) -> dict[str, Any]:
        repo = AgentRepo(engine)
        agent = await _agent_by_email(repo, args.email)
        password = args.password or secrets.token_urlsafe(12)
        if not await repo.set_password(agent.id, password):  # deleted meanwhile
            sys.exit(f"handoff: --email {args.email}: no such agent")
        done: dict[str, Any] = {"agent_id": agent.id, "email": agent.email, "password_set": True}
        if args.password is None:
            done["password"] = password
        return done

    _with_db(work)


async def _agent_by_email(repo: AgentRepo, email: str) -> AgentRecord:
    agent = await repo.by_email(email)
    if agent is None:
        sys.exit(f"handoff: --email {email}: no such agent")
    return agent


def disable_agent(args: argparse.Namespace) -> None:
    """Disable an agent: no sign-in, and the server ends their open sockets (see recheck)."""
    _set_disabled(args.email, True)


def enable_agent(args: argparse.Namespace) -> None:
    _set_disabled(args.email, False)


def _set_disabled(email: str, disabled: bool) -> None:
    async def work(engine: Any) -> dict[str, Any]:
        repo = AgentRepo(engine)
        agent = await repo.set_disabled((await _agent_by_email(repo, email)).id, disabled)
        if agent is None:  # deleted meanwhile
            sys.exit(f"handoff: --email {email}: no such agent")
        return {"agent_id": agent.id, "email": agent.email, "disabled": agent.disabled}

    _with_db(work)


def delete_agent(args: argparse.Namespace) -> None:
    async def work(engine: Any) -> dict[str, Any]:
        repo = AgentRepo(engine)
        agent = await _agent_by_email(repo, args.email)
        await repo.delete(agent.id)
        return {"agent_id": agent.id, "email": agent.email, "deleted": True}

    _with_db(work)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="handoff", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the server (settings from HANDOFF_* variables)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=serve)
    p = sub.add_parser("migrate", help="bring the database schema up to date")
    p.add_argument("--revision", default="head")
    p.set_defaults(func=migrate)
    p = sub.add_parser("create-bot", help="create a bot; prints its id and API key")
    p.add_argument("--name", required=True)
    p.add_argument("--assignment", choices=["auto", "manual"], default="auto")
    p.add_argument("--wait-limit", type=float, help="seconds a person may wait for an agent")
    p.add_argument("--webhook-url", help="where webhooks go (http or https)")
    p.add_argument("--webhook-secret", help="signs webhooks (16-200 characters)")
    p.add_argument(
        "--dialogue",
        help="a flow file (dialogues/demo_bot.yaml): stored as the bot's, its actions published",
    )
    p.add_argument(
        "--escalate-on-break",
        action="store_true",
        help="hand off to a human when a custom action breaks",
    )
    p.set_defaults(func=create_bot)
    p = sub.add_parser(
        "set-dialogue", help="store a flow file as a bot's dialogue, publishing its actions"
    )
    p.add_argument("--bot", required=True, help="the bot id")
    p.add_argument("file")
    p.set_defaults(func=set_dialogue)
    p = sub.add_parser("update-bot", help="change a bot's webhook URL or secret")
    p.add_argument("--bot", required=True, help="the bot's id")
    p.add_argument("--webhook-url", help="an http(s) URL; '' stops webhooks")
    p.add_argument("--webhook-secret", help="16-200 characters; '' sends them unsigned")
    p.set_defaults(func=update_bot)
    p = sub.add_parser("create-agent", help="create an agent for one or more bots")
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--name")
    p.add_argument("--bot", action="append", required=True, help="a bot id (repeatable)")
    p.add_argument("--team", action="append", help="a team name (repeatable)")
    p.add_argument("--capacity", type=int, default=3)
    p.add_argument("--role", choices=[r.value for r in Role], default=Role.AGENT.value)
    p.set_defaults(func=create_agent)
    p = sub.add_parser(
        "set-password", help="set an agent's password (a random one, printed, when left out)"
    )
    p.add_argument("--email", required=True)
    p.add_argument("--password", help="the new password; left out: a random one is printed")
    p.set_defaults(func=set_password)
    p = sub.add_parser(
        "disable-agent", help="stop an agent signing in; their open sockets end within seconds"
    )
    p.add_argument("--email", required=True)
    p.set_defaults(func=disable_agent)
    p = sub.add_parser("enable-agent", help="let a disabled agent sign in again")
    p.add_argument("--email", required=True)
    p.set_defaults(func=enable_agent)
    p = sub.add_parser(
        "delete-agent", help="delete an agent (their conversations keep who handled them)"
    )
    p.add_argument("--email", required=True)
    p.set_defaults(func=delete_agent)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
