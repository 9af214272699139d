"""alerts carry a plain Korean explanation; trend findings for officials' work lists;
events keep their delivery order (seq) and statuses

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 12:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

from hub.store.types import UTCDateTime


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_events_received', ['received_at', 'seq'], unique=False)
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('explanation', sa.Text(), nullable=True))
    op.create_table(
        'trend_findings',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('resident_id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('detected_at', UTCDateTime(), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['resident_id'], ['residents.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('trend_findings', schema=None) as batch_op:
        batch_op.create_index('ix_trend_findings_resident_id', ['resident_id'], unique=False)
        batch_op.create_index('ix_trend_findings_detected_at', ['detected_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('trend_findings', schema=None) as batch_op:
        batch_op.drop_index('ix_trend_findings_detected_at')
        batch_op.drop_index('ix_trend_findings_resident_id')
    op.drop_table('trend_findings')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('explanation')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_received')
        batch_op.drop_column('seq')
