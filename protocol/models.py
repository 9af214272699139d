"""Payload models of protocol v1: the JSON shapes of PROTOCOL.md as frozen pydantic models.

All models are strict, so a string is never coerced into a number or a boolean (a vendor's
`"count":"3"` is a bug to report, not to guess at). Unknown fields are ignored, so newer
devices may add optional ones. Timestamps must be RFC 3339 with an offset: a naive time
would be read in whatever zone the hub runs in, shifting a resident's day by hours.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from protocol.topics import EventKind
from protocol.vocab import ID_REGEX, AlertKind, Stage

PROTOCOL_VERSION: Final = 1
MAX_TEXT_CHARS: Final = 500
MAX_INTERVAL_S: Final = 86_400
MAX_BUFFER_AGE: Final = timedelta(days=366)
"""How old an event may be when it reaches the hub: an edge keeps what the broker has not
acknowledged for as long as it is cut off, so a year of outage still replays (with each
event's own ``ts``); anything older comes from a clock that lost its setting and is refused
as ``ts_too_old``, kept as a dead letter."""
MAX_COUNT: Final = 2_147_483_647
"""The most signals one activity message may fold together: the largest signed 32-bit
integer, so any vendor's int field holds it and the hub's sums (a day's tally, telemetry's
64-bit fields) cannot overflow. A real device stays far below it: even one signal every
15 ms for the whole buffering horizon (:data:`MAX_BUFFER_AGE`) fits."""
EARLIEST_TS: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""No device clock reads earlier: one that lost its setting restarts at the Unix epoch or
later. Earlier times are refused as ``ts_too_old``, so the hub never computes with a date
near year 1, where converting to UTC or to Korean time overflows."""
LATEST_TS: Final = datetime(9000, 1, 1, tzinfo=UTC)
"""Later times are refused as ``future_ts`` even without the hub's clock to compare with:
far enough from year 9999 that adding a policy's durations to a time never overflows."""

ActivitySource = Literal[
    "voice", "speaker_use", "screen", "call", "motion", "door", "power", "app", "other"
]
EmergencyTrigger = Literal["voice", "button", "fall", "app", "sensor"]
VitalKind = Literal["blood_pressure", "glucose", "weight", "heart_rate", "spo2", "steps"]
VitalUnit = Literal["mmHg", "mg/dL", "kg", "bpm", "%", "steps"]
DeviceState = Literal["online", "offline"]
AlertState = Literal["open", "acknowledged", "resolved"]
AlertStage = Stage

VITAL_UNITS: Final[Mapping[VitalKind, VitalUnit]] = {
    "blood_pressure": "mmHg",
    "glucose": "mg/dL",
    "weight": "kg",
    "heart_rate": "bpm",
    "spo2": "%",
    "steps": "steps",
}

# Seconds are required and the offset is mandatory; `Z` and a space separator are RFC 3339.
# [0-9] rather than \d: \d also matches non-ASCII digits.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _rfc3339(value: object) -> object:
    if isinstance(value, str):
        if _RFC3339.fullmatch(value) is None:
            msg = "must be an RFC 3339 timestamp with an offset, e.g. 2026-11-22T09:15:00+09:00"
            raise ValueError(msg)
        return datetime.fromisoformat(value.upper())
    # A datetime built in Python goes on to AwareDatetime, which still refuses a naive one.
    return value


def _exact_int(value: object) -> object:
    # Literal[1] alone would let `true` and `1.0` through as version 1.
    if isinstance(value, bool) or not isinstance(value, int):
        msg = "must be the integer 1"
        raise ValueError(msg)
    return value


def _within_range(value: datetime) -> datetime:
    # Comparing aware datetimes subtracts their offsets without converting to UTC, so this
    # never overflows, while value.astimezone(UTC) would for year 1 at +14:00.
    if value < EARLIEST_TS:
        raise PydanticCustomError(
            "ts_too_old", "is before {earliest}", {"earliest": EARLIEST_TS.isoformat()}
        )
    if value >= LATEST_TS:
        raise PydanticCustomError(
            "future_ts", "is not before {latest}", {"latest": LATEST_TS.isoformat()}
        )
    return value


# Characters no identifier or text of a device message may hold. NUL is stored by SQLite but
# refused by PostgreSQL, so the two databases would disagree on the message; the rest are
# control characters that no id legitimately carries and that garble logs and screens. Text
# keeps tab, line feed and carriage return (a recognised utterance may hold a line break).
_ID_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
TEXT_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ID_SCHEMA_PATTERN: Final = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
_TEXT_SCHEMA_PATTERN: Final = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"


def _refusing(control: re.Pattern[str]) -> Callable[[str], str]:
    def check(value: str) -> str:
        found = control.search(value)
        if found is not None:
            raise PydanticCustomError(
                "control_chars",
                "holds the control character U+{code} at position {at}",
                {"code": f"{ord(found.group()):04X}", "at": found.start()},
            )
        return value

    return check


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    AfterValidator(_within_range),
    Field(description="RFC 3339 with offset, by the device clock"),
]
Version = Annotated[
    Literal[1], BeforeValidator(_exact_int), Field(description="Protocol version, always 1")
]
# The length first, so a 10,000-character id is refused by its length, not searched.
MessageId = Annotated[
    str,
    Field(min_length=1, max_length=64, json_schema_extra={"pattern": _ID_SCHEMA_PATTERN}),
    AfterValidator(_refusing(_ID_CONTROL)),
]
Text = Annotated[
    str,
    Field(max_length=MAX_TEXT_CHARS, json_schema_extra={"pattern": _TEXT_SCHEMA_PATTERN}),
    AfterValidator(_refusing(TEXT_CONTROL)),
]


