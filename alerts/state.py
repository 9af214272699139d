"""What the escalation core remembers about one resident between decisions.

Owns :class:`ResidentState` and its parts. The hub stores ``state.model_dump_json()`` in one
column and reloads it with ``ResidentState.model_validate_json``; everything here is plain
JSON-able data, all times aware (the engine writes UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from alerts.policy import Policy
from alerts.routine import Routine
from alerts.timers import TimerWatch
from alerts.trends import Trends
from alerts.vitals import DailyWeight
from protocol.vocab import AlertKind, DeviceKind, Stage
from protocol.vocab import ContactRole as Role

AlertStatus = Literal["open", "acknowledged"]

# Mutable models on purpose: the engine works on a deep copy it owns, and mypy checks
# attribute assignments, which ``model_copy(update={...})`` would not.
_CONFIG = ConfigDict(extra="forbid")


class DeviceState(BaseModel):
    """One registered device and whether it is reachable."""

    model_config = _CONFIG

    kind: DeviceKind
    last_seen_at: AwareDatetime | None = None
    """When the hub last received anything from the device (receipt time, not device time)."""
    interval_s: int | None = Field(default=None, gt=0)
    online: bool = True
    offline_since: AwareDatetime | None = None
    sensing: bool = True
    """False while the device says it cannot observe the home (its sensor gateway is down):
    it counts as offline, and only a heartbeat that sees again brings it back
    (:mod:`alerts.sensing`)."""


class AlertState(BaseModel):
    """An alert that is open or acknowledged; resolved alerts leave the state."""

    model_config = _CONFIG

    alert_id: str
    kind: AlertKind
    stage: Stage
    state: AlertStatus = "open"
    opened_at: AwareDatetime
    basis_at: AwareDatetime | None = None
    """Inactivity: the last-activity time T; emergency: the event time; monitoring_lost: when
    the last device went offline."""
    policy: Policy
    """The resident's policy when the alert opened; escalation follows this copy only."""
    told: list[Role] = Field(default_factory=list)
    """Roles already notified (or queued for a digest), in order, without repeats."""
    acknowledged_by: str | None = None
    acknowledged_at: AwareDatetime | None = None
    acknowledged_role: Role | None = None
    """Who took it on decides what acknowledging holds back (see ``ack_resolve_overdue``)."""
    guardian_checking: list[str] = Field(default_factory=list)
    """Emergency: guardians who said they are checking (보호자 확인 중). That holds nothing at
    the centre: the alert stays open, its answer timer and re-alerts run until the centre
    acknowledges (접수)."""
    steps_taken: list[str] = Field(default_factory=list)
    """The centre's one-time steps already recorded (:data:`ONE_TIME_STEPS`): a second click
    on "119 신고" is the same call, not another."""
    next_realert_at: AwareDatetime | None = None
    realerts: int = 0
    answer_due_at: AwareDatetime | None = None
    """Emergency: when the centre's acknowledgement (접수) is due; None once it has come.
    Unanswered past it, the supervisor is told (:mod:`alerts.emergency`)."""
    supervisor_misses: int = 0
    """Emergency: how many times the supervisor was told the centre missed its answer."""
    supervisor_waiting: bool = False
    """Emergency: the supervisor was told of a miss and not yet that the centre answered."""
    cancel_requested: bool = False
    own_only: bool = False
    """Inactivity raised on the resident's own signals while others (motion, a radio on a
    timer) went on: only one of the resident's own signals closes it."""

    @model_validator(mode="after")
    def _answer_due_of_an_older_state(self) -> AlertState:
        """An emergency saved before ``answer_due_at`` existed and still re-alerting is still
        unanswered: its answer was due at its next re-alert, or (the old rule told the
        supervisor at every re-alert) the supervisor already knows. New states never need
        this: re-alerts run only while an answer is due."""
        if self.kind != "emergency" or self.next_realert_at is None or self.answer_due_at:
            return self
        if "supervisor" in self.told:
            self.answer_due_at = self.opened_at
            self.supervisor_misses = max(self.supervisor_misses, 1)
            self.supervisor_waiting = True
        else:
            self.answer_due_at = self.next_realert_at
        return self


