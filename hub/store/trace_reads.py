"""The reads behind trace files: events as the hub took them in, and what a run left behind.

Owns the queries of :mod:`hub.trace`: the stored events of a period (of one district's
residents), streamed in the order the hub received them, and the outbox SMS rows, alerts and
device commands a replay's output is made of. Formatting any of them is :mod:`hub.trace`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from hub.store.tables import alerts, events, outbox, residents
from protocol.topics import EventKind

__all__ = [
    "DeviceCommand",
    "OpenedAlert",
    "ReceivedEvent",
    "SentSms",
    "alerts_opened",
    "device_commands",
    "received_events",
    "sms_sent",
]

# Rows fetched at a time while streaming an export, so a long period is never held in memory.
_EXPORT_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """One stored device message, as received (the payload is its stored text)."""

    resident_id: str
    device_id: str
    kind: EventKind  # only messages that parsed are stored, so the column holds these alone
    payload: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class SentSms:
    """One SMS outbox row that was not withdrawn."""

    recipient: str
    role: str | None
    resident_id: str | None
    alert_id: str | None
    kind: str | None
    stage: str | None
    body: str
    created_at: datetime
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class OpenedAlert:
    """One alert, open or closed."""

    id: str
    resident_id: str
    kind: str
    reason: str
    explanation: str | None
    opened_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeviceCommand:
    """One MQTT command the hub queued for a resident's devices (its JSON body as text)."""

    resident_id: str | None
    created_at: datetime
    body: str


def received_events(
    conn: Connection, start: datetime, end: datetime, district: str | None
) -> Iterator[ReceivedEvent]:
    """Events received in [start, end) (of ``district``'s residents), in the hub's order.

    The order is ``received_at``, then the hub's own sequence. Rows are streamed: iterate
    while ``conn`` is open.
    """
    query = (
        select(
            events.c.resident_id,
            events.c.device_id,
            events.c.kind,
            events.c.payload,
            events.c.received_at,
        )
        .where(events.c.received_at >= start, events.c.received_at < end)
        .order_by(events.c.received_at, events.c.seq)
    )
    if district is not None:
        query = query.join(residents, residents.c.id == events.c.resident_id).where(
            residents.c.district == district
        )
    result = conn.execution_options(yield_per=_EXPORT_CHUNK).execute(query)
    for row in result:
        yield ReceivedEvent(row.resident_id, row.device_id, row.kind, row.payload, row.received_at)


def sms_sent(conn: Connection) -> list[SentSms]:
    """The SMS outbox rows not withdrawn, in the order they were written."""
    rows = conn.execute(
        select(
            outbox.c.recipient,
            outbox.c.role,
            outbox.c.resident_id,
            outbox.c.alert_id,
            outbox.c.kind,
            outbox.c.stage,
            outbox.c.body,
            outbox.c.created_at,
            outbox.c.next_attempt_at,
        )
        .where(outbox.c.channel == "sms", outbox.c.state != "withdrawn")
        .order_by(outbox.c.id)
    )
    return [
        SentSms(
            recipient=row.recipient,
            role=row.role,
            resident_id=row.resident_id,
            alert_id=row.alert_id,
            kind=row.kind,
            stage=row.stage,
            body=row.body,
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at,
        )
        for row in rows
    ]


def alerts_opened(conn: Connection) -> list[OpenedAlert]:
    """Every alert, in the order they were opened."""
    rows = conn.execute(
        select(
            alerts.c.id,
            alerts.c.resident_id,
            alerts.c.kind,
            alerts.c.reason,
            alerts.c.explanation,
            alerts.c.opened_at,
            alerts.c.resolved_at,
        ).order_by(alerts.c.opened_at, alerts.c.id)
    )
    return [
        OpenedAlert(
            id=row.id,
            resident_id=row.resident_id,
            kind=row.kind,
            reason=row.reason,
            explanation=row.explanation,
            opened_at=row.opened_at,
            resolved_at=row.resolved_at,
        )
        for row in rows
    ]


def device_commands(conn: Connection) -> list[DeviceCommand]:
    """The commands queued to residents' devices (``anbu/v1/…/cmd``), in the order written."""
    rows = conn.execute(
        select(outbox.c.resident_id, outbox.c.created_at, outbox.c.body)
        .where(outbox.c.channel == "mqtt", outbox.c.recipient.like("anbu/v1/%/cmd"))
        .order_by(outbox.c.id)
    )
    return [DeviceCommand(row.resident_id, row.created_at, row.body) for row in rows]
