"""Running the Alembic migrations that ship inside the package."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

__all__ = ["alembic_config", "downgrade", "upgrade", "upgrade_sync"]


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_sync(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``. Alembic runs its own event loop, so in a thread."""
    await asyncio.to_thread(upgrade_sync, database_url, revision)


async def downgrade(database_url: str, revision: str) -> None:
    """Take the schema back to ``revision`` (``-1``: one step). For operators and tests."""
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), revision)
