"""``handoff serve``: the server process, and what it prints when it is up.

The banner says where everything is (the console, the demo, the sockets), whether
custom actions are sandboxed (learnt by running one through the real pool), and,
on a database without agents, the exact command that makes the first one.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys

from aiohttp import web
from pydantic import ValidationError

from handoff.config import Settings
from handoff.demo import DEMO_AGENT_EMAIL, DemoSetup
from handoff.protocol.events import WIDGET_NAMESPACE
from handoff.runner import ErrorKind, RunnerPool
from handoff.runner.sandbox import find_bubblewrap
from handoff.storage.agents import AgentRecord, AgentRepo
from handoff.storage.bots import BotRepo

__all__ = ["custom_actions_status", "serve", "settings_from_env"]


def settings_from_env() -> Settings:
    """The settings from the environment; a bad value ends the process naming it."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "HANDOFF_" + str(first["loc"][0]).upper() if first.get("loc") else "HANDOFF_*"
        sys.exit(f"handoff: {name}: {first['msg']}")


def _tune_runtime() -> None:
    # Thousands of long-lived connection objects make CPython's cyclic GC rescan
    # the same survivors over and over; freezing what startup made and raising
    # the first threshold halves that cost at 2,000 connections.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    # SQLite runs in a driver thread that needs the GIL to hand each commit back;
    # with the default 5 ms switch interval a busy event loop can keep it waiting
    # that long, which is the whole latency budget of a message.
    sys.setswitchinterval(0.0005)


_CHECK_BOT = "handoff-start-up-check"
_CHECK_CODE = "def main(event, context):\n    return {'statusCode': 200, 'body': '{}'}\n"


async def custom_actions_status(pool: RunnerPool) -> str:
    """How custom actions run on this server, found by running one through the pool.

    The pool decides between bubblewrap, the unsandboxed opt-out and refusing;
    the call shows whether that holds, since a bwrap that is installed but may
    not create namespaces fails only when a worker starts.
    """
    result = await pool.run(_CHECK_BOT, "start-up-check", _CHECK_CODE, timeout_s=10)
    await pool.retire_bot(_CHECK_BOT)
    bwrap, where = "bubblewrap", ""
    if pool.sandboxed:  # the pool's bwrap, found again for its version and path
        found = await asyncio.to_thread(find_bubblewrap, pool.config.bwrap_path)
        if found is not None:
            bwrap = f"bubblewrap {'.'.join(map(str, found.version))}"
            where = f" at {found.path}"
    if result.error is not None and result.error.kind is ErrorKind.SANDBOX_UNAVAILABLE:
        message = " ".join(result.error.message.split())[:400]
        if not pool.sandboxed:
            return f"unavailable: {message}"
        return (
            f"unavailable: {bwrap}{where} is installed but cannot start a sandbox: {message} "
            "(see docs/configuration.md, handoff serve)"
        )
    if pool.sandboxed:
        mode = f"sandboxed ({bwrap})"
    else:
        mode = "UNSANDBOXED (HANDOFF_RUNNER_ALLOW_UNSANDBOXED=true; development only)"
    if result.error is not None:
        return f"{mode}, but a test call failed: {result.error.kind}: {result.error.message}"
    return mode


def _demo_lines(url: str, demo: DemoSetup, demo_agent: AgentRecord | None) -> list[str]:
    """What ``serve`` says about the demo (HANDOFF_DEMO=true)."""
    if demo.bot_id is None:
        return [
            "  demo page            unavailable: this database had bots or agents before "
            "HANDOFF_DEMO was on, so no demo bot was made",
        ]
    lines = [
        f"  demo page            {url}/demo/widget.html  "
        "(HANDOFF_DEMO=true; a person's side: talk to the demo bot, ask for a human)",
    ]
    if demo.created is not None:
        lines += [
            "  demo agent, shown once: sign in to the console with",
            f"    email     {demo.created.email}",
            f"    password  {demo.created.password}",
            f"    lost it?  handoff set-password --email {demo.created.email}",
        ]
    elif demo_agent is not None:
        lines.append(
            f"  demo agent           {demo_agent.email} (password shown at the first start; "
            f"a new one: handoff set-password --email {demo_agent.email})"
        )
    return lines


def _first_run_lines(bot_ids: list[str]) -> list[str]:
    """The hint when nobody can sign in yet: the exact commands to make an agent."""
    lines = ["  first run? no agent can sign in yet; create an admin agent:"]
    if bot_ids:
        bot = bot_ids[0]
    else:
        bot = "<bot id>"
        lines.append("    handoff create-bot --name 'My bot'   # prints the bot id")
    lines += [
        f"    handoff create-agent --email you@example.com --password 'choose-one' --bot {bot} "
        "--role admin",
        "  (or try the demo: HANDOFF_DEMO=true on a new database, as `make run` does)",
    ]
    return lines


def serve(args: argparse.Namespace) -> None:
    from handoff.api.demo import DEMO
    from handoff.api.keys import ACTIONS
    from handoff.app import ENGINE, RedisUnreachable, create_app

    settings = settings_from_env()
    if args.host:
        settings.host = args.host
    if args.port is not None:
        settings.port = args.port
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    app = create_app(settings)

    async def announce(app: web.Application) -> None:
        # The resources (the runner pool among them) are open: on_startup runs
        # the cleanup contexts first, the demo bootstrap among them.
        actions = await custom_actions_status(app[ACTIONS].pool)
        _tune_runtime()
        url = settings.resolved_public_url()
        agents = AgentRepo(app[ENGINE])
        lines = [
            f"handoff is listening on {url}",
            f"  agent console        {url}/console/",
        ]
        demo = app.get(DEMO)
        if demo is not None:
            lines += _demo_lines(url, demo, await agents.by_email(DEMO_AGENT_EMAIL))
        lines += [
            f"  widgets connect to   {url}{WIDGET_NAMESPACE}  (Socket.IO)",
            f"  agents connect to    {url}/agent  (Socket.IO, auth={{token}})",
            f"  agents sign in with  POST {url}/api/v1/auth/login {{email, password}}",
            f"  database             {settings.resolved_database_url()}",
            f"  custom actions       {actions}",
        ]
        if not await agents.count_active():
            lines += _first_run_lines(await BotRepo(app[ENGINE]).ids(limit=1))
        print("\n".join(lines), flush=True)

    app.on_startup.append(announce)
    try:
        web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)
    except RedisUnreachable as exc:
        sys.exit(f"handoff: {exc}")
