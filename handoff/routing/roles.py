"""Agents' roles: what each may do, in one place.

``agent`` < ``supervisor`` < ``admin``; a role includes the ones below it. A
supervisor sees the dashboard and every conversation of their bots; an admin
manages bots, agents, teams, settings and custom actions of every bot. A refusal
names the role it needs (403 ``forbidden``, field ``role``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from handoff.errors import Forbidden
from handoff.storage.agents import AgentRecord

__all__ = ["ROLE_RANK", "Role", "has_role", "require_role"]


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


ROLE_RANK: Final[dict[str, int]] = {Role.AGENT: 0, Role.SUPERVISOR: 1, Role.ADMIN: 2}


def has_role(record: AgentRecord, role: Role) -> bool:
    """Whether ``record``'s role is ``role`` or above it (an unknown role is ``agent``)."""
    return ROLE_RANK.get(record.role, 0) >= ROLE_RANK[role]


def require_role(record: AgentRecord, role: Role, *, to: str) -> None:
    """Raises :class:`Forbidden` (field ``role``) unless ``record`` has ``role``.

    ``to`` says what was attempted: "managing canned responses needs the admin role".
    """
    if not has_role(record, role):
        raise Forbidden(
            f"{to} needs the {role.value} role; you are {record.role} "
            f"(an admin can change it, or: handoff create-agent --role {role.value})",
            field="role",
        )
