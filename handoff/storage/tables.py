"""The schema. Alembic migrations in ``migrations/versions`` must match it."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "action_logs",
    "action_versions",
    "actions",
    "agent_bots",
    "agents",
    "bot_dialogues",
    "bots",
    "canned_responses",
    "conversation_details",
    "conversation_events",
    "conversation_notes",
    "conversations",
    "dialogue_sessions",
    "env_vars",
    "messages",
    "metadata",
    "offline_messages",
    "transcripts",
    "user_details",
    "webhook_outbox",
]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_now = sa.func.current_timestamp()

bots = sa.Table(
    "bots",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("api_key_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("assignment_mode", sa.String(16), nullable=False, server_default="auto"),
    sa.Column("wait_limit_seconds", sa.Float, nullable=True),
    sa.Column("webhook_url", sa.String(2000), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("action_timeout_seconds", sa.Float, nullable=True),
    sa.Column("escalate_on_break", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("fallback_message", sa.String(1000), nullable=True),
    # Kept as given: it keys an HMAC, so it cannot be hashed. The API never shows it.
    sa.Column("webhook_secret", sa.String(200), nullable=True),
    # Availability: null business hours mean always open, a null queue length no limit.
    sa.Column("business_hours", sa.JSON, nullable=True),
    sa.Column("max_queue_length", sa.Integer, nullable=True),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False, server_default="agent"),
    sa.Column("capacity", sa.Integer, nullable=False, server_default="3"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    # A disabled agent cannot sign in and their tokens stop working; enabling undoes it.
    sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
    # A deleted agent's row stays, so conversations and messages keep who handled them.
    sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    # Tokens signed before the password last changed are refused (a reset signs out).
    sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
)

agent_bots = sa.Table(
    "agent_bots",
    metadata,
    sa.Column(
        "agent_id", sa.String(64), sa.ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "bot_id", sa.String(64), sa.ForeignKey("bots.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("teams", sa.JSON, nullable=False, default=list),
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column(
        "bot_id",
        sa.String(64),
        sa.ForeignKey("bots.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column(
        "agent_id",
        sa.String(64),
        sa.ForeignKey("agents.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    sa.Column("team", sa.String(100), nullable=True),
    sa.Column("user", sa.JSON, nullable=False, default=dict),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("entities", sa.JSON, nullable=False, default=dict),
    sa.Column("close_reason", sa.String(32), nullable=True),
    sa.Column("outcome", sa.JSON, nullable=True),
    sa.Column("session_start_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    # The rest of the handoff packet (user, reason, entities and team are above).
    sa.Column("priority", sa.String(16), nullable=False, server_default="normal"),
    sa.Column("target_agent_id", sa.String(64), nullable=True),
    sa.Column("bot_transcript", sa.Integer, nullable=False, server_default="0"),
    sa.Column("handoff_error", sa.JSON, nullable=True),
    # queued_at → assigned_at of the last assignment (a transfer moves assigned_at on,
    # so the wait is kept apart): what estimated waits are computed from.
    sa.Column("wait_seconds", sa.Float, nullable=True),
    # The agents' labels for it (a JSON list of strings); null reads as none.
    sa.Column("tags", sa.JSON, nullable=True),
    sa.Index("ix_conversations_bot_id_assigned_at", "bot_id", "assigned_at"),
    # The stats' scope: the bot's conversations changed since a period began.
    sa.Index("ix_conversations_bot_id_updated_at", "bot_id", "updated_at"),
)

conversation_events = sa.Table(
    "conversation_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "conversation_id",
        sa.String(128),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("from_state", sa.String(16), nullable=True),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("transition", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False, default=dict),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "conversation_id",
        sa.String(128),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("sender", sa.String(16), nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("client_msg_id", sa.String(128), nullable=True),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("conversation_id", "seq"),
)

transcripts = sa.Table(
    "transcripts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "conversation_id",
        sa.String(128),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("sender", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)

sa.Index(
    "uq_messages_client_msg_id",
    messages.c.conversation_id,
    messages.c.client_msg_id,
    unique=True,
    sqlite_where=messages.c.client_msg_id.isnot(None),
    postgresql_where=messages.c.client_msg_id.isnot(None),
)

# Custom actions (code nodes) -------------------------------------------------

actions = sa.Table(
    "actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "bot_id", sa.String(64), sa.ForeignKey("bots.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("latest_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("production_version", sa.Integer, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("bot_id", "name"),
)

action_versions = sa.Table(
    "action_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "action_id", sa.Integer, sa.ForeignKey("actions.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("code", sa.Text, nullable=False),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("errors", sa.JSON, nullable=False, default=list),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("action_id", "version"),
)

env_vars = sa.Table(
    "env_vars",
    metadata,
    sa.Column(
        "bot_id", sa.String(64), sa.ForeignKey("bots.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("staging", sa.Text, nullable=True),
    sa.Column("production", sa.Text, nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

action_logs = sa.Table(
    "action_logs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "bot_id", sa.String(64), sa.ForeignKey("bots.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("conversation_id", sa.String(128), nullable=True),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("logs", sa.Text, nullable=False, default=""),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Index("ix_action_logs_bot_id_action", "bot_id", "action"),
)

user_details = sa.Table(
    "user_details",
    metadata,
    sa.Column("user_id", sa.String(200), primary_key=True),
    sa.Column("data", sa.JSON, nullable=False, default=dict),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

conversation_details = sa.Table(
    "conversation_details",
    metadata,
    sa.Column("conversation_key", sa.String(200), primary_key=True),
    sa.Column("data", sa.JSON, nullable=False, default=dict),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

# Webhooks and messages left ----------------------------------------------------

webhook_outbox = sa.Table(
    "webhook_outbox",
    metadata,
    # The order events were written in: a conversation's events go out in it.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column(
        "bot_id", sa.String(64), sa.ForeignKey("bots.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("conversation_id", sa.String(128), nullable=True),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # Retries stop this long after here: the event's creation, or a manual retry.
    sa.Column("window_from", sa.DateTime(timezone=True), nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.String(1000), nullable=True),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_webhook_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_webhook_outbox_bot_id_conversation_id", "bot_id", "conversation_id"),
)

offline_messages = sa.Table(
    "offline_messages",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "bot_id", sa.String(64), sa.ForeignKey("bots.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("conversation_id", sa.String(128), nullable=True),
    sa.Column("user", sa.JSON, nullable=False, default=dict),
    sa.Column("contact", sa.String(320), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # Set once, by the first agent who marks it handled; the queue then leaves it out.
    sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("handled_by", sa.String(64), nullable=True),
    sa.Index("ix_offline_messages_bot_id_created_at", "bot_id", "created_at"),
)

# Dialogues: a bot's flow, and where each conversation is in it -----------------------------

bot_dialogues = sa.Table(
    "bot_dialogues",
    metadata,
    sa.Column(
        "bot_id", sa.String(64), sa.ForeignKey("bots.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("flow", sa.JSON, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

dialogue_sessions = sa.Table(
    "dialogue_sessions",
    metadata,
    sa.Column(
        "bot_id", sa.String(64), sa.ForeignKey("bots.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("conversation_id", sa.String(128), primary_key=True),
    sa.Column("node", sa.String(100), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("entities", sa.JSON, nullable=False, default=dict),
    sa.Column("variables", sa.JSON, nullable=False, default=dict),
    sa.Column("user", sa.JSON, nullable=False, default=dict),
    sa.Column("retries", sa.Integer, nullable=False, server_default="0"),
    # Optimistic concurrency: a save names the version it read, so two turns for one
    # conversation never both win, on any process.
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# The agent console: canned responses per bot, private notes per conversation ------------

canned_responses = sa.Table(
    "canned_responses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "bot_id", sa.String(64), sa.ForeignKey("bots.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("shortcut", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("bot_id", "shortcut"),
)

conversation_notes = sa.Table(
    "conversation_notes",
    metadata,
    # The order notes were written in: a conversation's notes are read in it.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "conversation_id",
        sa.String(128),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # Agents are never removed (a deleted one is marked), so the author stays known.
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
