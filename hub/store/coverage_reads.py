"""Monitoring coverage: of the residents watched, how many the hub hears from now.

A resident is *heard* when any of their devices sent a message the hub stored (activity,
heartbeat, check-in, vitals, emergency) at or after ``since`` by the hub's clock. Statuses
do not count: a retained ``status`` is the broker speaking for a device (its Last Will, or a
replay when the hub reconnects), not the device. Residents no longer watched are left out;
a ``districts`` argument limits both counts to those districts (an official's own).

Two counts, each one query; the second scans ``events`` by ``ix_events_received`` over the
window only, so its cost follows the messages of the last minutes, not the history.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from hub.store.resident_reads import within_districts
from hub.store.tables import devices, events, residents

__all__ = ["Coverage", "coverage"]


@dataclass(frozen=True, slots=True)
class Coverage:
    """How many residents are watched, and how many of them were heard since ``since``."""

    watched: int
    heard: int
    since: datetime

    @property
    def not_heard(self) -> int:
        return self.watched - self.heard


def coverage(conn: Connection, since: datetime, districts: Collection[str] | None) -> Coverage:
    """The coverage at ``since`` (``districts`` ``None``: every district)."""
    watched_query = within_districts(
        select(func.count()).select_from(residents).where(residents.c.inactive_since.is_(None)),
        districts,
    )
    heard_query = within_districts(
        select(func.count(func.distinct(events.c.resident_id)))
        .select_from(
            events.join(residents, residents.c.id == events.c.resident_id)
            # Registered devices only: a nurse's home-visit reading (hub.visits) is no device.
            .join(
                devices,
                (devices.c.resident_id == events.c.resident_id)
                & (devices.c.id == events.c.device_id),
            )
        )
        .where(residents.c.inactive_since.is_(None))
        .where(events.c.received_at >= since)
        .where(events.c.kind != "status"),
        districts,
    )
    watched = int(conn.execute(watched_query).scalar_one())
    heard = int(conn.execute(heard_query).scalar_one())
    return Coverage(watched=watched, heard=heard, since=since)
