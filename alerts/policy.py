"""Escalation policy: the per-resident timings of check-ins, alerts and device health.

Owns the validated :class:`Policy` value and its defaults (``DEFAULT_POLICY``, the table in
the domain notes). The resident's vital-sign ranges are policy fields too, declared and
explained in :mod:`alerts.vitals` (:class:`~alerts.vitals.VitalRanges`). An open alert carries
a copy of the policy it opened under, so a policy edit never changes an escalation that is
already running.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal, Self

from pydantic import (
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from alerts.night import parse_window
from alerts.vitals import VitalRanges
from protocol.vocab import ContactRole

MAX_DURATION = timedelta(days=30)
"""The longest any policy duration may be; longer would mean nobody is watching."""

_DURATION_FIELDS = (
    "checkin_after",
    "guardian_after",
    "control_center_after",
    "emergency_ack_within",
    "ack_resolve_within",
    "monitoring_lost_after",
    "routine_checkin_wait",
    "water_running_after",
)

InactivityRule = Literal["fixed", "routine"]
"""``fixed``: silence counted against fixed durations; ``routine``: against the resident's own
learned routine (:mod:`alerts.inactivity`), the fixed durations staying the outer bound."""


class Policy(VitalRanges):
    """When each escalation step happens for one resident, and the resident's vital ranges.

    Durations read and write as ISO 8601 (``"PT12H"``). The control-centre stage can never be
    switched off: ``checkin_after < guardian_after < control_center_after`` always holds.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    checkin_after: timedelta = timedelta(hours=11)
    guardian_after: timedelta = timedelta(hours=12)
    control_center_after: timedelta = timedelta(hours=24)
    emergency_ack_within: timedelta = timedelta(seconds=60)
    ack_resolve_within: timedelta = timedelta(hours=2)
    device_offline_after_heartbeats: int = Field(default=3, ge=1, le=100)
    monitoring_lost_after: timedelta = timedelta(hours=2)
    away_until: datetime | None = None
    inactivity_rule: InactivityRule = "fixed"
    routine_learning_days: int = Field(default=14, ge=1, le=90)
    """Days of the resident's own life learned before the routine rule decides; the fixed
    rule applies until then."""
    routine_checkin_odds: float = Field(default=20, ge=2, le=1e6)
    """Ask "괜찮으세요?" once a silence is this unlikely for the resident (1 in N)."""
    routine_alert_odds: float = Field(default=1000, ge=2, le=1e9)
    """Tell the guardian once a silence (with unanswered check-ins) is this unlikely."""
    routine_checkin_wait: timedelta = timedelta(minutes=20)
    """How long a routine check-in waits for its answer before the next step."""
    routine_urgency: float = Field(default=0.7, ge=0, le=1, allow_inf_nan=False)
    """How much of the routine rule's evidence (in nats, the log of its odds) the waking hours
    of a long silence stand in for: the evidence it waits for falls with each waking hour, by
    this share of itself by the control centre's time; 0.7 turns 1 in 1000 into about 1 in 8
    (1000^0.3) by then (0: never; see :mod:`alerts.routine`)."""
    guardian_night: str | None = None
    """The guardians' night, e.g. ``"23:00-07:00"`` (local): without evidence of harm no
    inactivity step reaches a guardian in it and other non-emergency messages to guardians
    wait for its end, never past the control centre's time. None: no such night (a
    guardian's own quiet hours still apply in the hub)."""
    trend_watch: bool = False
    """Compare each week with the resident's own baseline and put lasting changes on the
    district official's work list (:mod:`alerts.trends`); never an SMS."""
    water_running_after: timedelta = timedelta(minutes=30)
    """A water sensor wet this long is water left running (:mod:`alerts.sensing`)."""
    water_running_to: tuple[ContactRole, ...] = ("guardian",)
    """Who hears of water left running (officials and the health centre in working hours);
    it is on the board either way. Empty: the board only."""

    @field_validator(*_DURATION_FIELDS)
    @classmethod
    def _duration_in_range(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            msg = f"must be longer than zero (got {value})"
            raise ValueError(msg)
        if value > MAX_DURATION:
            msg = f"must be at most 30 days (got {value})"
            raise ValueError(msg)
        return value

    @field_serializer(*_DURATION_FIELDS, when_used="json")
    def _duration_as_iso(self, value: timedelta) -> str:
        return iso_duration(value)

    @field_validator("guardian_night")
    @classmethod
    def _night_window(cls, value: str | None) -> str | None:
        if value is not None:
            parse_window(value, "guardian_night")
        return value

    @field_validator("away_until")
    @classmethod
    def _away_until_aware(cls, value: datetime | None) -> datetime | None:
        # A naive time would be read in whatever zone the hub runs in; refuse to guess.
        if value is not None and value.utcoffset() is None:
            msg = "must include a time zone, e.g. 2026-11-30T09:00:00+09:00"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _stages_in_order(self) -> Self:
        if not self.checkin_after < self.guardian_after:
            msg = (
                f"checkin_after ({self.checkin_after}) must be shorter than "
                f"guardian_after ({self.guardian_after})"
            )
            raise ValueError(msg)
        if self.routine_alert_odds < self.routine_checkin_odds:
            msg = (
                f"routine_alert_odds ({self.routine_alert_odds:g}) must be at least "
                f"routine_checkin_odds ({self.routine_checkin_odds:g}): ask before telling"
            )
            raise ValueError(msg)
        if not self.guardian_after < self.control_center_after:
            msg = (
                f"guardian_after ({self.guardian_after}) must be shorter than "
                f"control_center_after ({self.control_center_after}); "
                "the control-centre stage cannot be switched off"
            )
            raise ValueError(msg)
        return self

    def with_overrides(self, overrides: Mapping[str, object]) -> Policy:
        """This policy with some fields replaced, validated as a whole.

        Raises ``ValueError`` (pydantic's ``ValidationError`` is one) naming any unknown field
        or any value that breaks the rules.
        """
        unknown = sorted(set(overrides) - set(type(self).model_fields))
        if unknown:
            msg = f"unknown policy field(s): {', '.join(unknown)}"
            raise ValueError(msg)
        merged: dict[str, object] = {**self.model_dump(), **overrides}
        return type(self).model_validate(merged)


def iso_duration(value: timedelta) -> str:
    """ISO 8601 in hours, minutes and seconds: ``PT24H`` (as policy files write it), not ``P1D``."""
    micros = value // timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    seconds, micro = divmod(abs(micros), 1_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if micro:
        text += f"{secs}.{micro:06d}".rstrip("0") + "S"
    elif secs or text == "PT":
        text += f"{secs}S"
    return sign + text


DEFAULT_POLICY = Policy()
"""The default escalation policy from the domain notes (11 h / 12 h / 24 h, 60 s, ...)."""
