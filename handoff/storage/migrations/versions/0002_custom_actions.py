"""custom actions: code versions, env variables, logs, details

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation_details',
    sa.Column('conversation_key', sa.String(length=200), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('conversation_key', name=op.f('pk_conversation_details'))
    )
    op.create_index(op.f('ix_conversation_details_expires_at'), 'conversation_details', ['expires_at'], unique=False)
    op.create_table('user_details',
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_details'))
    )
    op.create_table('action_logs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('bot_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('error', sa.JSON(), nullable=True),
    sa.Column('logs', sa.Text(), nullable=False),
    sa.Column('duration_ms', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], name=op.f('fk_action_logs_bot_id_bots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_logs'))
    )
    op.create_index('ix_action_logs_bot_id_action', 'action_logs', ['bot_id', 'action'], unique=False)
    op.create_index(op.f('ix_action_logs_created_at'), 'action_logs', ['created_at'], unique=False)
    op.create_table('actions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('bot_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('latest_version', sa.Integer(), server_default='0', nullable=False),
    sa.Column('production_version', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], name=op.f('fk_actions_bot_id_bots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_actions')),
    sa.UniqueConstraint('bot_id', 'name', name=op.f('uq_actions_bot_id_name'))
    )
    op.create_table('env_vars',
    sa.Column('bot_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('staging', sa.Text(), nullable=True),
    sa.Column('production', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['bots.id'], name=op.f('fk_env_vars_bot_id_bots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('bot_id', 'name', name=op.f('pk_env_vars'))
    )
    op.create_table('action_versions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['action_id'], ['actions.id'], name=op.f('fk_action_versions_action_id_actions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_versions')),
    sa.UniqueConstraint('action_id', 'version', name=op.f('uq_action_versions_action_id_version'))
    )
    op.add_column('bots', sa.Column('action_timeout_seconds', sa.Float(), nullable=True))
    op.add_column('bots', sa.Column('escalate_on_break', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('bots', sa.Column('fallback_message', sa.String(length=1000), nullable=True))


def downgrade() -> None:
    op.drop_column('bots', 'fallback_message')
    op.drop_column('bots', 'escalate_on_break')
    op.drop_column('bots', 'action_timeout_seconds')
    op.drop_table('action_versions')
    op.drop_table('env_vars')
    op.drop_table('actions')
    op.drop_index(op.f('ix_action_logs_created_at'), table_name='action_logs')
    op.drop_index('ix_action_logs_bot_id_action', table_name='action_logs')
    op.drop_table('action_logs')
    op.drop_table('user_details')
    op.drop_index(op.f('ix_conversation_details_expires_at'), table_name='conversation_details')
    op.drop_table('conversation_details')
