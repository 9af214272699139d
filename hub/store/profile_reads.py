"""What the staff pages' residents list and profile read beyond :mod:`hub.store.resident_reads`.

Owns the reads of ``residents`` for the list's search (by name or id, in a district), of
``contacts`` with their quiet hours and backup flag, of ``events`` for each device's last
sign of life, and the districts residents live in (the pages' district filters). Writes go
through the hub core; these reads see only what has committed.

A ``districts`` argument limits a read to residents of those districts (an official's own);
``None`` means every district.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, or_, select

from hub.store.resident_reads import Resident, within_districts
from hub.store.tables import contacts, events, residents

__all__ = [
    "ContactDetail",
    "activity_by_device",
    "contact_details",
    "districts_in_use",
    "search_residents",
]


@dataclass(frozen=True)
class ContactDetail:
    """A contact as the profile shows it: who, their number, when routine messages wait."""

    id: int
    role: str
    name: str
    phone: str
    quiet_hours: str | None
    backup: bool


def districts_in_use(conn: Connection, districts: Collection[str] | None) -> list[str]:
    """The districts of ``districts`` (``None``: all) that have residents, by name."""
    query = within_districts(
        select(residents.c.district).distinct().order_by(residents.c.district), districts
    )
    return [row.district for row in conn.execute(query)]


def _like(text: str) -> str:
    # A name is matched as typed: % and _ are letters here, not wildcards.
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def search_residents(
    conn: Connection,
    districts: Collection[str] | None,
    *,
    district: str | None = None,
    text: str | None = None,
) -> list[Resident]:
    """Residents of ``districts`` whose name or id contains ``text`` (any case), in
    ``district`` if given, by name then id."""
    query = within_districts(select(residents), districts).order_by(
        residents.c.name, residents.c.id
    )
    if district is not None:
        query = query.where(residents.c.district == district)
    if text:
        pattern = _like(text)
        query = query.where(
            or_(
                func.lower(residents.c.name).like(pattern, escape="\\"),
                func.lower(residents.c.id).like(pattern, escape="\\"),
            )
        )
    return [
        Resident(
            id=row.id, name=row.name, district=row.district, phone=row.phone, address=row.address
        )
        for row in conn.execute(query)
    ]


def contact_details(conn: Connection, resident_id: str) -> list[ContactDetail]:
    """The resident's contacts in the order they were added."""
    rows = conn.execute(
        select(
            contacts.c.id,
            contacts.c.role,
            contacts.c.name,
            contacts.c.phone,
            contacts.c.quiet_hours,
            contacts.c.backup,
        )
        .where(contacts.c.resident_id == resident_id)
        .order_by(contacts.c.id)
    )
    return [
        ContactDetail(
            id=row.id,
            role=row.role,
            name=row.name,
            phone=row.phone,
            quiet_hours=row.quiet_hours,
            backup=bool(row.backup),
        )
        for row in rows
    ]


def activity_by_device(conn: Connection, resident_id: str) -> dict[str, datetime]:
    """Each device's latest activity message (its time as the device stamped it)."""
    rows = conn.execute(
        select(events.c.device_id, func.max(events.c.ts).label("last"))
        .where(events.c.resident_id == resident_id)
        .where(events.c.kind == "activity")
        .group_by(events.c.device_id)
    )
    return {row.device_id: row.last for row in rows}
