"""digest items carry the role they wait for (officials, the health centre)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every item queued before this revision was an official's.
    with op.batch_alter_table('digest_items', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('role', sa.String(length=20), server_default='official', nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('digest_items', schema=None) as batch_op:
        batch_op.drop_column('role')
