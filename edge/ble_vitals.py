"""What a decoded Bluetooth health measurement means as protocol vitals.

Owns the conversions to the protocol's units (:data:`protocol.models.VITAL_UNITS`), which
readings are sent and which are not, the reading's time and its de-duplication key. Pure:
the caller passes the arrival time and the zone the devices' clocks are set in.

* **Units.** kPa to mmHg by 1 mmHg = 133.322387415 Pa (the conventional millimetre of
  mercury, 13.5951 g/cm3 x 9.80665 m/s2 x 1 mm); lb to kg by 0.45359237 (the international
  pound of 1959, exact); kg/L to mg/dL by 100,000 (1 kg/L = 10^6 mg per 10 dL); mol/L to mg/dL
  by 18,016 (mmol/L x 18.016: glucose C6H12O6 weighs 180.16 g/mol with IUPAC's standard atomic
  weights, so 1 mmol/L = 180.16 mg/L = 18.016 mg/dL).
* **Not sent, logged as unreadable:** NaN, NRes, the reserved value, an infinity (but for
  glucose, below), a negative value, a value no living resident has (a device that ignored
  its own unit flag), a scale's "Measurement Unsuccessful", a blood pressure missing either
  number. The whole measurement is not taken when a glucose sample is control solution or the
  meter says the strip or sensor failed, when an oximeter says its reading is invalid,
  unavailable, for demonstration or testing, or its sensor is off the finger, and when a
  multi-user monitor measured another user than the resident's (``user_id``; "unknown
  user" is taken).
* **Glucose beyond the meter's range:** "LO" (-INFINITY, or the status "result lower than the
  device can process" without a number) is sent as 0 mg/dL, the hub's convention for a
  meter's LO (:mod:`alerts.vitals`, critical); "HI" is sent as ``glucose_hi_mg_dl``, the top
  of the meter's range (600 mg/dL on most home meters), so a resident at HI is paged as
  critical rather than not at all.
* **Time:** the device's time stamp, read in the devices' zone, when it is at most
  :data:`MAX_AHEAD` after arrival and within :data:`MAX_AGE` before it. A record older than
  that but within :data:`CLOCK_UNSET` is an old stored record a monitor sends again: not
  taken, since the hub would judge a month-old value as news. Otherwise (no time stamp, "not
  known", a PLX "clock not set", a glucose "time fault", a clock ahead or more than a year
  behind, as a battery change leaves it) the arrival time. Only a reading with the device's
  own time has a ``ref``: a monitor that sends its stored records again on the next
  connection is taken once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from edge.ble_gatt import DateTime, Number, Special
from edge.ble_health import (
    UNKNOWN_USER,
    BloodPressureMeasurement,
    GlucoseMeasurement,
    Measurement,
    PlxContinuous,
    PlxSpotCheck,
    WeightMeasurement,
)
from protocol.models import BloodPressure, VitalKind

PA_PER_MMHG: Final = 133.322387415
KG_PER_LB: Final = 0.45359237
MG_DL_PER_KG_L: Final = 100_000.0
MG_DL_PER_MMOL_L: Final = 18.016
MAX_AGE: Final = timedelta(days=30)
MAX_AHEAD: Final = timedelta(minutes=5)  # the hub refuses readings further ahead (future_ts)
CLOCK_UNSET: Final = timedelta(days=366)  # as far back as the hub takes a reading at all

PLAUSIBLE: Final[dict[str, float]] = {
    "systolic": 300.0,
    "diastolic": 300.0,
    "glucose": 2000.0,
    "weight": 400.0,
    "heart_rate": 350.0,
    "spo2": 100.0,
}
"""The highest value taken per measure; above it the device has the unit wrong."""

_GLUCOSE_FAILED: Final = frozenset(
    {
        "sensor_malfunction",
        "sample_size_insufficient",
        "strip_insertion_error",
        "strip_type_incorrect",
        "temperature_too_high",
        "temperature_too_low",
        "strip_pulled_too_soon",
        "general_device_fault",
    }
)
_PLX_FAILED: Final = frozenset(
    {
        "measurement_unavailable",
        "invalid",
        "demonstration",
        "testing",
        "calibration_ongoing",
        "equipment_malfunction",
        "sensor_unconnected",
        "sensor_disconnected",
        "sensor_malfunctioning",
        "unknown_sensor",
    }
)
# A spot check still being measured, or its early estimate, is not the result yet; a
# continuous oximeter measures all the time, so "ongoing" says nothing there.
_SPOT_NOT_YET: Final = frozenset({"measurement_ongoing", "early_estimate"})


@dataclass(frozen=True, slots=True)
class Reading:
    """One protocol vitals reading, ready for the outbox."""

    kind: VitalKind
    value: float | BloodPressure
    at: datetime
    ref: str | None


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A value the device sent that is not a reading (logged, not sent)."""

    what: str
    why: str


