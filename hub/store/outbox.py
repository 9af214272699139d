"""The dispatcher's side of ``outbox``: claiming rows, marking results, settling sends in doubt.

Owns the reads and writes :class:`hub.notify.dispatcher.Dispatcher` makes of outbox rows
(the rows due, emergencies first; the claim ``pending → sending``; each later mark; the rows
a previous run left ``sending``; the accepted SMS whose receipts are still to be asked), and
the read that says whom a notification is addressed to (the role's contacts), which
:mod:`hub.notify.compose` turns into rows. Writing the rows is :mod:`hub.store.rows`'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, case, select, update

from hub.store.tables import contacts, outbox

__all__ = [
    "Accepted",
    "Addressee",
    "Contact",
    "InDoubt",
    "Pending",
    "awaiting_receipt",
    "claim",
    "contacts_of",
    "due",
    "in_doubt",
    "mark",
    "mark_outcome",
]


@dataclass(frozen=True, slots=True)
class Pending:
    """A row due to be handed to its channel."""

    id: int
    key: str
    channel: str
    recipient: str
    role: str | None
    resident_id: str | None
    alert_id: str | None
    kind: str | None
    stage: str | None
    body: str
    attempts: int


@dataclass(frozen=True, slots=True)
class InDoubt:
    """A row a previous run left ``sending``, and the provider it was calling, if any."""

    id: int
    key: str
    calling: str | None
    channel: str
    role: str | None


@dataclass(frozen=True, slots=True)
class Accepted:
    """An SMS a provider accepted, by the provider's own id."""

    id: int
    provider: str | None
    provider_id: str


@dataclass(frozen=True, slots=True)
class Addressee:
    """Whose row it was, as the metrics count outcomes."""

    channel: str
    role: str | None


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact a notification of their role goes to."""

    id: int
    phone: str
    quiet_hours: str | None


def due(conn: Connection, now: datetime, limit: int) -> list[Pending]:
    """Pending rows whose time has come (at most ``limit``), emergencies first, then in order."""
    rows = conn.execute(
        select(
            outbox.c.id,
            outbox.c.key,
            outbox.c.channel,
            outbox.c.recipient,
            outbox.c.role,
            outbox.c.resident_id,
            outbox.c.alert_id,
            outbox.c.kind,
            outbox.c.stage,
            outbox.c.body,
            outbox.c.attempts,
        )
        .where(outbox.c.state == "pending")
        .where((outbox.c.next_attempt_at.is_(None)) | (outbox.c.next_attempt_at <= now))
        # An emergency page never waits behind a queue of routine messages.
        .order_by(case((outbox.c.kind == "emergency", 0), else_=1), outbox.c.id)
        .limit(limit)
    )
    return [Pending(*row) for row in rows]


def claim(conn: Connection, row_id: int, attempts: int) -> bool:
    """Move a row ``pending → sending`` as attempt ``attempts``; ``False`` if it was not pending."""
    claimed = conn.execute(
        update(outbox)
        .where(outbox.c.id == row_id)
        .where(outbox.c.state == "pending")
        .values(state="sending", attempts=attempts, calling=None)
    ).rowcount
    return bool(claimed)


def mark(conn: Connection, row_id: int, values: Mapping[str, object]) -> None:
    """Set columns of one row (its state, times, error, provider, ``calling``)."""
    conn.execute(update(outbox).where(outbox.c.id == row_id).values(**values))


def mark_outcome(conn: Connection, row_id: int, values: Mapping[str, object]) -> Addressee | None:
    """:func:`mark`, also saying whose row it was; ``None`` when there is no such row."""
    # Same statement, no extra round trip (SQLite >= 3.35 and PostgreSQL).
    found = conn.execute(
        update(outbox)
        .where(outbox.c.id == row_id)
        .values(**values)
        .returning(outbox.c.channel, outbox.c.role)
    ).first()
    return None if found is None else Addressee(found.channel, found.role)


def in_doubt(conn: Connection) -> list[InDoubt]:
    """Rows left ``sending`` by a run that stopped before their outcome was marked."""
    rows = conn.execute(
        select(outbox.c.id, outbox.c.key, outbox.c.calling, outbox.c.channel, outbox.c.role).where(
            outbox.c.state == "sending"
        )
    )
    return [InDoubt(*row) for row in rows]


def awaiting_receipt(conn: Connection, since: datetime, limit: int) -> list[Accepted]:
    """SMS accepted by a provider since ``since`` whose delivery is not yet known."""
    rows = conn.execute(
        select(outbox.c.id, outbox.c.provider, outbox.c.provider_id)
        .where(outbox.c.state == "sent")
        .where(outbox.c.channel == "sms")
        .where(outbox.c.provider_id.is_not(None))
        .where(outbox.c.sent_at >= since)
        .limit(limit)
    )
    return [Accepted(*row) for row in rows]


# Built once, one per value of ``backup``: every notification reads its addressees.
_CONTACTS_OF = {
    backup: select(contacts.c.id, contacts.c.phone, contacts.c.quiet_hours)
    .where(
        (contacts.c.resident_id == bindparam("b_resident"))
        & (contacts.c.role == bindparam("b_role"))
    )
    .where(contacts.c.backup.is_(backup))
    .order_by(contacts.c.id)
    for backup in (False, True)
}


def contacts_of(conn: Connection, resident_id: str, role: str, *, backup: bool) -> list[Contact]:
    """The resident's contacts of ``role`` (backups, or not), in the order they were added."""
    rows = conn.execute(_CONTACTS_OF[backup], {"b_resident": resident_id, "b_role": role})
    return [Contact(*row) for row in rows]
