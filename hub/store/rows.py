"""The rows every side effect writes: outbox entries, timeline entries, idempotency keys.

Owns the few writes that the carrying out of decisions, digests and delivery problems all
make, each keyed so that writing it again changes nothing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from hub.store.tables import alert_timeline, outbox

__all__ = ["add_outbox", "add_timeline", "has_outbox", "idempotency_key"]


def idempotency_key(*parts: str) -> str:
    """A row's unique key: a digest, so phone numbers never appear in keys or logs."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:48]


def has_outbox(conn: Connection, key: str) -> bool:
    """Whether an outbox row with this key exists (sent, pending or withdrawn)."""
    return conn.execute(select(outbox.c.id).where(outbox.c.key == key)).first() is not None


def add_outbox(conn: Connection, key: str, **values: Any) -> None:
    """A pending outbox row, unless one with this key exists."""
    if has_outbox(conn, key):
        return
    conn.execute(insert(outbox).values(key=key, state="pending", attempts=0, **values))


def add_timeline(
    conn: Connection, alert_id: str, now: datetime, what: str, by: str | None, note: str | None
) -> None:
    """One line of an alert's timeline."""
    conn.execute(
        insert(alert_timeline).values(alert_id=alert_id, at=now, what=what, by=by, note=note)
    )
