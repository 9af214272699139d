"""The hub's telemetry point schema: which measurements, tags and fields it writes, and how.

Owns :data:`SCHEMA` (the only names the hub writes, which the Grafana dashboard in
``deploy/grafana/`` queries), which committed events and alert changes become points
(:data:`WRITTEN_KINDS`, :func:`to_point`) and their line-protocol text (:func:`to_line`). The
buffer and the writer thread that send them are :mod:`hub.telemetry`.

Tags are the things a dashboard groups by, and each has a bounded set of values:
``district`` (a few dozen), ``device_kind`` (3), ``source`` (10), vital ``kind`` (6), alert
``kind``/``stage``/``state`` (5/3/3), and the pseudonymous ``resident`` id (and ``device`` id
on device health), which the dashboard needs for activity per resident-day and vitals per
resident. Those two grow with the registered fleet, not with traffic: each device kind reports
a few sources, so a resident makes about ten activity series and a hub watching 10,000
residents some 100,000, well inside what InfluxDB handles. Unbounded values (event and alert
ids) are never tags. Names, phone numbers, addresses, the resident's words (emergency and
check-in text) and firmware strings are never written at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, cast

from protocol import AlertChange, BloodPressure, Event

if TYPE_CHECKING:
    from influxdb_client.client.write.point import Point

__all__ = [
    "ACTIVITY",
    "ALERT_CHANGE",
    "CHECKIN_SOURCE",
    "DEVICE_STATUS",
    "HEARTBEAT",
    "SCHEMA",
    "VITALS",
    "WRITTEN_KINDS",
    "Record",
    "to_line",
    "to_point",
]

ACTIVITY: Final = "activity"
HEARTBEAT: Final = "heartbeat"
DEVICE_STATUS: Final = "device_status"
VITALS: Final = "vitals"
ALERT_CHANGE: Final = "alert_change"

_DEVICE_TAGS: Final = frozenset({"resident", "district", "device_kind"})

# measurement -> (tag keys, field keys). The only names the hub writes.
SCHEMA: Final[Mapping[str, tuple[frozenset[str], frozenset[str]]]] = {
    ACTIVITY: (_DEVICE_TAGS | {"source"}, frozenset({"count"})),
    HEARTBEAT: (_DEVICE_TAGS | {"device"}, frozenset({"interval_s", "battery_pct", "rssi"})),
    DEVICE_STATUS: (_DEVICE_TAGS | {"device"}, frozenset({"online"})),
    VITALS: (_DEVICE_TAGS | {"kind"}, frozenset({"value", "systolic", "diastolic"})),
    ALERT_CHANGE: (
        frozenset({"resident", "district", "kind", "stage", "state"}),
        frozenset({"changes", "alert_id"}),
    ),
}

# A check-in answered by the resident is activity; its source in the TSDB says where it came
# from (the protocol's activity sources do not include it).
CHECKIN_SOURCE: Final = "checkin"

# Event kinds that become points; emergencies are written as their alert's changes.
WRITTEN_KINDS: Final = frozenset({"activity", "heartbeat", "status", "vitals", "checkin"})

Record = tuple[Event | AlertChange, str, str]
"""What the buffer holds: the committed event or alert change, its district, its device kind."""


def to_point(item: Event | AlertChange, district: str, device_kind: str) -> Point | None:
    """The point for one committed event or alert change, or ``None`` if none is written.

    Numeric readings are always floats and counts always integers, so a field never changes
    type between writes (InfluxDB refuses a batch that would).
    """
    from influxdb_client.client.write.point import Point as _Point
    from influxdb_client.domain.write_precision import WritePrecision

    new: Any = _Point  # the library's methods are not annotated
    ms = WritePrecision.MS
    if isinstance(item, AlertChange):
        return cast(
            "Point",
            new(ALERT_CHANGE)
            .tag("resident", item.resident)
            .tag("district", district)
            .tag("kind", item.kind)
            .tag("stage", item.stage)
            .tag("state", item.state)
            .field("changes", 1)
            .field("alert_id", item.alert_id)
            .time(item.ts, ms),
        )
    message: Any = item.message
    measurement, extra_tag = _measurement_of(item)
    if measurement is None:
        return None
    point = (
        new(measurement)
        .tag("resident", item.resident)
        .tag("district", district)
        .tag("device_kind", device_kind)
        .time(message.ts, ms)
    )
    if extra_tag is not None:
        point.tag(*extra_tag)
    if measurement == ACTIVITY:
        point.field("count", int(getattr(message, "count", None) or 1))
    elif measurement == HEARTBEAT:
        point.field("interval_s", int(message.interval_s))
        if message.battery_pct is not None:
            point.field("battery_pct", float(message.battery_pct))
        if message.rssi is not None:
            point.field("rssi", float(message.rssi))
    elif measurement == DEVICE_STATUS:
        point.field("online", 1 if message.state == "online" else 0)
    elif isinstance(message.value, BloodPressure):
        point.field("systolic", float(message.value.systolic))
        point.field("diastolic", float(message.value.diastolic))
    else:
        point.field("value", float(message.value))
    return cast("Point", point)


def _measurement_of(event: Event) -> tuple[str | None, tuple[str, str] | None]:
    message: Any = event.message
    match event.kind:
        case "activity":
            return ACTIVITY, ("source", message.source)
        case "checkin":
            return (ACTIVITY, ("source", CHECKIN_SOURCE)) if message.answered else (None, None)
        case "heartbeat":
            return HEARTBEAT, ("device", event.device)
        case "status":
            return DEVICE_STATUS, ("device", event.device)
        case "vitals":
            return VITALS, ("kind", message.kind)
    return None, None


def to_line(record: Record) -> str:
    """The line-protocol line for one buffered record, or ``""`` if none is written."""
    point = to_point(*record)
    return "" if point is None else str(cast(Any, point).to_line_protocol())