def _bounded_count(value: int) -> int:
    if value > MAX_COUNT:
        shown = str(value) if value < 10**30 else f"a {len(str(value))}-digit number"
        raise PydanticCustomError(
            "count_too_large", "is {shown}, at most {most}", {"shown": shown, "most": MAX_COUNT}
        )
    return value


Reading = Annotated[float, Field(ge=0, allow_inf_nan=False)]

# ``maximum`` for the schema only: the validator says it with a reason of its own.
Count = Annotated[
    int, Field(ge=1, json_schema_extra={"maximum": MAX_COUNT}), AfterValidator(_bounded_count)
]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")


class _Common(_Wire):
    v: Version
    id: MessageId = Field(description="Unique per device; the hub drops a repeated (device, id)")
    ts: Timestamp


SENSOR_NAME_CHARS: Final = 64
MAX_SENSORS: Final = 64
SensorName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=SENSOR_NAME_CHARS,
        json_schema_extra={"pattern": _TEXT_SCHEMA_PATTERN},
        description="The sensor's own name in its gateway (a Zigbee2MQTT friendly name)",
    ),
    AfterValidator(_refusing(TEXT_CONTROL)),
]
Signal = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="What the sensor saw, in its gateway's word: occupancy, presence, contact, "
        "water_leak, vibration, action, power ...",
    ),
]
SensingProblem = Literal["gateway_offline", "gateway_silent"]


class Activity(_Common):
    """Evidence that the resident is up and about."""

    source: ActivitySource = Field(description="What the resident did")
    count: Count | None = Field(
        default=None, description="How many such signals were folded into this message"
    )
    sensor: SensorName | None = Field(default=None, description="Which sensor saw it")
    signal: Signal | None = Field(default=None, description="The sensor's own word for it")


class SensorHealth(_Wire):
    """One sensor behind a gateway, as the agent last heard it (in a heartbeat's ``sensors``)."""

    name: SensorName
    signal: Signal | None = Field(default=None, description="Its main signal")
    available: bool | None = Field(
        default=None, description="The gateway's own availability: false = not answering"
    )
    last_seen: Timestamp | None = Field(default=None, description="When it last sent anything")
    battery_pct: int | None = Field(default=None, ge=0, le=100)
    battery_low: bool | None = None
    linkquality: int | None = Field(default=None, ge=0, le=255, description="Zigbee LQI")
    active_since: Timestamp | None = Field(
        default=None,
        description="Its signal has been on since then (water_leak: wet), absent when off",
    )


class Heartbeat(_Common):
    """The device itself is alive. This is not resident activity."""

    interval_s: int = Field(ge=1, le=MAX_INTERVAL_S, description="Seconds until the next one")
    battery_pct: int | None = Field(default=None, ge=0, le=100)
    fw: Annotated[str, AfterValidator(_refusing(TEXT_CONTROL))] | None = Field(
        default=None, max_length=200, description="Firmware/agent version"
    )
    rssi: int | None = Field(default=None, description="Signal strength, dBm")
    sensing: bool | None = Field(
        default=None,
        description="false: the device is alive but cannot observe the home (its gateway is "
        "down), so its silence says nothing about the resident",
    )
    sensing_problem: SensingProblem | None = Field(
        default=None, description="Why it cannot observe, when sensing is false"
    )
    sensors: list[SensorHealth] | None = Field(
        default=None, max_length=MAX_SENSORS, description="Each sensor behind its gateway"
    )


class Emergency(_Common):
    """The resident asked for help, or a device detected a fall.

    With ``cancel_of`` it takes back an earlier emergency; the control center still calls.
    """

    trigger: EmergencyTrigger
    text: Text | None = Field(default=None, description="What the resident said, if anything")
    cancel_of: MessageId | None = Field(default=None, description="id of the emergency withdrawn")


