"""The monthly report's reads: one district's residents, devices, events and alerts in a period.

Owns the SQL behind :func:`hub.reports.monthly_report` (SQLAlchemy Core, SQLite and
PostgreSQL). Each function reads one thing of the residents whose ``residents.district`` is
``district`` with a time in ``[start, end)`` and returns plain values; what the figures mean
(the report's "Definitions") is :mod:`hub.reports`, which combines these reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    and_,
    case,
    cast,
    distinct,
    extract,
    func,
    select,
)

from hub.store.tables import alert_timeline, alerts, devices, events, residents, trend_findings

__all__ = [
    "Checkin",
    "OpenedAlert",
    "RegisteredDevice",
    "ResolvedAlert",
    "TrendFinding",
    "activity_days",
    "checkins",
    "device_slots_up",
    "monitored_residents",
    "one_snapshot",
    "opened_alerts",
    "registered_devices",
    "resolved_alerts",
    "timeline_steps",
    "trend_findings_in",
]


@dataclass(frozen=True, slots=True)
class RegisteredDevice:
    resident_id: str
    id: str
    registered_at: datetime


@dataclass(frozen=True, slots=True)
class Checkin:
    resident_id: str
    ts: datetime
    payload: str  # as stored: possibly cut short, so parsed by the caller


@dataclass(frozen=True, slots=True)
class OpenedAlert:
    kind: str
    stage: str
    opened_at: datetime
    acknowledged_at: datetime | None


@dataclass(frozen=True, slots=True)
class ResolvedAlert:
    kind: str
    outcome: str | None  # None: the system closed it by itself


@dataclass(frozen=True, slots=True)
class TrendFinding:
    resident_id: str
    kind: str


def one_snapshot(conn: Connection) -> None:
    """On PostgreSQL, make every later query on ``conn`` read one snapshot.

    Call before the first query, so the figures agree with each other while the hub keeps
    writing. Other backends' connections are left as they are.
    """
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="REPEATABLE READ")


def _in_district(district: str) -> ColumnElement[bool]:
    return residents.c.district == district


def _during(column: ColumnElement[datetime], start: datetime, end: datetime) -> ColumnElement[bool]:
    """``start <= column < end``: in the report's period, a half-open window."""
    return and_(column >= start, column < end)


def monitored_residents(conn: Connection, district: str, end: datetime) -> dict[str, datetime]:
    """The district's residents created before ``end``: id -> ``created_at``."""
    return {
        resident: created_at
        for resident, created_at in conn.execute(
            select(residents.c.id, residents.c.created_at).where(
                _in_district(district), residents.c.created_at < end
            )
        )
    }


def registered_devices(conn: Connection, district: str, end: datetime) -> list[RegisteredDevice]:
    """Devices registered before ``end`` to the district's residents created before it."""
    return [
        RegisteredDevice(row.resident_id, row.id, row.registered_at)
        for row in conn.execute(
            select(devices.c.resident_id, devices.c.id, devices.c.registered_at)
            .join(residents, residents.c.id == devices.c.resident_id)
            .where(
                _in_district(district),
                residents.c.created_at < end,
                devices.c.registered_at < end,
            )
        )
    ]


def _epoch_seconds(dialect: str, column: ColumnElement[datetime]) -> ColumnElement[int]:
    """Whole seconds since 1970 of a stored (naive UTC) timestamp, per backend.

    Slots are counted in SQL because a month of heartbeats is millions of rows; only one
    count per device comes back.
    """
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    if dialect == "postgresql":
        # timestamp without time zone: the epoch of the stored UTC wall time.
        return cast(func.floor(extract("epoch", column)), BigInteger)
    msg = f"monthly reports support sqlite and postgresql, not {dialect}"
    raise ValueError(msg)


def device_slots_up(
    conn: Connection, district: str, start: datetime, end: datetime, slot_s: int
) -> dict[tuple[str, str], int]:
    """Per ``(resident, device)``, how many ``slot_s`` slots counted from ``start`` hold an event.

    Counts the distinct slots with a stored event in ``[start, end)`` at or after the
    device's ``registered_at``, of any kind but ``status`` (which can be the broker's Last
    Will rather than the device). Event time is the device's ``ts``.
    """
    start_epoch = int(start.timestamp())
    slot = (_epoch_seconds(conn.dialect.name, events.c.ts) - start_epoch) // slot_s
    return {
        (row[0], row[1]): int(row[2])
        for row in conn.execute(
            select(events.c.resident_id, events.c.device_id, func.count(distinct(slot)))
            .select_from(
                events.join(
                    devices,
                    and_(
                        devices.c.resident_id == events.c.resident_id,
                        devices.c.id == events.c.device_id,
                    ),
                ).join(residents, residents.c.id == events.c.resident_id)
            )
            .where(
                _in_district(district),
                events.c.kind != "status",
                _during(events.c.ts, start, end),
                events.c.ts >= devices.c.registered_at,
            )
            .group_by(events.c.resident_id, events.c.device_id)
        )
    }


