"""A sensor gateway's latest word on itself: ``device_sensing`` and ``sensor_health``.

Owns the writes (from the intake, in the heartbeat's own transaction) and the reads (the
board's per-sensor lines, the installer's battery list). Newest wins: a heartbeat older than
the one stored (an edge outbox replaying after an outage) changes nothing. A heartbeat that
lists its sensors replaces the device's list (a sensor taken out of the gateway goes); one
that lists none keeps it.

A ``districts`` argument limits a read to residents of those districts (an official's own);
``None`` means every district. Residents no longer watched are left out.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from hub.store.resident_reads import within_districts
from hub.store.tables import device_sensing, residents, sensor_health

__all__ = ["SensorRow", "blind_devices", "record_heartbeat", "sensor_rows"]


@dataclass(frozen=True)
class SensorRow:
    """One sensor of one resident's gateway as its newest heartbeat listed it."""

    resident_id: str
    name: str
    district: str
    device_id: str
    sensor: str
    signal: str | None
    available: bool | None
    last_seen: datetime | None
    battery_pct: int | None
    battery_low: bool | None
    linkquality: int | None
    active_since: datetime | None
    reported_at: datetime


def record_heartbeat(
    conn: Connection, resident_id: str, device_id: str, beat: Any, received_at: datetime
) -> bool:
    """Store what heartbeat ``beat`` (a :class:`protocol.Heartbeat`) says of the gateway and
    its sensors, unless a newer one is stored already; returns whether it was stored.

    A heartbeat that says neither ``sensing`` nor ``sensors`` (a speaker's, a phone's) is
    not stored: it says nothing of sensors.
    """
    if beat.sensing is None and beat.sensors is None:
        return False
    key = (device_sensing.c.resident_id == resident_id) & (device_sensing.c.device_id == device_id)
    sees = beat.sensing is not False
    stored = conn.execute(
        select(
            device_sensing.c.reported_at, device_sensing.c.sensing, device_sensing.c.since
        ).where(key)
    ).first()
    if stored is not None and stored.reported_at > beat.ts:
        return False
    since = stored.since if stored is not None and stored.sensing == sees else beat.ts
    conn.execute(delete(device_sensing).where(key))
    conn.execute(
        insert(device_sensing).values(
            resident_id=resident_id,
            device_id=device_id,
            sensing=sees,
            problem=None if sees else beat.sensing_problem,
            since=since,
            reported_at=beat.ts,
            received_at=received_at,
        )
    )
    if beat.sensors is None:
        return True
    conn.execute(
        delete(sensor_health).where(
            (sensor_health.c.resident_id == resident_id) & (sensor_health.c.device_id == device_id)
        )
    )
    rows = {
        s.name: {
            "resident_id": resident_id,
            "device_id": device_id,
            "sensor": s.name,
            "signal": s.signal,
            "available": s.available,
            "last_seen": s.last_seen,
            "battery_pct": s.battery_pct,
            "battery_low": s.battery_low,
            "linkquality": s.linkquality,
            "active_since": s.active_since,
            "reported_at": beat.ts,
        }
        for s in beat.sensors
    }  # one row per name: a list naming a sensor twice keeps its last entry
    if rows:
        conn.execute(insert(sensor_health), list(rows.values()))
    return True


def sensor_rows(conn: Connection, districts: Collection[str] | None) -> list[SensorRow]:
    """Every watched resident's sensors, by resident name, device and sensor."""
    query = (
        select(sensor_health, residents.c.name, residents.c.district)
        .join(residents, residents.c.id == sensor_health.c.resident_id)
        .where(residents.c.inactive_since.is_(None))
        .order_by(
            residents.c.name,
            sensor_health.c.resident_id,
            sensor_health.c.device_id,
            sensor_health.c.sensor,
        )
    )
    return [
        SensorRow(
            resident_id=row.resident_id,
            name=row.name,
            district=row.district,
            device_id=row.device_id,
            sensor=row.sensor,
            signal=row.signal,
            available=row.available,
            last_seen=row.last_seen,
            battery_pct=row.battery_pct,
            battery_low=row.battery_low,
            linkquality=row.linkquality,
            active_since=row.active_since,
            reported_at=row.reported_at,
        )
        for row in conn.execute(within_districts(query, districts))
    ]


def blind_devices(conn: Connection, districts: Collection[str] | None) -> list[dict[str, Any]]:
    """Gateways whose newest heartbeat says they cannot see: why (``problem``) and since
    when (``since``, by the device's clock)."""
    query = (
        select(device_sensing, residents.c.name, residents.c.district)
        .join(residents, residents.c.id == device_sensing.c.resident_id)
        .where(residents.c.inactive_since.is_(None))
        .where(device_sensing.c.sensing.is_(False))
        .order_by(residents.c.name, device_sensing.c.resident_id, device_sensing.c.device_id)
    )
    return [dict(row._mapping) for row in conn.execute(within_districts(query, districts))]
