"""participants moved back to the waiting room wait for an Admit; reconnecting participants

Revision ID: 0007_participant_held
Revises: 0006_chat_attachments_notes
Create Date: 2026-11-22 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_participant_held'
down_revision = '0006_chat_attachments_notes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('held', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column('disconnected_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_column('disconnected_at')
        batch_op.drop_column('held')
