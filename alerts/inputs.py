"""What the escalation core is told: resident evidence, device health, operators' work, time.

Plain frozen values. The hub builds them from protocol events and API calls; the core
never sees MQTT or HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# The vocabulary is protocol's (defined once there); re-exported for the core's importers.
from protocol.models import VitalKind
from protocol.vocab import ContactRole as Role
from protocol.vocab import DeviceKind


@dataclass(frozen=True, slots=True)
class RegisterDevice:
    """A device was registered for the resident (or its kind changed)."""

    device: str
    kind: DeviceKind


@dataclass(frozen=True, slots=True)
class Activity:
    """Evidence that the resident is up and about, at ``at`` by the device clock.

    ``count``: how many signals the device folded into this one (the protocol's ``count``).
    """

    device: str
    at: datetime
    source: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class SensorReport:
    """One sensor behind a gateway as its heartbeat tells it (the protocol's SensorHealth,
    only what the core decides on): its main signal, and since when that signal has been on
    (``water_leak``: wet), ``None`` when it is off."""

    name: str
    signal: str | None = None
    active_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The device is alive; expect the next one within ``interval_s``. Not resident activity.

    ``sensing=False``: alive but blind (its sensor gateway is down), see
    :mod:`alerts.sensing`. ``sensors``: each sensor behind it, ``None`` when the heartbeat
    does not say.
    """

    device: str
    at: datetime
    interval_s: int
    sensing: bool = True
    sensors: tuple[SensorReport, ...] | None = None


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """The retained ``status`` topic: online on connect, offline as the Last Will."""

    device: str
    at: datetime
    online: bool


@dataclass(frozen=True, slots=True)
class Emergency:
    """The resident asked for help or a fall was detected; ``cancel_of`` takes one back."""

    device: str
    at: datetime
    event_id: str
    trigger: str
    cancel_of: str | None = None


@dataclass(frozen=True, slots=True)
class CheckinAnswer:
    """The resident's answer to a check-in command; ``answered`` is also activity."""

    device: str
    at: datetime
    request_id: str
    answered: bool


@dataclass(frozen=True, slots=True)
class VitalReading:
    """A reading from a home health device, in the protocol's units (mg/dL, mmHg, kg, bpm, %).

    ``value`` is the number; for ``blood_pressure`` it is the systolic pressure and
    ``diastolic`` the diastolic one. ``event_id`` names the reading on its device. A reading
    is not resident activity (see :func:`alerts.engine.vital_reading`).
    """

    device: str
    at: datetime
    event_id: str
    kind: VitalKind
    value: float
    diastolic: float | None = None


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """Someone took an alert on (control centre from the board, guardian from a link)."""

    alert_id: str
    by: str
    role: Role


@dataclass(frozen=True, slots=True)
class Resolve:
    """Someone closed an alert with an outcome (false_alarm, resolved_by_phone, ...)."""

    alert_id: str
    by: str
    outcome: str


@dataclass(frozen=True, slots=True)
class RecordStep:
    """A control-centre step on an alert: called_resident, no_answer, dispatched, called_119."""

    alert_id: str
    by: str
    step: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Tick:
    """Time has passed: fire whatever is due at ``now``."""


Input = (
    RegisterDevice
    | Activity
    | Heartbeat
    | DeviceStatus
    | Emergency
    | CheckinAnswer
    | VitalReading
    | Acknowledge
    | Resolve
    | RecordStep
    | Tick
)
