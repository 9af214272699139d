"""Digest items waiting for their working-day start, and the trend findings behind some.

Owns ``digest_items`` and ``trend_findings``: an item queued once per key, the items due by
a time, marking them delivered, when the next one falls due, and a finding recorded once.
What a digest says and to whom is :mod:`hub.digests`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from hub.store.tables import digest_items, trend_findings

__all__ = [
    "QueuedItem",
    "add_digest_item",
    "add_trend_finding",
    "items_due",
    "mark_delivered",
    "next_digest_at",
]


@dataclass(frozen=True, slots=True)
class QueuedItem:
    """One undelivered digest item."""

    id: int
    resident_id: str
    recipient: str
    role: str
    message: str
    queued_at: datetime


# Built once: the worker asks when the next digest is due after every batch (a replay after
# every few lines), and building, cache-keying and binding a fresh statement each time cost
# more than the database work itself.
_NEXT_DIGEST = select(func.min(digest_items.c.deliver_at)).where(
    digest_items.c.delivered.is_(False)
)
_ITEM_BY_KEY = select(digest_items.c.id).where(digest_items.c.key == bindparam("b_key"))
_ADD_ITEM = insert(digest_items)
_ITEMS_DUE = (
    select(
        digest_items.c.id,
        digest_items.c.resident_id,
        digest_items.c.recipient,
        digest_items.c.role,
        digest_items.c.message,
        digest_items.c.queued_at,
    )
    .where(digest_items.c.delivered.is_(False))
    .where(digest_items.c.deliver_at <= bindparam("b_now"))
    .order_by(digest_items.c.id)
)
_FINDING_BY_ID = select(trend_findings.c.id).where(trend_findings.c.id == bindparam("b_id"))
_ADD_FINDING = insert(trend_findings)


def next_digest_at(conn: Connection) -> datetime | None:
    """When the next undelivered digest item falls due, if any waits."""
    at: datetime | None = conn.execute(_NEXT_DIGEST).scalar()
    return at


def add_digest_item(conn: Connection, key: str, **values: Any) -> None:
    """An undelivered item unless one with ``key`` exists."""
    if conn.execute(_ITEM_BY_KEY, {"b_key": key}).first():
        return
    conn.execute(_ADD_ITEM, {**values, "key": key, "delivered": False})


def items_due(conn: Connection, now: datetime) -> list[QueuedItem]:
    """Every undelivered item due by ``now``, in the order they were queued."""
    rows = conn.execute(_ITEMS_DUE, {"b_now": now}).all()
    return [
        QueuedItem(r.id, r.resident_id, r.recipient, r.role, r.message, r.queued_at) for r in rows
    ]


def mark_delivered(conn: Connection, item_ids: Sequence[int]) -> None:
    if item_ids:
        conn.execute(
            update(digest_items).where(digest_items.c.id.in_(list(item_ids))).values(delivered=True)
        )


def add_trend_finding(conn: Connection, finding_id: str, **values: Any) -> bool:
    """A finding unless ``finding_id`` is recorded already; whether it was new."""
    if conn.execute(_FINDING_BY_ID, {"b_id": finding_id}).first() is not None:
        return False
    conn.execute(_ADD_FINDING, {**values, "id": finding_id})
    return True