def activity_days(
    conn: Connection, district: str, start: datetime, end: datetime, day_ends: Sequence[datetime]
) -> dict[str, set[int]]:
    """Per resident, the day indexes with an ``activity`` event in ``[start, end)``.

    Day ``i`` ends at ``day_ends[i]`` (the UTC instants of the local midnights after the
    period's days, in order); day 0 begins at ``start``.
    """
    if not day_ends:
        return {}
    # Day boundaries as a CASE over the local midnights: exact in any time zone, DST
    # included, on both backends, and only one row per resident-day leaves the database.
    day = case(
        *((events.c.ts < boundary, index) for index, boundary in enumerate(day_ends)),
        else_=len(day_ends),
    )
    active: dict[str, set[int]] = {}
    for resident, index in conn.execute(
        select(events.c.resident_id, day)
        .distinct()
        .select_from(events.join(residents, residents.c.id == events.c.resident_id))
        .where(
            _in_district(district),
            _during(events.c.ts, start, end),
            events.c.kind == "activity",
        )
    ):
        active.setdefault(resident, set()).add(int(index))
    return active


def checkins(conn: Connection, district: str, start: datetime, end: datetime) -> list[Checkin]:
    """The district's ``checkin`` events in ``[start, end)``, payload as stored.

    Check-ins are a few a day per resident at most, so reading them all is cheap.
    """
    return [
        Checkin(resident, ts, payload)
        for resident, ts, payload in conn.execute(
            select(events.c.resident_id, events.c.ts, events.c.payload)
            .select_from(events.join(residents, residents.c.id == events.c.resident_id))
            .where(
                _in_district(district),
                _during(events.c.ts, start, end),
                events.c.kind == "checkin",
            )
        )
    ]


def opened_alerts(
    conn: Connection, district: str, start: datetime, end: datetime
) -> list[OpenedAlert]:
    """The district's alerts with ``opened_at`` in ``[start, end)``."""
    return [
        OpenedAlert(row.kind, row.stage, row.opened_at, row.acknowledged_at)
        for row in conn.execute(
            select(alerts.c.kind, alerts.c.stage, alerts.c.opened_at, alerts.c.acknowledged_at)
            .join(residents, residents.c.id == alerts.c.resident_id)
            .where(_in_district(district), _during(alerts.c.opened_at, start, end))
        )
    ]


def resolved_alerts(
    conn: Connection, district: str, start: datetime, end: datetime
) -> list[ResolvedAlert]:
    """The district's alerts with ``resolved_at`` in ``[start, end)``."""
    return [
        ResolvedAlert(row.kind, row.outcome)
        for row in conn.execute(
            select(alerts.c.kind, alerts.c.outcome)
            .join(residents, residents.c.id == alerts.c.resident_id)
            .where(
                _in_district(district),
                _during(alerts.c.resolved_at, start, end),
            )
        )
    ]


def timeline_steps(
    conn: Connection, district: str, whats: Sequence[str], start: datetime, end: datetime
) -> dict[str, int]:
    """How many ``alert_timeline`` steps of each of ``whats`` have ``at`` in ``[start, end)``.

    On alerts of the district's residents, whenever those were opened; a step never taken
    is absent.
    """
    return {
        what: int(count)
        for what, count in conn.execute(
            select(alert_timeline.c.what, func.count())
            .select_from(
                alert_timeline.join(alerts, alerts.c.id == alert_timeline.c.alert_id).join(
                    residents, residents.c.id == alerts.c.resident_id
                )
            )
            .where(
                _in_district(district),
                alert_timeline.c.what.in_(tuple(whats)),
                _during(alert_timeline.c.at, start, end),
            )
            .group_by(alert_timeline.c.what)
        )
    }


def trend_findings_in(
    conn: Connection, district: str, start: datetime, end: datetime
) -> list[TrendFinding]:
    """The district's trend findings with ``detected_at`` in ``[start, end)``."""
    return [
        TrendFinding(row.resident_id, row.kind)
        for row in conn.execute(
            select(trend_findings.c.resident_id, trend_findings.c.kind)
            .join(residents, residents.c.id == trend_findings.c.resident_id)
            .where(
                _in_district(district),
                _during(trend_findings.c.detected_at, start, end),
            )
        )
    ]
