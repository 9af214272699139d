"""device feed tokens: device_feed_tokens (a phone posting its feed to the hub over HTTPS)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 13:45:00.000000

A phone without the Python agent (an automation app: MacroDroid, Tasker, iOS Shortcuts)
posts its feed events straight to the hub with a bearer token of its own. The hub keeps only
the token's SHA-256, which registered device it stands for, when it was issued and when it
was revoked, so a copy of the database can post nothing and a revoked token stays refused.
"""

import sqlalchemy as sa
from alembic import op

from hub.store.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_feed_tokens",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["resident_id", "device_id"],
            ["devices.resident_id", "devices.id"],
            name="device_feed_tokens_device_fkey",
        ),
    )
    op.create_index(
        "ix_device_feed_tokens_device", "device_feed_tokens", ["resident_id", "device_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_device_feed_tokens_device", table_name="device_feed_tokens")
    op.drop_table("device_feed_tokens")
