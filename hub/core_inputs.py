"""From wire events to the escalation core's inputs: what each protocol message means."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts.inputs import (
    Activity,
    CheckinAnswer,
    DeviceStatus,
    Emergency,
    Heartbeat,
    Input,
    VitalReading,
)
from protocol import BloodPressure, Event


def to_input(event: Event, now: datetime) -> Input | None:
    """The core input for ``event``, or ``None`` when it is stored but decides nothing."""
    message: Any = event.message
    device = event.device
    if event.kind == "activity":
        return Activity(
            device=device, at=message.ts, source=message.source, count=message.count or 1
        )
    if event.kind == "heartbeat":
        return Heartbeat(device=device, at=message.ts, interval_s=message.interval_s)
    if event.kind == "emergency":
        return Emergency(
            device=device,
            at=message.ts,
            event_id=message.id,
            trigger=message.trigger,
            cancel_of=message.cancel_of,
        )
    if event.kind == "checkin":
        return CheckinAnswer(
            device=device, at=message.ts, request_id=message.request_id, answered=message.answered
        )
    if event.kind == "status":
        return DeviceStatus(
            device=device, at=min(message.ts, now), online=message.state == "online"
        )
    return _vital_reading(device, message) if event.kind == "vitals" else None


def _vital_reading(device: str, message: Any) -> VitalReading:
    """A vitals payload as the core's reading: blood pressure splits into its two numbers."""
    value = message.value
    if isinstance(value, BloodPressure):
        return VitalReading(
            device=device,
            at=message.ts,
            event_id=message.id,
            kind=message.kind,
            value=value.systolic,
            diastolic=value.diastolic,
        )
    return VitalReading(
        device=device, at=message.ts, event_id=message.id, kind=message.kind, value=float(value)
    )