class ResidentState(BaseModel):
    """Everything the engine needs to decide for one resident."""

    model_config = _CONFIG

    resident: str
    policy: Policy
    monitoring_since: AwareDatetime
    """When monitoring began; the inactivity baseline until any activity is seen."""
    last_activity_at: AwareDatetime | None = None
    last_own_activity_at: AwareDatetime | None = None
    """The last of the resident's own signals (voice, phone, door, check-in answer)."""
    last_source: str | None = None
    """The source of the latest sign of life (a door last: probably gone out)."""
    last_motion_at: AwareDatetime | None = None
    """The latest motion any sensor saw, a pet's too (:mod:`alerts.unattended`)."""
    inactivity_reset_at: AwareDatetime | None = None
    """When a person last closed an inactivity alert by hand; counting restarts there."""
    checkin_sent_for: AwareDatetime | None = None
    """The inactivity basis T a check-in was already sent (or skipped) for."""
    asked: list[AwareDatetime] = Field(default_factory=list)
    """When the routine rule asked "괜찮으세요?" during the current silence (at most two)."""
    checkins_asked: float = 2.0
    checkins_missed: float = 0.2
    """The routine rule's check-ins so far and how many went unanswered, exponentially
    weighted (a prior of one in ten missed): how much an unanswered one says for this
    resident (see :func:`alerts.inactivity.unanswered_evidence`)."""
    checkin_open: bool = False
    """The last routine check-in still waits for its answer."""
    reconnected_at: AwareDatetime | None = None
    """When a device last came back online: its outbox replays old signals for a while."""
    blackout_ended_at: AwareDatetime | None = None
    """When the first device came back after every device had been offline: the routine rule
    counts a silence from there, since the hours without data say nothing."""
    monitoring_lost_for: AwareDatetime | None = None
    sight_back_at: AwareDatetime | None = None
    """When a blind device saw again after the home was dark: the fixed rule waits for its
    outbox to replay before a silence held meanwhile reaches a guardian."""
    wet: dict[str, AwareDatetime] = Field(default_factory=dict)
    """Water sensors now wet, ``"device/sensor"`` -> since when (:mod:`alerts.sensing`)."""
    water_told: list[str] = Field(default_factory=list)
    """The last few wet spells already alerted on (``"device/sensor|since"``), oldest first,
    so a spell is paged once however long it stays wet."""
    """The all-offline moment a monitoring_lost alert was already raised for."""
    closed_emergencies: list[str] = Field(default_factory=list)
    """Ids of the last few closed emergency alerts, oldest first, so a late redelivery of the
    same emergency event (at-least-once MQTT, an edge outbox replay) does not page again."""
    weights: list[DailyWeight] = Field(default_factory=list)
    """The first weight of each of the last 14 local days, oldest first, for the weight-change
    rule (:func:`alerts.vitals.record_weight` keeps it that short)."""
    routine: Routine = Field(default_factory=Routine)
    """The resident's own routine, learned from every sign of life (:mod:`alerts.routine`)."""
    trends: Trends = Field(default_factory=Trends)
    """Slow changes against the resident's own baseline (:mod:`alerts.trends`)."""
    timers: TimerWatch = Field(default_factory=TimerWatch)
    """How each appliance's day begins, to tell a timer from the resident
    (:mod:`alerts.timers`; the routine rule only)."""
    devices: dict[str, DeviceState] = Field(default_factory=dict)
    alerts: dict[str, AlertState] = Field(default_factory=dict)

    @classmethod
    def new(cls, resident: str, policy: Policy, now: datetime) -> ResidentState:
        """A freshly registered resident: no devices, no alerts, watched from ``now``."""
        if now.utcoffset() is None:
            msg = "now must be an aware datetime"
            raise ValueError(msg)
        return cls(resident=resident, policy=policy, monitoring_since=now.astimezone(UTC))

    def clone(self) -> ResidentState:
        """A copy that shares nothing mutable with this one, for the engine to work on.

        Datetimes and the frozen Policy are immutable and shared; every model and list is
        copied. Several times faster than ``model_copy(deep=True)``, which rebuilds every
        datetime. Add any new mutable field here.
        """
        return self.model_copy(
            update={
                "closed_emergencies": list(self.closed_emergencies),
                "weights": list(self.weights),
                "asked": list(self.asked),
                "wet": dict(self.wet),
                "water_told": list(self.water_told),
                "routine": self.routine.copy_mutable(),
                "trends": self.trends.copy_mutable(),
                "timers": self.timers.copy_mutable(),
                "devices": {key: dev.model_copy() for key, dev in self.devices.items()},
                "alerts": {
                    key: alert.model_copy(
                        update={
                            "told": list(alert.told),
                            "guardian_checking": list(alert.guardian_checking),
                            "steps_taken": list(alert.steps_taken),
                        }
                    )
                    for key, alert in self.alerts.items()
                },
            }
        )
