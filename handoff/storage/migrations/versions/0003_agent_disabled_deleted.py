"""agents: disabled_at and deleted_at

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: SQLite takes them without rebuilding the table (a rebuild
    # would drop it, and with foreign keys on that cascades into agent_bots).
    op.add_column("agents", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("agents", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("agents", "deleted_at")
    op.drop_column("agents", "disabled_at")
