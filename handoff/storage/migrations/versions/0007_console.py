"""the agent console: canned responses, conversation notes and tags, handled offline messages

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "canned_responses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.Column("shortcut", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bots.id"],
            name=op.f("fk_canned_responses_bot_id_bots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_responses")),
        sa.UniqueConstraint("bot_id", "shortcut", name=op.f("uq_canned_responses_bot_id_shortcut")),
    )
    op.create_table(
        "conversation_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_notes_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_notes")),
    )
    op.create_index(
        op.f("ix_conversation_notes_conversation_id"), "conversation_notes", ["conversation_id"]
    )
    # Plain ADD COLUMNs (no batch rebuild): SQLite takes them in place, so foreign
    # keys pointing at these tables are left alone.
    op.add_column("conversations", sa.Column("tags", sa.JSON(), nullable=True))
    op.add_column(
        "offline_messages", sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("offline_messages", sa.Column("handled_by", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("offline_messages", "handled_by")
    op.drop_column("offline_messages", "handled_at")
    op.drop_column("conversations", "tags")
    op.drop_index(op.f("ix_conversation_notes_conversation_id"), table_name="conversation_notes")
    op.drop_table("conversation_notes")
    op.drop_table("canned_responses")
