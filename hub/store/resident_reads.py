"""What the API and board read about residents, their devices and their contacts.

Owns the reads of ``residents``, ``devices`` and ``contacts`` for the residents' list and
profile (and who is no longer watched), of ``events`` for the activity chart, of
``trend_findings`` for the officials' work list, and of ``dead_letters`` (device messages
the hub refused). Writes go through the hub core; these reads see only what has committed.

A ``districts`` argument limits a read to residents of those districts (an official's own);
``None`` means every district.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select

from hub.store.tables import contacts, dead_letters, devices, events, residents, trend_findings

__all__ = [
    "Resident",
    "StoredContact",
    "StoredDevice",
    "TrendFinding",
    "activity_times",
    "contacts_of",
    "dead_letter_counts",
    "devices_of",
    "find_resident",
    "inactive_ids",
    "list_residents",
    "recent_dead_letters",
    "resident_district",
    "trend_findings_since",
    "within_districts",
]


@dataclass(frozen=True)
class Resident:
    """A registered resident's own fields (the core keeps their state and policy)."""

    id: str
    name: str
    district: str
    phone: str | None
    address: str | None
    inactive_since: datetime | None = None
    """Set while the resident is no longer watched (see :mod:`hub.store.registry`)."""
    inactive_reason: str | None = None


@dataclass(frozen=True)
class StoredDevice:
    """A device as registered; ``online`` as last stored (the core's copy is fresher)."""

    id: str
    kind: str
    online: bool


@dataclass(frozen=True)
class StoredContact:
    id: int
    role: str
    name: str
    phone: str


@dataclass(frozen=True)
class TrendFinding:
    """A lasting change in a resident's routine, with the resident's name and district."""

    id: str
    resident_id: str
    name: str
    district: str
    kind: str
    detected_at: datetime
    detail: str


def within_districts(query: Select[Any], districts: Collection[str] | None) -> Select[Any]:
    """``query`` (which selects from ``residents``) limited to ``districts``, if given."""
    if districts is None:
        return query
    return query.where(residents.c.district.in_(sorted(districts)))


def _resident(row: Any) -> Resident:
    return Resident(
        id=row.id,
        name=row.name,
        district=row.district,
        phone=row.phone,
        address=row.address,
        inactive_since=row.inactive_since,
        inactive_reason=row.inactive_reason,
    )


def list_residents(
    conn: Connection, districts: Collection[str] | None, *, inactive: bool | None = None
) -> list[Resident]:
    """Residents of ``districts`` (``None``: all), by id; ``inactive`` True: only those no
    longer watched, False: only those watched, ``None``: both."""
    query = within_districts(select(residents).order_by(residents.c.id), districts)
    if inactive is not None:
        query = query.where(
            residents.c.inactive_since.is_not(None)
            if inactive
            else residents.c.inactive_since.is_(None)
        )
    return [_resident(row) for row in conn.execute(query)]


def inactive_ids(conn: Connection, resident_ids: Collection[str]) -> set[str]:
    """Which of ``resident_ids`` are no longer watched."""
    wanted = sorted(set(resident_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        rows = conn.execute(
            select(residents.c.id)
            .where(residents.c.id.in_(wanted[start : start + 500]))
            .where(residents.c.inactive_since.is_not(None))
        )
        found.update(row.id for row in rows)
    return found


def find_resident(conn: Connection, resident_id: str) -> Resident | None:
    row = conn.execute(select(residents).where(residents.c.id == resident_id)).first()
    return None if row is None else _resident(row)


def resident_district(conn: Connection, resident_id: str) -> str | None:
    """The resident's district, or ``None`` if there is no such resident."""
    district: str | None = conn.execute(
        select(residents.c.district).where(residents.c.id == resident_id)
    ).scalar()
    return district


def devices_of(conn: Connection, resident_id: str) -> list[StoredDevice]:
    rows = conn.execute(
        select(devices.c.id, devices.c.kind, devices.c.online).where(
            devices.c.resident_id == resident_id
        )
    )
    return [StoredDevice(id=row.id, kind=row.kind, online=row.online) for row in rows]


def contacts_of(conn: Connection, resident_id: str) -> list[StoredContact]:
    rows = conn.execute(
        select(contacts.c.id, contacts.c.role, contacts.c.name, contacts.c.phone).where(
            contacts.c.resident_id == resident_id
        )
    )
    return [StoredContact(id=row.id, role=row.role, name=row.name, phone=row.phone) for row in rows]


def activity_times(conn: Connection, resident_id: str, since: datetime) -> list[datetime]:
    """When the resident's activity messages happened, from ``since`` on."""
    rows = conn.execute(
        select(events.c.ts)
        .where(events.c.resident_id == resident_id)
        .where(events.c.kind == "activity")
        .where(events.c.ts >= since)
    )
    return [row.ts for row in rows]


def trend_findings_since(
    conn: Connection, since: datetime, districts: Collection[str] | None
) -> list[TrendFinding]:
    """Findings detected from ``since`` on in ``districts``, newest first."""
    query = (
        select(trend_findings, residents.c.name, residents.c.district)
        .join(residents, residents.c.id == trend_findings.c.resident_id)
        .where(trend_findings.c.detected_at >= since)
        .order_by(trend_findings.c.detected_at.desc())
    )
    return [
        TrendFinding(
            id=row.id,
            resident_id=row.resident_id,
            name=row.name,
            district=row.district,
            kind=row.kind,
            detected_at=row.detected_at,
            detail=row.detail,
        )
        for row in conn.execute(within_districts(query, districts))
    ]


def recent_dead_letters(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` newest refused messages, every column, newest first."""
    rows = conn.execute(select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit))
    return [dict(row._mapping) for row in rows]


def dead_letter_counts(conn: Connection) -> dict[str, int]:
    """How many refused messages there are per reason, by reason."""
    rows = conn.execute(
        select(dead_letters.c.reason, func.count()).group_by(dead_letters.c.reason)
    ).all()
    return {reason: count for reason, count in sorted(rows)}