@dataclass(slots=True)
class Outcome:
    readings: list[Reading] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # device status words, for the log
    clock: str = "device"  # "device" or why the arrival time was used
    skipped: str | None = None  # why the whole measurement was not taken


@dataclass(frozen=True, slots=True)
class Context:
    """What the conversion needs to know beyond the bytes."""

    device: str  # the configured name of the health device (part of each ref)
    received_at: datetime
    tz: ZoneInfo
    user_id: int | None = None  # the resident's user number on a multi-user monitor
    glucose_hi_mg_dl: float = 600.0


def readings(measurement: Measurement, ctx: Context) -> Outcome:
    """The readings a measurement gives, and what was not readable in it."""
    if isinstance(measurement, BloodPressureMeasurement):
        return _blood_pressure(measurement, ctx)
    if isinstance(measurement, GlucoseMeasurement):
        return _glucose(measurement, ctx)
    if isinstance(measurement, WeightMeasurement):
        return _weight(measurement, ctx)
    return _oximeter(measurement, ctx)


class _Builder:
    def __init__(self, ctx: Context, stamp: DateTime | None, *, offset_min: int = 0) -> None:
        self.ctx = ctx
        self.out = Outcome()
        self.at, self.key = ctx.received_at, None
        self.stale: str | None = None
        if stamp is None or stamp.at is None:
            self.out.clock = "no device time"
            return
        local = (stamp.at + timedelta(minutes=offset_min)).replace(tzinfo=ctx.tz)
        if local > ctx.received_at + MAX_AHEAD:
            self.out.clock = "device clock ahead"
            return
        if local < ctx.received_at - CLOCK_UNSET:
            self.out.clock = "device clock unset"
            return
        if local < ctx.received_at - MAX_AGE:
            self.stale = f"a stored record of {local.date().isoformat()}"
        self.at, self.key = local, local.isoformat()

    def arrival_time(self, why: str) -> None:
        self.at, self.key, self.out.clock = self.ctx.received_at, None, why
        self.stale = None

    def number(self, what: str, value: Number | None, scale: float = 1.0) -> float | None:
        """A value in the protocol's unit, or None (recorded as unreadable)."""
        if value is None:
            self.out.unreadable.append(Unreadable(what, "absent"))
            return None
        if isinstance(value, Special):
            self.out.unreadable.append(Unreadable(what, value.value))
            return None
        converted = value * scale
        if converted < 0 or converted > PLAUSIBLE[what]:
            self.out.unreadable.append(Unreadable(what, f"implausible {converted:g}"))
            return None
        return converted

    def add(self, kind: VitalKind, value: float | BloodPressure, digits: int = 1) -> None:
        if self.stale is not None:
            self.out.skipped = self.stale
            return
        if not isinstance(value, BloodPressure):
            value = round(value, digits)
        ref = None if self.key is None else f"ble:{self.ctx.device}:{kind}:{self.key}"
        self.out.readings.append(Reading(kind, value, self.at, ref))

    def other_user(self, user_id: int | None) -> bool:
        wanted = self.ctx.user_id
        # "Unknown user" (0xFF) is taken: the resident lives alone, a guest is the rarer case.
        if wanted is None or user_id in {None, UNKNOWN_USER, wanted}:
            return False
        self.out.skipped = f"user {user_id}, not the resident's {wanted}"
        return True


