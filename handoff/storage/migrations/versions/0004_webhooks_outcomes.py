"""webhooks and outcomes: the outbox, offline messages, webhook secrets, typed outcomes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_conversations = sa.table(
    "conversations",
    sa.column("id", sa.String),
    sa.column("outcome", sa.String),
    sa.column("outcome_typed", sa.JSON),
)


def upgrade() -> None:
    op.add_column("bots", sa.Column("webhook_secret", sa.String(length=200), nullable=True))
    # outcome: String(200) → JSON. A new column, filled, then renamed into place:
    # plain ADD/DROP/RENAME COLUMN, which SQLite takes without rebuilding the table
    # (a rebuild would drop it, and with foreign keys on that cascades into messages).
    op.add_column("conversations", sa.Column("outcome_typed", sa.JSON(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_conversations.c.id, _conversations.c.outcome).where(
            _conversations.c.outcome.isnot(None)
        )
    ).all()
    for cid, note in rows:
        conn.execute(
            _conversations.update()
            .where(_conversations.c.id == cid)
            .values(outcome_typed={"status": "resolved", "note": note or None, "variables": {}})
        )
    op.execute("ALTER TABLE conversations DROP COLUMN outcome")
    op.execute("ALTER TABLE conversations RENAME COLUMN outcome_typed TO outcome")

    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=True),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bots.id"],
            name=op.f("fk_webhook_outbox_bot_id_bots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_webhook_outbox_event_id")),
    )
    op.create_index(
        "ix_webhook_outbox_status_next_attempt_at",
        "webhook_outbox",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        "ix_webhook_outbox_bot_id_conversation_id",
        "webhook_outbox",
        ["bot_id", "conversation_id"],
        unique=False,
    )
    op.create_table(
        "offline_messages",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=True),
        sa.Column("user", sa.JSON(), nullable=False),
        sa.Column("contact", sa.String(length=320), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"],
            ["bots.id"],
            name=op.f("fk_offline_messages_bot_id_bots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offline_messages")),
    )
    op.create_index(
        "ix_offline_messages_bot_id_created_at",
        "offline_messages",
        ["bot_id", "created_at"],
        unique=False,
    )


_typed = sa.table(
    "conversations",
    sa.column("id", sa.String),
    sa.column("outcome", sa.JSON),
    sa.column("outcome_note", sa.String),
)


def downgrade() -> None:
    op.drop_index("ix_offline_messages_bot_id_created_at", table_name="offline_messages")
    op.drop_table("offline_messages")
    op.drop_index("ix_webhook_outbox_bot_id_conversation_id", table_name="webhook_outbox")
    op.drop_index("ix_webhook_outbox_status_next_attempt_at", table_name="webhook_outbox")
    op.drop_table("webhook_outbox")
    # The note survives the way back; the status and variables cannot.
    op.add_column("conversations", sa.Column("outcome_note", sa.String(length=200), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_typed.c.id, _typed.c.outcome).where(_typed.c.outcome.isnot(None))
    ).all()
    for cid, outcome in rows:
        note = outcome.get("note") if isinstance(outcome, dict) else None
        if note:
            conn.execute(
                _typed.update().where(_typed.c.id == cid).values(outcome_note=str(note)[:200])
            )
    op.execute("ALTER TABLE conversations DROP COLUMN outcome")
    op.execute("ALTER TABLE conversations RENAME COLUMN outcome_note TO outcome")
    op.drop_column("bots", "webhook_secret")
