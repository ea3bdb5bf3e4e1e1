"""bots: business hours and queue limit; conversations: the handoff packet and the wait

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no batch rebuild): SQLite takes them in place, so foreign
    # keys pointing at these tables are left alone.
    op.add_column("bots", sa.Column("business_hours", sa.JSON, nullable=True))
    op.add_column("bots", sa.Column("max_queue_length", sa.Integer, nullable=True))
    op.add_column(
        "conversations",
        sa.Column("priority", sa.String(16), nullable=False, server_default="normal"),
    )
    op.add_column("conversations", sa.Column("target_agent_id", sa.String(64), nullable=True))
    op.add_column(
        "conversations",
        sa.Column("bot_transcript", sa.Integer, nullable=False, server_default="0"),
    )
    op.add_column("conversations", sa.Column("handoff_error", sa.JSON, nullable=True))
    op.add_column("conversations", sa.Column("wait_seconds", sa.Float, nullable=True))
    op.create_index(
        "ix_conversations_bot_id_assigned_at", "conversations", ["bot_id", "assigned_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_bot_id_assigned_at", table_name="conversations")
    for column in ("wait_seconds", "handoff_error", "bot_transcript", "target_agent_id", "priority"):
        op.drop_column("conversations", column)
    op.drop_column("bots", "max_queue_length")
    op.drop_column("bots", "business_hours")
