"""What the escalation core decides: plain values the hub carries out after committing.

Every action that reaches a person carries a ``step`` so the hub can build an idempotency
key ``(alert_id, step, recipient)``: replaying the same decision never pages twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from protocol.vocab import RESIDENT_WAS_FINE, AlertKind, Stage
from protocol.vocab import ContactRole as Role

MessageKey = Literal[
    "inactivity_guardian",
    "inactivity_control_center",
    "inactivity_official",
    "inactivity_guardian_reminder",
    "inactivity_unresolved_after_ack",
    "activity_resumed",
    "emergency_alert",
    "emergency_realert",
    "emergency_supervisor",
    "emergency_supervisor_answered",
    "emergency_official",
    "emergency_official_closed",
    "emergency_official_unanswered",
    "emergency_cancel_requested",
    "emergency_closed",
    "monitoring_lost",
    "monitoring_restored",
    "vital_health_center",
    "vital_critical_control_center",
    "vital_critical_health_center",
    "water_running",
    "trend_activity_drop",
    "trend_sleep_shift",
    "trend_restless_nights",
]
"""``trend_*``: lines of an official's digest only (:mod:`alerts.trends`), never an SMS."""


@dataclass(frozen=True, slots=True)
class SendCheckin:
    """Ask the resident through each listed speaker whether they are all right."""

    devices: tuple[str, ...]
    request_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OpenAlert:
    alert_id: str
    kind: AlertKind
    stage: Stage
    reason: str
    """A short code (``guardian_after``, ``routine``, ``voice`` …) for integrations."""
    explanation: str | None = None
    """Why, in plain Korean, for staff on the board and the timeline (inactivity alerts)."""


@dataclass(frozen=True, slots=True)
class ChangeStage:
    alert_id: str
    kind: AlertKind
    stage: Stage
    reason: str


@dataclass(frozen=True, slots=True)
class AcknowledgeAlert:
    alert_id: str
    kind: AlertKind
    by: str
    role: Role


@dataclass(frozen=True, slots=True)
class ResolveAlert:
    alert_id: str
    kind: AlertKind
    reason: str
    by: str | None = None
    outcome: str | None = None

    @property
    def resident_fine(self) -> bool:
        """The alert ended because the resident was found well (their own activity, or
        whoever closed it said so): a guardian's SMS still held about it need not go."""
        return self.reason == "activity_resumed" or self.outcome in RESIDENT_WAS_FINE


@dataclass(frozen=True, slots=True, kw_only=True)
class Notify:
    """Send ``message`` to every contact of ``role`` now."""

    alert_id: str
    kind: AlertKind
    stage: Stage
    role: Role
    message: MessageKey
    step: str
    event_at: datetime | None = None
    """The moment the message speaks of (``messages.render``'s ``at``); the engine sets it."""
    urgent: bool = False
    """Evidence of harm (a silence begun in the resident's waking hours): a guardian's quiet
    hours do not hold it. Emergencies are never held either way."""
    hold_until_latest: datetime | None = None
    """If a guardian's quiet hours hold it, never past this (the control centre's time)."""
    not_before: datetime | None = None
    """A non-urgent message to a guardian in the policy's ``guardian_night`` waits until
    then (the night's end, never past ``hold_until_latest``)."""


@dataclass(frozen=True, slots=True)
class QueueDigest:
    """Hold ``message`` for ``role``'s digest at the next working-day start.

    For the roles paged only in working hours: officials and the health centre.
    """

    alert_id: str
    kind: AlertKind
    stage: Stage
    role: Role
    message: MessageKey
    step: str
    deliver_at: datetime
    event_at: datetime | None = None
    """The moment the message speaks of (``messages.render``'s ``at``); the engine sets it."""


@dataclass(frozen=True, slots=True)
class RecordTimeline:
    """Note something on the alert's timeline (a cancel request, an operator's step)."""

    alert_id: str
    what: str
    by: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class NoteTrend:
    """A lasting change in the resident's routine for the district official's work list and
    next digest (:mod:`alerts.trends`); never an SMS of its own, never to a guardian."""

    finding_id: str
    kind: str
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class MarkDevice:
    """A device went offline or came back; no one is paged for this alone."""

    device: str
    online: bool
    since: datetime


Action = (
    SendCheckin
    | OpenAlert
    | ChangeStage
    | AcknowledgeAlert
    | ResolveAlert
    | Notify
    | QueueDigest
    | RecordTimeline
    | NoteTrend
    | MarkDevice
)
