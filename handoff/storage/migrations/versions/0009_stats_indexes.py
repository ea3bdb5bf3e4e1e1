"""the supervisor's stats: conversations by bot and last change

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

The stats read a period's handoffs from the conversations a bot changed since the
period began, then each one's events; these indexes keep both reads narrow.
"""

from alembic import op

revision = "0009"
down_revision = "0008"  # after the admin branch's 0008 (agents.password_changed_at)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_conversations_bot_id_updated_at"),
        "conversations",
        ["bot_id", "updated_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_conversations_bot_id_updated_at"), table_name="conversations")
