"""server-side sign-in sessions, token labels, why a request was declined

Revision ID: 0002_sessions
Revises: ee6855fec5d1
Create Date: 2026-11-22 06:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0002_sessions'
down_revision = 'ee6855fec5d1'
branch_labels = None
depends_on = None

UNAVAILABLE_NOTE = "The provider is not available for sessions right now."


def upgrade():
    op.create_table('auth_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_auth_sessions_secret_hash'))
    )
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_sessions_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label', sa.String(length=80), nullable=True))

    with op.batch_alter_table('session_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decline_reason', sa.String(length=20), nullable=True))
    # Requests declined before this column existed: the standard note marks the ones
    # declined because the provider was unavailable.
    requests = sa.table('session_requests', sa.column('state'), sa.column('decline_note'), sa.column('decline_reason'))
    op.execute(requests.update().where(requests.c.state == 'declined', requests.c.decline_note == UNAVAILABLE_NOTE).values(decline_reason='unavailable'))
    op.execute(requests.update().where(requests.c.state == 'declined', requests.c.decline_reason.is_(None)).values(decline_reason='declined'))


def downgrade():
    with op.batch_alter_table('session_requests', schema=None) as batch_op:
        batch_op.drop_column('decline_reason')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('label')
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_sessions_user_id'))
    op.drop_table('auth_sessions')
