"""The admin API's routes: bots, agents and teams (each module checks the role)."""

from __future__ import annotations

from aiohttp import web

from handoff.api.admin_agents import setup_admin_agent_routes
from handoff.api.admin_bots import setup_admin_bot_routes
from handoff.api.admin_teams import setup_admin_team_routes

__all__ = ["setup_admin_routes"]


def setup_admin_routes(app: web.Application) -> None:
    setup_admin_bot_routes(app)
    setup_admin_agent_routes(app)
    setup_admin_team_routes(app)
