"""camera snapshots taken with the participant's consent

Revision ID: 0008_camera_snapshots
Revises: 0007_participant_held
Create Date: 2026-11-22 09:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_camera_snapshots'
down_revision = '0007_participant_held'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('camera_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stored_name', sa.String(length=64), nullable=True),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_camera_snapshots_participant_id_participants')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_camera_snapshots_requested_by_id_users')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_camera_snapshots_visit_id_visits'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_camera_snapshots')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_camera_snapshots_stored_name'))
    )
    with op.batch_alter_table('camera_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_camera_snapshots_visit_id'), ['visit_id'], unique=False)


def downgrade():
    with op.batch_alter_table('camera_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_camera_snapshots_visit_id'))
    op.drop_table('camera_snapshots')
