"""Digest items waiting for their working-day start: when the next one falls due.

Owns the read the hub's timer needs of ``digest_items`` (writing and delivering them is
:mod:`hub.digests`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from hub.store.tables import digest_items

__all__ = ["next_digest_at"]


def next_digest_at(conn: Connection) -> datetime | None:
    """When the next undelivered digest item falls due, if any waits."""
    at: datetime | None = conn.execute(
        select(func.min(digest_items.c.deliver_at)).where(digest_items.c.delivered.is_(False))
    ).scalar()
    return at
