"""Who is registered: the rows of residents, their devices and their contacts.

Owns the writes the hub makes when a resident, a device or a contact is added, a resident's
own fields or policy change, or a resident is deactivated or reactivated (with the reasons
one may be deactivated for), the device status columns that ingest keeps, and the one read
that fills the hub's registry cache when it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hub.store.districts import ensure_district
from hub.store.tables import contacts, devices, residents
from protocol.vocab import InactiveReason

__all__ = [
    "Registered",
    "add_contact",
    "add_device",
    "add_resident",
    "device_status",
    "load_registry",
    "resident_name",
    "resident_policy",
    "set_active",
    "set_device_online",
    "set_device_status",
    "set_policy",
    "update_resident_row",
]

# Belongs in protocol/vocab.py (one vocabulary); kept here until it moves there.


@dataclass(frozen=True, slots=True)
class Registered:
    """Everyone registered: each resident's name and district, each device's kind, and who
    is no longer watched."""

    names: dict[str, str]
    districts: dict[str, str]
    device_kinds: dict[tuple[str, str], str]
    inactive: set[str]


def load_registry(conn: Connection) -> Registered:
    people = conn.execute(
        select(residents.c.id, residents.c.name, residents.c.district, residents.c.inactive_since)
    ).all()
    kinds = {
        (r.resident_id, r.id): r.kind
        for r in conn.execute(select(devices.c.resident_id, devices.c.id, devices.c.kind))
    }
    return Registered(
        names={r.id: r.name for r in people},
        districts={r.id: r.district for r in people},
        device_kinds=kinds,
        inactive={r.id for r in people if r.inactive_since is not None},
    )


def resident_name(conn: Connection, resident_id: str) -> str | None:
    """The resident's name, or ``None`` when no such resident is registered."""
    found = conn.execute(select(residents.c.name).where(residents.c.id == resident_id)).first()
    return None if found is None else str(found.name)


def add_resident(conn: Connection, **values: Any) -> None:
    """Insert a resident; its district becomes one of the hub's first if it is not yet
    (:func:`hub.store.districts.ensure_district`: the column is a foreign key)."""
    ensure_district(conn, str(values["district"]))
    conn.execute(insert(residents).values(**values))


def resident_policy(conn: Connection, resident_id: str) -> tuple[dict[str, Any], int] | None:
    """The resident's stored policy overrides and their version, or ``None``."""
    row = conn.execute(
        select(residents.c.policy, residents.c.policy_version).where(residents.c.id == resident_id)
    ).first()
    return None if row is None else (dict(row.policy or {}), int(row.policy_version))


def set_policy(conn: Connection, resident_id: str, overrides: dict[str, Any], version: int) -> None:
    conn.execute(
        update(residents)
        .where(residents.c.id == resident_id)
        .values(policy=overrides, policy_version=version)
    )


def update_resident_row(conn: Connection, resident_id: str, changes: dict[str, Any]) -> None:
    """Change a resident's own fields (name, district, address, phone); a new district
    becomes one of the hub's first if it is not yet, as on :func:`add_resident`."""
    if "district" in changes:
        ensure_district(conn, str(changes["district"]))
    conn.execute(update(residents).where(residents.c.id == resident_id).values(**changes))


def set_active(
    conn: Connection,
    resident_id: str,
    inactive_since: datetime | None,
    reason: InactiveReason | None = None,
) -> None:
    """Deactivate the resident from ``inactive_since`` for ``reason``, or (``None``)
    reactivate them."""
    conn.execute(
        update(residents)
        .where(residents.c.id == resident_id)
        .values(inactive_since=inactive_since, inactive_reason=reason)
    )


def add_device(
    conn: Connection, resident_id: str, device_id: str, kind: str, now: datetime
) -> None:
    conn.execute(
        insert(devices).values(
            resident_id=resident_id, id=device_id, kind=kind, registered_at=now, online=True
        )
    )


def _device(resident_id: str, device_id: str) -> Any:
    return (devices.c.resident_id == resident_id) & (devices.c.id == device_id)


def device_status(
    conn: Connection, resident_id: str, device_id: str
) -> tuple[datetime | None, bool] | None:
    """The time and state of the device's last status message, or ``None`` if unknown."""
    row = conn.execute(
        select(devices.c.status_at, devices.c.online).where(_device(resident_id, device_id))
    ).first()
    return None if row is None else (row.status_at, bool(row.online))


def set_device_status(
    conn: Connection, resident_id: str, device_id: str, at: datetime, online: bool
) -> None:
    conn.execute(
        update(devices).where(_device(resident_id, device_id)).values(status_at=at, online=online)
    )


def set_device_online(conn: Connection, resident_id: str, device_id: str, online: bool) -> None:
    conn.execute(update(devices).where(_device(resident_id, device_id)).values(online=online))


def add_contact(conn: Connection, **values: Any) -> int:
    """A new contact row; returns its id."""
    result = conn.execute(insert(contacts).values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]
