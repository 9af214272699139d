"""Request bodies of the HTTP API, validated before anything reaches the hub's core."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from protocol.vocab import (
    DISTRICT_ROLES,
    ID_REGEX,
    CentreStep,
    ContactRole,
    DeviceKind,
    Outcome,
    StaffRole,
    normalise_phone,
)

IdStr = Field(pattern=ID_REGEX)
# The characters the API takes (digits, dashes, a leading +); _e164 then refuses with a clear
# message what is not a Korean number. The document shows exactly the numbers _e164 keeps
# (0 then 8-10 digits not starting with 0, or +82 with an optional trunk 0), so no
# schema-valid number is refused and the validator's words stay.
PHONE_CHARS = r"^\+?[0-9-]{6,20}$"
PHONE_PATTERN = r"^(\+-*8-*2-*(0-*)?|-*0-*)[1-9](-*[0-9]){7,9}-*$"
Phone = Field(pattern=PHONE_CHARS, max_length=20, json_schema_extra={"pattern": PHONE_PATTERN})


def _e164(value: str | None) -> str | None:
    """Numbers are kept in E.164, as the roster import keeps them, so one person typed two
    ways is one number (deduplication, a guardian's reply matched to their page)."""
    if value is None:
        return None
    e164 = normalise_phone(value)
    if e164 is None:
        raise ValueError("not a Korean phone number (e.g. 010-1234-5678)")
    return e164


_SECONDS = r"\d{1,9}(\.\d{1,6})?S"
_TIME_PART = rf"T(\d{{1,6}}H(\d{{1,7}}M)?({_SECONDS})?|\d{{1,7}}M({_SECONDS})?|{_SECONDS})"
_DURATION_PATTERN = rf"^P(\d{{1,5}}D({_TIME_PART})?|{_TIME_PART})$"
_DURATION = Field(
    default=None,
    # At least one part ("P" and "PT" are not durations), few enough digits for a timedelta.
    pattern=_DURATION_PATTERN,
    description="ISO 8601 duration, e.g. PT12H or PT90S; longer than zero, at most 30 days",
)


def _bound(most: float, unit: str) -> Any:
    return Field(default=None, ge=0, le=most, allow_inf_nan=False, description=unit)


class PolicyFields(BaseModel):
    """Fields of the escalation policy a resident may override (defaults: alerts.policy)."""

    model_config = ConfigDict(extra="forbid")

    checkin_after: str | None = _DURATION
    guardian_after: str | None = _DURATION
    control_center_after: str | None = _DURATION
    emergency_ack_within: str | None = _DURATION
    ack_resolve_within: str | None = _DURATION
    device_offline_after_heartbeats: int | None = Field(default=None, ge=1, le=100)
    monitoring_lost_after: str | None = _DURATION
    away_until: datetime | None = Field(
        default=None, description="Until when inactivity rules pause (hospital stay)"
    )
    inactivity_rule: Literal["fixed", "routine"] | None = Field(
        default=None,
        description="fixed: silence against fixed durations; routine: against the resident's "
        "own learned routine, the fixed durations as the outer bound",
    )
    routine_learning_days: int | None = Field(default=None, ge=1, le=90)
    routine_checkin_odds: float | None = Field(
        default=None, ge=2, le=1e6, allow_inf_nan=False, description="ask at a 1-in-N silence"
    )
    routine_alert_odds: float | None = Field(
        default=None, ge=2, le=1e9, allow_inf_nan=False, description="alert at 1 in N"
    )
    routine_checkin_wait: str | None = _DURATION
    routine_urgency: float | None = Field(
        default=None,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="share of the routine rule's evidence (log-odds) a long silence's waking "
        "hours stand in for by the control centre's time (0: never)",
    )
    guardian_night: str | None = Field(
        default=None,
        pattern=r"^\d\d:\d\d-\d\d:\d\d$",
        description="guardians' night, e.g. 23:00-07:00: without evidence of harm no "
        "non-emergency SMS to a guardian in it",
    )
    trend_watch: bool | None = Field(
        default=None, description="lasting changes go to the official's work list, never SMS"
    )
    # Vital-sign bounds (alerts/vitals.py): beyond *_low/*_high out of range (health centre),
    # beyond *_critical_* critical (control centre at once).
    glucose_low: float | None = _bound(1000, "mg/dL")
    glucose_high: float | None = _bound(1000, "mg/dL")
    glucose_critical_low: float | None = _bound(1000, "mg/dL")
    glucose_critical_high: float | None = _bound(1000, "mg/dL")
    systolic_low: float | None = _bound(300, "mmHg")
    systolic_high: float | None = _bound(300, "mmHg")
    systolic_critical_low: float | None = _bound(300, "mmHg")
    systolic_critical_high: float | None = _bound(300, "mmHg")
    diastolic_high: float | None = _bound(300, "mmHg")
    diastolic_critical_high: float | None = _bound(300, "mmHg")
    spo2_low: float | None = _bound(100, "%")
    spo2_critical_low: float | None = _bound(100, "%")
    heart_rate_low: float | None = _bound(300, "bpm")
    heart_rate_high: float | None = _bound(300, "bpm")
    heart_rate_critical_low: float | None = _bound(300, "bpm")
    heart_rate_critical_high: float | None = _bound(300, "bpm")
    weight_change_kg: float | None = Field(
        default=None,
        gt=0,
        le=50,
        allow_inf_nan=False,
        description="kg gained or lost against about a week before that is out of range",
    )

    def overrides(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class ResidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = IdStr
    name: str = Field(min_length=1, max_length=100)
    district: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(
        default=None, pattern=PHONE_CHARS, json_schema_extra={"pattern": PHONE_PATTERN}
    )
    address: str | None = Field(default=None, max_length=300)
    policy: PolicyFields | None = None

    _phone = field_validator("phone")(_e164)


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = IdStr
    kind: DeviceKind


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: ContactRole
    name: str = Field(min_length=1, max_length=100)
    phone: str = Phone
    quiet_hours: str | None = Field(
        default=None,
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="Local time window (e.g. 22:00-07:00) when routine messages wait",
    )
    backup: bool = Field(
        default=False, description="Paged only when a message to another guardian fails"
    )

    _phone = field_validator("phone")(_e164)


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: PolicyFields = Field(description="Fields to change; ISO 8601 durations")


class SmsReplyIn(BaseModel):
    """A reply to an Anbu SMS, as the provider's reply webhook forwards it."""

    model_config = ConfigDict(extra="ignore")

    sender: str = Field(alias="from", pattern=r"^\+?[0-9-]{6,20}$")
    text: str = Field(min_length=1, max_length=2000)


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str = Field(default="관제센터", min_length=1, max_length=100)


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str = Field(default="관제센터", min_length=1, max_length=100)
    outcome: Outcome
    # Filed on the timeline as a ``note`` step just before the resolve, in the same request.
    note: str | None = Field(default=None, max_length=500)


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str = Field(default="관제센터", min_length=1, max_length=100)
    step: CentreStep
    note: str | None = Field(default=None, max_length=1000)


class UserIn(BaseModel):
    # An official or a nurse works for one district: the document says so as the route does.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "if": {
                "properties": {"role": {"enum": list[Any](sorted(DISTRICT_ROLES))}},
                "required": ["role"],
            },
            "then": {"required": ["district"], "properties": {"district": {"type": "string"}}},
        },
    )

    name: str = Field(min_length=1, max_length=100)
    role: StaffRole
    district: str | None = Field(default=None, min_length=1, max_length=100)
