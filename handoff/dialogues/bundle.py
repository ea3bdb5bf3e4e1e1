"""A flow file with the custom actions it names: read, check, and install for a bot.

What ``handoff create-bot --dialogue FILE`` and ``handoff set-dialogue`` run:
everything is checked before anything is stored (the flow, every action file,
every action's code), so a bad file leaves no half-made bot behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.actions.service import check_name
from handoff.dialogues.loader import DialogueError, load_flow, parse_yaml
from handoff.errors import HandoffError
from handoff.runner import validate_code
from handoff.storage.actions import ActionRepo
from handoff.storage.dialogues import DialogueRepo

__all__ = ["Bundle", "install", "read_bundle"]


@dataclass(frozen=True, slots=True)
class Bundle:
    file: Path
    flow: dict[str, Any]
    actions: dict[str, str]
    """Action name → its code."""


def read_bundle(path: Path) -> Bundle:
    """The flow at ``path`` and the code of each action in its ``actions:`` (paths relative
    to the file); :class:`DialogueError` naming what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DialogueError(str(path), None, None, f"cannot be read: {exc}") from None
    data = parse_yaml(text, file=path.name)
    flow = load_flow(data, file=path.name)
    codes: dict[str, str] = {}
    for name, relative in flow.actions.items():
        field = f"actions.{name}"
        try:
            check_name(name)
        except HandoffError as exc:
            raise DialogueError(path.name, None, field, exc.message) from None
        code_path = (path.parent / relative).resolve()
        try:
            code = code_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DialogueError(path.name, None, field, f"cannot read {code_path}: {exc}") from None
        problems = validate_code(code)
        if problems:
            first = problems[0]
            raise DialogueError(
                path.name,
                None,
                field,
                f"{relative}: line {first.line}, column {first.column}: {first.message}",
            )
        codes[name] = code
    return Bundle(path, json.loads(json.dumps(data, default=str)), codes)


async def install(engine: AsyncEngine, bot_id: str, bundle: Bundle) -> dict[str, Any]:
    """Save and publish the bundle's actions, then store its flow as the bot's."""
    repo = ActionRepo(engine)
    published: dict[str, int] = {}
    for name, code in bundle.actions.items():
        version = await repo.save(bot_id, name, code, [])
        await repo.publish(bot_id, name, version)
        published[name] = version
    stored = await DialogueRepo(engine).save_flow(bot_id, bundle.flow)
    return {
        "dialogue": {"file": str(bundle.file), "revision": stored.revision},
        "actions": {name: {"production_version": v} for name, v in published.items()},
    }