class CheckinAnswer(_Common):
    """The resident's answer to a check-in command; ``answered: true`` is also activity."""

    request_id: MessageId = Field(description="id of the check-in command answered")
    answered: bool = Field(description="false when nobody answered before expires_ts")
    text: Text | None = None


class BloodPressure(_Wire):
    """A blood pressure reading in mmHg."""

    systolic: Reading
    diastolic: Reading


def _vitals_schema(schema: dict[str, Any]) -> None:
    # The unit/kind pairing lives in a validator, which JSON Schema cannot see; spell it out
    # so vendors validating against the schema file get the same answer as the hub.
    schema["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": kind}}},
            "then": {
                "properties": {
                    "unit": {"const": unit},
                    "value": {"type": "object" if kind == "blood_pressure" else "number"},
                }
            },
        }
        for kind, unit in VITAL_UNITS.items()
    ]


def _value_shape(value: object) -> str:
    return "blood_pressure" if isinstance(value, dict | BloodPressure) else "number"


# Tagged by shape so an error names one branch ("value.blood_pressure.systolic") instead of
# listing how the value failed to be every member of the union.
VitalValue = Annotated[
    Annotated[BloodPressure, Tag("blood_pressure")] | Annotated[Reading, Tag("number")],
    Discriminator(_value_shape),
]


class Vitals(_Common):
    """A reading from a home health device (blood pressure monitor, glucometer, scale)."""

    model_config = ConfigDict(json_schema_extra=_vitals_schema)

    kind: VitalKind
    value: VitalValue = Field(
        description="An object {systolic, diastolic} for blood_pressure, else a number"
    )
    unit: VitalUnit = Field(description="Fixed by kind: mmHg, mg/dL, kg, bpm, %, steps")

    # Field validators rather than one model validator, so an error names `value` or `unit`.
    # `kind` is declared first, so it is in info.data unless it was itself invalid.
    @field_validator("value", mode="before")
    @classmethod
    def _value_shape_matches_kind(cls, value: object, info: ValidationInfo) -> object:
        kind = info.data.get("kind")
        if kind is None:
            return value
        is_object = isinstance(value, dict | BloodPressure)
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "blood_pressure" and not is_object:
            msg = "must be an object {systolic, diastolic} for blood_pressure"
            raise ValueError(msg)
        if kind != "blood_pressure" and not is_number:
            msg = f"must be a number for {kind}"
            raise ValueError(msg)
        return value

    @field_validator("unit")
    @classmethod
    def _unit_matches_kind(cls, unit: VitalUnit, info: ValidationInfo) -> VitalUnit:
        kind = info.data.get("kind")
        if kind is not None and unit != VITAL_UNITS[kind]:
            msg = f"must be {VITAL_UNITS[kind]!r} for {kind}, not {unit!r}"
            raise ValueError(msg)
        return unit


class Status(_Wire):
    """Retained device presence: ``online`` on connect, ``offline`` as the Last Will."""

    state: DeviceState
    ts: Timestamp


class CheckinCommand(_Common):
    """Ask the resident whether they are all right; answered on the checkin topic."""

    type: Literal["checkin"]
    prompt: Text = Field(min_length=1, description="What to say")
    expires_ts: Timestamp

    @field_validator("expires_ts")
    @classmethod
    def _expires_after_sent(cls, expires_ts: datetime, info: ValidationInfo) -> datetime:
        sent = info.data.get("ts")
        if sent is not None and expires_ts <= sent:
            msg = "must be after ts"
            raise ValueError(msg)
        return expires_ts


class ConfigCommand(_Common):
    """Change a device setting."""

    type: Literal["config"]
    heartbeat_s: int = Field(ge=1, le=MAX_INTERVAL_S, description="Heartbeat interval, seconds")


Command = Annotated[CheckinCommand | ConfigCommand, Field(discriminator="type")]


class AlertChange(_Wire):
    """An alert opened or changed state or stage, for control-center integrations."""

    v: Version
    alert_id: MessageId
    resident: str = Field(pattern=ID_REGEX)
    kind: AlertKind
    state: AlertState
    stage: AlertStage
    ts: Timestamp
    reason: Text


Payload = Activity | Heartbeat | Emergency | CheckinAnswer | Vitals | Status
"""Any device→hub message."""

MODELS_BY_KIND: Final[Mapping[EventKind, type[Payload]]] = {
    "activity": Activity,
    "heartbeat": Heartbeat,
    "emergency": Emergency,
    "checkin": CheckinAnswer,
    "vitals": Vitals,
    "status": Status,
}


def to_json(model: BaseModel) -> bytes:
    """Compact UTF-8 JSON for the wire: Korean stays readable, absent optionals are omitted."""
    return model.model_dump_json(exclude_none=True).encode()
