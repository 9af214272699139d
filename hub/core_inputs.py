"""From wire events to the escalation core's inputs: what each protocol message means.

Time, the rule: a device's ``ts`` goes to the core moved by the hub's **shift** (how far the
hub's clock is from its devices', measured from their live heartbeats by
:class:`hub.clock_check.DeviceClocks`; zero while the hub's clock agrees with them), so
every time the core compares is on the hub's clock; the core then takes a time after
``now`` (its arrival) as ``now``. So activity counts as seen at
``min(ts + shift, arrival)``:

* hub clock 1 h slow: a live message's ``ts`` looks 1 h ahead, ``ts + shift`` is its
  arrival, and so is the capped ``ts`` even before a shift is known: seen now;
* hub clock 13 h fast: a live message's ``ts`` looks 13 h old; ``min(ts, arrival)`` alone
  would page its guardian; ``ts + shift`` is its arrival: seen now;
* a buffered message (an edge's outbox after an outage) keeps its age either way: it says
  the resident was up then, not now, and never hides a silence; arrival alone would.

Emergencies are paged on arrival whatever their time (:mod:`protocol.parse`); their ``at``
only dates the alert. Device time stays in the stored event (``ts``) and payload.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerts.inputs import (
    Activity,
    CheckinAnswer,
    DeviceStatus,
    Emergency,
    Heartbeat,
    Input,
    SensorReport,
    VitalReading,
)
from protocol import BloodPressure, Event


def to_input(event: Event, now: datetime, shift: timedelta = timedelta(0)) -> Input | None:
    """The core input for ``event``, or ``None`` when it is stored but decides nothing.

    ``now``: when it arrived; ``shift``: the hub's clock minus its devices' (module docstring).
    """
    message: Any = event.message
    device = event.device
    at = message.ts + shift
    if event.kind == "activity":
        return Activity(device=device, at=at, source=message.source, count=message.count or 1)
    if event.kind == "heartbeat":
        return _heartbeat(device, message, at, shift)
    if event.kind == "emergency":
        return Emergency(
            device=device,
            at=at,
            event_id=message.id,
            trigger=message.trigger,
            cancel_of=message.cancel_of,
        )
    if event.kind == "checkin":
        return CheckinAnswer(
            device=device, at=at, request_id=message.request_id, answered=message.answered
        )
    if event.kind == "status":
        return DeviceStatus(device=device, at=min(at, now), online=message.state == "online")
    return _vital_reading(device, message, at) if event.kind == "vitals" else None


def _heartbeat(device: str, message: Any, at: datetime, shift: timedelta) -> Heartbeat:
    """A heartbeat, with whether it sees (absent: it does) and its sensors when it lists them;
    a sensor's ``active_since`` is on the device's clock like ``ts``."""
    sensors = None
    if message.sensors is not None:
        sensors = tuple(
            SensorReport(
                name=s.name,
                signal=s.signal,
                active_since=None if s.active_since is None else s.active_since + shift,
            )
            for s in message.sensors
        )
    return Heartbeat(
        device=device,
        at=at,
        interval_s=message.interval_s,
        sensing=message.sensing is not False,
        sensors=sensors,
    )


def _vital_reading(device: str, message: Any, at: datetime) -> VitalReading:
    """A vitals payload as the core's reading: blood pressure splits into its two numbers."""
    value = message.value
    if isinstance(value, BloodPressure):
        return VitalReading(
            device=device,
            at=at,
            event_id=message.id,
            kind=message.kind,
            value=value.systolic,
            diastolic=value.diastolic,
        )
    return VitalReading(
        device=device, at=at, event_id=message.id, kind=message.kind, value=float(value)
    )
