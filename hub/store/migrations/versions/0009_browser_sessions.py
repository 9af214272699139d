"""browser sessions: browser_sessions (staff logins kept server-side)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 04:05:00.000000

A staff member's browser session is a random id in an HttpOnly cookie; the hub keeps its
SHA-256, whose token it stands for, its CSRF value, and when it ends (expiry or logout), so
a logout ends it everywhere and a copy of the database can make no session.
"""

import sqlalchemy as sa
from alembic import op

from hub.store.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "browser_sessions",
        sa.Column("id_hash", sa.String(length=64), primary_key=True),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("browser_sessions")
