"""kiosk stations and device self-tests

Revision ID: 0009_stations
Revises: 0008_camera_snapshots
Create Date: 2026-12-03 08:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_stations'
down_revision = '0008_camera_snapshots'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('site', sa.String(length=120), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('enrollment_code_hash', sa.String(length=64), nullable=True),
    sa.Column('enrollment_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('enrolled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_stations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stations')),
    sa.UniqueConstraint('enrollment_code_hash', name=op.f('uq_stations_enrollment_code_hash')),
    sa.UniqueConstraint('name', name=op.f('uq_stations_name')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_stations_token_hash')),
    sa.UniqueConstraint('user_id', name=op.f('uq_stations_user_id'))
    )
    op.create_table('self_tests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('verdict', sa.String(length=20), nullable=False),
    sa.Column('camera_ok', sa.Boolean(), nullable=False),
    sa.Column('microphone_ok', sa.Boolean(), nullable=False),
    sa.Column('round_trip_ms', sa.Double(), nullable=True),
    sa.Column('packet_loss', sa.Double(), nullable=True),
    sa.Column('bitrate_kbps', sa.Double(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_self_tests_participant_id_participants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_self_tests_station_id_stations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_self_tests_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_self_tests'))
    )
    with op.batch_alter_table('self_tests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_self_tests_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index('ix_self_tests_station_created', ['station_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_self_tests_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('self_tests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_self_tests_user_id'))
        batch_op.drop_index('ix_self_tests_station_created')
        batch_op.drop_index(batch_op.f('ix_self_tests_participant_id'))

    op.drop_table('self_tests')
    op.drop_table('stations')
