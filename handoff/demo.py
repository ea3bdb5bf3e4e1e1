"""The demo's bootstrap: on a new database, the demo bot and a demo agent to sign in with.

``HANDOFF_DEMO=true`` (``make run`` sets it) runs :func:`ensure_demo` at every start.
It makes something only on a database that never had an agent and holds no bot but the
demo bot, so turning the demo on over a real deployment creates no account. The demo bot
has a well-known id, :data:`DEMO_BOT_ID`, which is how the demo endpoint finds it after
any restart and on every process; two processes starting at once on a new database both
try, and the database's unique keys let one of them win.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.dialogues.bundle import install, read_bundle
from handoff.dialogues.presets import PRESETS_DIR
from handoff.storage.agents import AgentRepo
from handoff.storage.bots import BotRepo
from handoff.storage.dialogues import DialogueRepo

__all__ = [
    "DEMO_AGENT_EMAIL",
    "DEMO_BOT_ID",
    "DEMO_DIALOGUE",
    "DemoCredentials",
    "DemoSetup",
    "ensure_demo",
]

log = logging.getLogger(__name__)

DEMO_BOT_ID = "bot_demo"
"""The demo bot's id: fixed, so the demo endpoint needs no API key and no lookup table."""
DEMO_AGENT_EMAIL = "demo@example.com"
DEMO_DIALOGUE = PRESETS_DIR / "demo_bot.yaml"


@dataclass(frozen=True, slots=True)
class DemoCredentials:
    """The demo agent's sign-in, known only to the start that created it."""

    email: str
    password: str


@dataclass(frozen=True, slots=True)
class DemoSetup:
    bot_id: str | None
    """:data:`DEMO_BOT_ID` when the demo bot exists; None when this database had other
    bots or agents before the demo was turned on (then nothing was made)."""
    created: DemoCredentials | None = None
    """The demo agent made by this start (print it once), else None."""


async def ensure_demo(engine: AsyncEngine, dialogue: Path = DEMO_DIALOGUE) -> DemoSetup:
    """Make the demo bot and agent on a new database, finish a half-made demo, or nothing."""
    bots, agents = BotRepo(engine), AgentRepo(engine)
    others = [bot_id for bot_id in await bots.ids(limit=2) if bot_id != DEMO_BOT_ID]
    has_demo_bot = await bots.get(DEMO_BOT_ID) is not None
    if others or await agents.ever_any():
        return DemoSetup(DEMO_BOT_ID if has_demo_bot else None)
    # As `handoff create-bot --dialogue`: everything checked before anything is stored.
    bundle = read_bundle(dialogue)
    if not has_demo_bot:
        try:
            # Manual assignment: the agent sees the person in the console's queue and takes them.
            await bots.create(
                str(bundle.flow.get("name") or "Demo bot"),
                assignment_mode="manual",
                bot_id=DEMO_BOT_ID,
            )
        except IntegrityError:
            log.info("the demo bot was made by another process")
    if await DialogueRepo(engine).revision(DEMO_BOT_ID) is None:
        await install(engine, DEMO_BOT_ID, bundle)
    password = secrets.token_urlsafe(12)
    try:
        await agents.create(
            DEMO_AGENT_EMAIL, password, name="Demo agent", bots=[DEMO_BOT_ID], role="admin"
        )
    except IntegrityError:
        log.info("the demo agent was made by another process")
        return DemoSetup(DEMO_BOT_ID)
    log.info("demo bot %s and demo agent %s created", DEMO_BOT_ID, DEMO_AGENT_EMAIL)
    return DemoSetup(DEMO_BOT_ID, DemoCredentials(DEMO_AGENT_EMAIL, password))
