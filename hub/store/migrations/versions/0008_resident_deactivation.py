"""resident deactivation: residents.inactive_since and inactive_reason

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 04:00:00.000000

A resident who moved away, went into care or died is no longer watched, but their row and
history stay: ``inactive_since`` is when that was recorded (NULL: watched), and
``inactive_reason`` one of :data:`protocol.vocab.INACTIVE_REASONS`. Both nullable, so
the columns are added in place on SQLite and PostgreSQL alike (no table rebuild).
"""

import sqlalchemy as sa
from alembic import op

from hub.store.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("residents", sa.Column("inactive_since", UTCDateTime(), nullable=True))
    op.add_column("residents", sa.Column("inactive_reason", sa.String(length=20), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a rebuild would trip the foreign keys
    # that point at residents (see 0007).
    op.drop_column("residents", "inactive_reason")
    op.drop_column("residents", "inactive_since")
