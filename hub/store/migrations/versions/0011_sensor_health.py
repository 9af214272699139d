"""sensor health: device_sensing and sensor_health (a sensor gateway's own heartbeat)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 14:00:00.000000

A sensors agent's heartbeat says whether its gateway can see the home (``sensing``, and why
not) and how each sensor behind it is (answering, last seen, battery, link, a water sensor
wet since when). The hub keeps the newest of each per device, for the board and the
installer's battery list; the heartbeats themselves stay in ``events``.
"""

import sqlalchemy as sa
from alembic import op

from hub.store.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_sensing",
        sa.Column("resident_id", sa.String(length=64), primary_key=True),
        sa.Column("device_id", sa.String(length=64), primary_key=True),
        sa.Column("sensing", sa.Boolean(), nullable=False),
        sa.Column("problem", sa.String(length=32), nullable=True),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("reported_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id", "device_id"],
            ["devices.resident_id", "devices.id"],
            name="device_sensing_device_fkey",
        ),
    )
    op.create_table(
        "sensor_health",
        sa.Column("resident_id", sa.String(length=64), primary_key=True),
        sa.Column("device_id", sa.String(length=64), primary_key=True),
        sa.Column("sensor", sa.String(length=64), primary_key=True),
        sa.Column("signal", sa.String(length=32), nullable=True),
        sa.Column("available", sa.Boolean(), nullable=True),
        sa.Column("last_seen", UTCDateTime(), nullable=True),
        sa.Column("battery_pct", sa.Integer(), nullable=True),
        sa.Column("battery_low", sa.Boolean(), nullable=True),
        sa.Column("linkquality", sa.Integer(), nullable=True),
        sa.Column("active_since", UTCDateTime(), nullable=True),
        sa.Column("reported_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id", "device_id"],
            ["devices.resident_id", "devices.id"],
            name="sensor_health_device_fkey",
        ),
    )


def downgrade() -> None:
    op.drop_table("sensor_health")
    op.drop_table("device_sensing")