def _blood_pressure(m: BloodPressureMeasurement, ctx: Context) -> Outcome:
    b = _Builder(ctx, m.time_stamp)
    b.out.notes = m.status_words
    if b.other_user(m.user_id):
        return b.out
    scale = 1000 / PA_PER_MMHG if m.unit == "kPa" else 1.0
    systolic = b.number("systolic", m.systolic, scale)
    diastolic = b.number("diastolic", m.diastolic, scale)
    if systolic is not None and diastolic is not None:
        b.add(
            "blood_pressure",
            BloodPressure(systolic=round(systolic, 1), diastolic=round(diastolic, 1)),
        )
    if m.pulse_rate is not None:
        pulse = b.number("heart_rate", m.pulse_rate)
        if pulse is not None:
            b.add("heart_rate", pulse)
    return b.out


def _glucose(m: GlucoseMeasurement, ctx: Context) -> Outcome:
    b = _Builder(ctx, m.base_time, offset_min=m.time_offset_min or 0)
    words = m.status_words
    b.out.notes = words
    if "time_fault" in words:
        b.arrival_time("meter time fault")
    # The sequence number keeps two readings in the same minute apart.
    b.key = None if b.key is None else f"{m.sequence}@{b.key}"
    if m.control_solution:
        b.out.skipped = "control solution"
        return b.out
    failed = sorted(_GLUCOSE_FAILED.intersection(words))
    if failed:
        b.out.skipped = "meter reports " + ", ".join(failed)
        return b.out
    concentration = m.concentration
    if concentration is Special.NEGATIVE_INFINITY or (
        "result_too_low" in words and isinstance(concentration, Special | None)
    ):
        b.add("glucose", 0.0)  # LO
        return b.out
    if concentration is Special.POSITIVE_INFINITY or (
        "result_too_high" in words and isinstance(concentration, Special | None)
    ):
        b.add("glucose", ctx.glucose_hi_mg_dl)  # HI
        return b.out
    scale = MG_DL_PER_KG_L if m.unit == "kg/L" else MG_DL_PER_MMOL_L * 1000
    value = b.number("glucose", concentration, scale)
    if value is not None:
        b.add("glucose", value)
    return b.out


def _weight(m: WeightMeasurement, ctx: Context) -> Outcome:
    b = _Builder(ctx, m.time_stamp)
    if b.other_user(m.user_id):
        return b.out
    if m.weight is None:
        b.out.unreadable.append(Unreadable("weight", "measurement unsuccessful"))
        return b.out
    value = b.number("weight", m.weight, KG_PER_LB if m.unit == "lb" else 1.0)
    if value is not None:
        b.add("weight", value, digits=3)
    return b.out


def _oximeter(m: PlxSpotCheck | PlxContinuous, ctx: Context) -> Outcome:
    spot = isinstance(m, PlxSpotCheck)
    b = _Builder(ctx, m.time_stamp if isinstance(m, PlxSpotCheck) else None)
    if isinstance(m, PlxSpotCheck) and m.clock_not_set:
        b.arrival_time("oximeter clock not set")
    words = m.status_words
    b.out.notes = words
    failed = sorted(_PLX_FAILED.union(_SPOT_NOT_YET if spot else ()).intersection(words))
    if failed:
        b.out.skipped = "oximeter reports " + ", ".join(failed)
        return b.out
    spo2 = b.number("spo2", m.spo2)
    if spo2 is not None:
        b.add("spo2", spo2)
    pulse = b.number("heart_rate", m.pulse_rate)
    if pulse is not None:
        b.add("heart_rate", pulse)
    return b.out
