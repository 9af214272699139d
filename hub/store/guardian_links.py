"""Guardians' one-tap links and SMS replies: the rows behind them.

Owns ``links`` (a link row written when a guardian's message is composed, read when its token
comes back, marked when it was used), the link key the hub keeps in ``hub_secrets`` when none
is configured, and the reads :mod:`hub.guardians` makes of ``alerts``, ``alert_timeline``,
``residents``, ``contacts`` and ``outbox`` to show an alert to a guardian and to find which
alert an SMS reply answers. Signing tokens and deciding what a guardian may do stay in
:mod:`hub.links` and :mod:`hub.guardians`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from hub.store.tables import alert_timeline, alerts, contacts, hub_secrets, links, outbox, residents

__all__ = [
    "AlertStatus",
    "GuardianAlert",
    "GuardianPage",
    "LinkRow",
    "TimelineMark",
    "add_link",
    "alert_status",
    "contact_name",
    "find_link",
    "guardian_alert",
    "guardian_pages",
    "mark_used",
    "marks_of",
    "read_link_key",
    "save_link_key",
]

_LINK_KEY = "link_key"


@dataclass(frozen=True)
class LinkRow:
    """A stored link: which resident, alert and contact it was made for, until when."""

    id: int
    resident_id: str
    alert_id: str
    contact_id: int | None
    role: str
    expires_at: datetime


@dataclass(frozen=True)
class GuardianAlert:
    """An alert with its resident's name and phone, as a guardian's page shows it."""

    id: str
    resident_id: str
    resident_name: str
    kind: str
    state: str
    stage: str
    opened_at: datetime
    resident_phone: str | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class TimelineMark:
    """One line of an alert's timeline a guardian's page reads: who took it on, the centre's
    one-time steps, a guardian's "checking" (``note`` is the role for ``acknowledged``, the
    reason for ``resolved``)."""

    what: str
    by: str | None
    note: str | None


@dataclass(frozen=True)
class AlertStatus:
    """What decides whether a guardian's action applies to an alert."""

    kind: str
    state: str


@dataclass(frozen=True)
class GuardianPage:
    """One message that paged a guardian about an alert still open."""

    alert_id: str
    contact_id: int | None
    recipient: str


def read_link_key(conn: Connection) -> bytes | None:
    """The link key the hub generated for itself, if it has made one."""
    value = conn.execute(
        select(hub_secrets.c.value).where(hub_secrets.c.name == _LINK_KEY)
    ).scalar()
    return None if value is None else bytes.fromhex(value)


def save_link_key(conn: Connection, key: bytes) -> None:
    """Keep a newly generated link key (in the caller's transaction)."""
    conn.execute(insert(hub_secrets).values(name=_LINK_KEY, value=key.hex()))


def add_link(
    conn: Connection,
    *,
    resident_id: str,
    alert_id: str,
    contact_id: int | None,
    role: str,
    expires_at: datetime,
    created_at: datetime,
) -> int:
    """Store a link row; returns its id."""
    key = conn.execute(
        insert(links).values(
            resident_id=resident_id,
            alert_id=alert_id,
            contact_id=contact_id,
            role=role,
            expires_at=expires_at,
            created_at=created_at,
        )
    ).inserted_primary_key
    if key is None:  # pragma: no cover - every supported database returns the key
        msg = "the database did not return the new link's id"
        raise RuntimeError(msg)
    return int(key[0])


def find_link(conn: Connection, link_id: int) -> LinkRow | None:
    """The link row with this id, if there is one."""
    row = conn.execute(
        select(
            links.c.id,
            links.c.resident_id,
            links.c.alert_id,
            links.c.contact_id,
            links.c.role,
            links.c.expires_at,
        ).where(links.c.id == link_id)
    ).first()
    if row is None:
        return None
    return LinkRow(
        id=row.id,
        resident_id=row.resident_id,
        alert_id=row.alert_id,
        contact_id=row.contact_id,
        role=row.role,
        expires_at=row.expires_at,
    )


def mark_used(conn: Connection, link_id: int, now: datetime) -> None:
    """Note when a guardian last acted through a link."""
    conn.execute(update(links).where(links.c.id == link_id).values(used_at=now))


def guardian_alert(conn: Connection, alert_id: str) -> GuardianAlert | None:
    """The alert with its resident's name (None when either is missing)."""
    row = conn.execute(
        select(
            alerts.c.id,
            alerts.c.resident_id,
            residents.c.name,
            alerts.c.kind,
            alerts.c.state,
            alerts.c.stage,
            alerts.c.opened_at,
            residents.c.phone,
            alerts.c.acknowledged_by,
            alerts.c.resolved_at,
            alerts.c.outcome,
        )
        .join(residents, residents.c.id == alerts.c.resident_id)
        .where(alerts.c.id == alert_id)
    ).first()
    if row is None:
        return None
    return GuardianAlert(
        id=row.id,
        resident_id=row.resident_id,
        resident_name=row.name,
        kind=row.kind,
        state=row.state,
        stage=row.stage,
        opened_at=row.opened_at,
        resident_phone=row.phone,
        acknowledged_by=row.acknowledged_by,
        resolved_at=row.resolved_at,
        outcome=row.outcome,
    )


def marks_of(conn: Connection, alert_id: str, whats: frozenset[str]) -> list[TimelineMark]:
    """The alert's timeline lines of the kinds in ``whats``, oldest first."""
    rows = conn.execute(
        select(alert_timeline.c.what, alert_timeline.c.by, alert_timeline.c.note)
        .where(alert_timeline.c.alert_id == alert_id)
        .where(alert_timeline.c.what.in_(sorted(whats)))
        .order_by(alert_timeline.c.id)
    )
    return [TimelineMark(row.what, row.by, row.note) for row in rows]


def alert_status(conn: Connection, alert_id: str) -> AlertStatus | None:
    """An alert's kind and state, if it exists."""
    row = conn.execute(select(alerts.c.kind, alerts.c.state).where(alerts.c.id == alert_id)).first()
    return None if row is None else AlertStatus(kind=row.kind, state=row.state)


def guardian_pages(conn: Connection, limit: int) -> list[GuardianPage]:
    """The newest ``limit`` guardian messages about alerts not yet resolved, newest first."""
    rows = conn.execute(
        select(outbox.c.alert_id, outbox.c.contact_id, outbox.c.recipient)
        .join(alerts, alerts.c.id == outbox.c.alert_id)
        .where(outbox.c.role == "guardian")
        .where(alerts.c.state != "resolved")
        .order_by(outbox.c.id.desc())
        .limit(limit)
    )
    return [GuardianPage(row.alert_id, row.contact_id, row.recipient) for row in rows]


def contact_name(conn: Connection, contact_id: int) -> str | None:
    """A contact's name, if the contact exists."""
    name: str | None = conn.execute(
        select(contacts.c.name).where(contacts.c.id == contact_id)
    ).scalar()
    return name
