"""Decoders of the four Bluetooth health measurements, field by field as the SIG defines them.

Owns the layout of Blood Pressure Measurement (0x2A35, Blood Pressure Service 0x1810),
Glucose Measurement (0x2A18, Glucose Service 0x1808), Weight Measurement (0x2A9D, Weight
Scale Service 0x181D) and PLX Spot-Check / Continuous Measurement (0x2A5E / 0x2A5F, Pulse
Oximeter Service 0x1822), after the GATT Specification Supplement and the services' own
specifications (BLS 1.1, GLS 1.0.1, WSS 1.0, PLXS 1.0.1). Each decoder returns what the
device said, in the device's own units; what it means as a protocol reading is
:mod:`edge.ble_vitals`. Pure: no radio, no clock. Bytes after the last defined field are
ignored, since a later revision of a characteristic may append fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from edge.ble_gatt import DateTime, DecodeError, Number, Reader

__all__ = [
    "BLOOD_PRESSURE_MEASUREMENT",
    "GLUCOSE_MEASUREMENT",
    "PLX_CONTINUOUS",
    "PLX_SPOT_CHECK",
    "RECORD_ACCESS_CONTROL_POINT",
    "SERVICES",
    "WEIGHT_MEASUREMENT",
    "BloodPressureMeasurement",
    "DecodeError",
    "GlucoseMeasurement",
    "PlxContinuous",
    "PlxSpotCheck",
    "WeightMeasurement",
    "decode",
    "uuid16",
]


def uuid16(short: int) -> str:
    """The 128-bit form of a SIG-assigned 16-bit UUID, as radios report characteristics."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


BLOOD_PRESSURE_MEASUREMENT: Final = uuid16(0x2A35)
GLUCOSE_MEASUREMENT: Final = uuid16(0x2A18)
WEIGHT_MEASUREMENT: Final = uuid16(0x2A9D)
PLX_SPOT_CHECK: Final = uuid16(0x2A5E)
PLX_CONTINUOUS: Final = uuid16(0x2A5F)
RECORD_ACCESS_CONTROL_POINT: Final = uuid16(0x2A52)
"""Glucose meters keep their records and send them when asked here (GLS 1.0.1, 3.4)."""

Profile = Literal["blood_pressure", "glucose", "weight", "pulse_oximeter"]
SERVICES: Final[dict[Profile, tuple[str, tuple[str, ...]]]] = {
    "blood_pressure": (uuid16(0x1810), (BLOOD_PRESSURE_MEASUREMENT,)),
    "glucose": (uuid16(0x1808), (GLUCOSE_MEASUREMENT,)),
    "weight": (uuid16(0x181D), (WEIGHT_MEASUREMENT,)),
    "pulse_oximeter": (uuid16(0x1822), (PLX_SPOT_CHECK, PLX_CONTINUOUS)),
}
"""Each profile's service and the measurement characteristics a collector subscribes to."""

UNKNOWN_USER: Final = 0xFF
"""The User ID that means "unknown user" (BLS, WSS)."""


# -- Blood Pressure Measurement (0x2A35) ------------------------------------------------------

BP_KPA: Final = 0x01  # Blood Pressure Units: 0 mmHg, 1 kPa
BP_TIME_STAMP: Final = 0x02
BP_PULSE_RATE: Final = 0x04
BP_USER_ID: Final = 0x08
BP_STATUS: Final = 0x10

BP_STATUS_BITS: Final = {
    0x0001: "body_movement",
    0x0002: "cuff_too_loose",
    0x0004: "irregular_pulse",
    0x0020: "improper_position",
}
"""Measurement Status bits; bits 3-4 are the pulse rate range (:attr:`pulse_range`)."""


@dataclass(frozen=True, slots=True)
class BloodPressureMeasurement:
    unit: Literal["mmHg", "kPa"]
    systolic: Number
    diastolic: Number
    mean_arterial: Number
    time_stamp: DateTime | None = None
    pulse_rate: Number | None = None  # beats per minute
    user_id: int | None = None
    status: int | None = None

    @property
    def status_words(self) -> list[str]:
        words = [w for bit, w in BP_STATUS_BITS.items() if (self.status or 0) & bit]
        return words + ([self.pulse_range] if self.pulse_range != "within_range" else [])

    @property
    def pulse_range(self) -> str:
        """Pulse rate range detection (status bits 3-4)."""
        code = ((self.status or 0) >> 3) & 0b11
        return ("within_range", "pulse_above_range", "pulse_below_range", "pulse_range_rfu")[code]


def blood_pressure(data: bytes) -> BloodPressureMeasurement:
    r = Reader(data, "blood pressure measurement")
    flags = r.u8("flags")
    return BloodPressureMeasurement(
        unit="kPa" if flags & BP_KPA else "mmHg",
        systolic=r.sfloat("systolic"),
        diastolic=r.sfloat("diastolic"),
        mean_arterial=r.sfloat("mean arterial pressure"),
        time_stamp=r.date_time("time stamp") if flags & BP_TIME_STAMP else None,
        pulse_rate=r.sfloat("pulse rate") if flags & BP_PULSE_RATE else None,
        user_id=r.u8("user id") if flags & BP_USER_ID else None,
        status=r.u16("measurement status") if flags & BP_STATUS else None,
    )


# -- Glucose Measurement (0x2A18) -------------------------------------------------------------

GL_TIME_OFFSET: Final = 0x01
GL_CONCENTRATION: Final = 0x02  # Glucose Concentration, Type and Sample Location present
GL_MOL_PER_L: Final = 0x04  # Glucose Concentration Units: 0 kg/L, 1 mol/L
GL_STATUS: Final = 0x08  # Sensor Status Annunciation present
GL_CONTEXT: Final = 0x10  # Context Information Follows (a 0x2A34 with the same sequence)

GL_TYPE_CONTROL_SOLUTION: Final = 10
GL_LOCATION_CONTROL_SOLUTION: Final = 4

GL_STATUS_BITS: Final = {
    0x0001: "battery_low",
    0x0002: "sensor_malfunction",
    0x0004: "sample_size_insufficient",
    0x0008: "strip_insertion_error",
    0x0010: "strip_type_incorrect",
    0x0020: "result_too_high",
    0x0040: "result_too_low",
    0x0080: "temperature_too_high",
    0x0100: "temperature_too_low",
    0x0200: "strip_pulled_too_soon",
    0x0400: "general_device_fault",
    0x0800: "time_fault",
}
"""Sensor Status Annunciation bits (GLS 1.0.1, 3.1.1.7); bits 12-15 are reserved."""


@dataclass(frozen=True, slots=True)
class GlucoseMeasurement:
    sequence: int
    base_time: DateTime
    unit: Literal["kg/L", "mol/L"]
    time_offset_min: int | None = None
    concentration: Number | None = None
    sample_type: int | None = None  # 1 capillary whole blood ... 10 control solution
    sample_location: int | None = None  # 1 finger, 2 AST, 3 earlobe, 4 control solution
    sensor_status: int | None = None
    context_follows: bool = False

    @property
    def status_words(self) -> list[str]:
        return [w for bit, w in GL_STATUS_BITS.items() if (self.sensor_status or 0) & bit]

    @property
    def control_solution(self) -> bool:
        """A test of the meter with control solution, not the resident's blood."""
        return (
            self.sample_type == GL_TYPE_CONTROL_SOLUTION
            or self.sample_location == GL_LOCATION_CONTROL_SOLUTION
        )


def glucose(data: bytes) -> GlucoseMeasurement:
    r = Reader(data, "glucose measurement")
    flags = r.u8("flags")
    sequence = r.u16("sequence number")
    base_time = r.date_time("base time")
    offset = r.s16("time offset") if flags & GL_TIME_OFFSET else None
    concentration: Number | None = None
    sample_type = location = None
    if flags & GL_CONCENTRATION:
        concentration = r.sfloat("glucose concentration")
        type_location = r.u8("type-sample location")
        sample_type, location = type_location & 0x0F, type_location >> 4
    return GlucoseMeasurement(
        sequence=sequence,
        base_time=base_time,
        unit="mol/L" if flags & GL_MOL_PER_L else "kg/L",
        time_offset_min=offset,
        concentration=concentration,
        sample_type=sample_type,
        sample_location=location,
        sensor_status=r.u16("sensor status annunciation") if flags & GL_STATUS else None,
        context_follows=bool(flags & GL_CONTEXT),
    )


# -- Weight Measurement (0x2A9D) --------------------------------------------------------------

WT_IMPERIAL: Final = 0x01  # Measurement Units: 0 SI (kg, m), 1 imperial (lb, in)
WT_TIME_STAMP: Final = 0x02
WT_USER_ID: Final = 0x04
WT_BMI_HEIGHT: Final = 0x08
WT_UNSUCCESSFUL: Final = 0xFFFF
"""The weight a scale sends when it could not measure (WSS 1.0): not 327.675 kg."""


@dataclass(frozen=True, slots=True)
class WeightMeasurement:
    unit: Literal["kg", "lb"]
    weight: float | None  # None: "Measurement Unsuccessful"
    time_stamp: DateTime | None = None
    user_id: int | None = None
    bmi: float | None = None  # kg/m2
    height: float | None = None  # metres with kg, inches with lb


def weight(data: bytes) -> WeightMeasurement:
    r = Reader(data, "weight measurement")
    flags = r.u8("flags")
    imperial = bool(flags & WT_IMPERIAL)
    raw = r.u16("weight")
    time_stamp = r.date_time("time stamp") if flags & WT_TIME_STAMP else None
    user_id = r.u8("user id") if flags & WT_USER_ID else None
    bmi = height = None
    if flags & WT_BMI_HEIGHT:
        bmi = r.u16("bmi") / 10  # resolution 0.1 kg/m2
        height_raw = r.u16("height")
        height = height_raw / 10 if imperial else height_raw / 1000  # 0.1 in or 0.001 m
    unsuccessful = raw == WT_UNSUCCESSFUL
    return WeightMeasurement(
        unit="lb" if imperial else "kg",
        # Resolutions: 0.01 lb, or 0.005 kg (raw x 5 / 1000, exact in decimal).
        weight=None if unsuccessful else (raw / 100 if imperial else raw * 5 / 1000),
        time_stamp=time_stamp,
        user_id=user_id,
        bmi=bmi,
        height=height,
    )


# -- PLX Spot-Check (0x2A5E) and Continuous (0x2A5F) Measurements -----------------------------

SPOT_TIME_STAMP: Final = 0x01
SPOT_STATUS: Final = 0x02
SPOT_DEVICE_STATUS: Final = 0x04
SPOT_PULSE_AMPLITUDE: Final = 0x08
SPOT_CLOCK_NOT_SET: Final = 0x10

CONT_FAST: Final = 0x01
CONT_SLOW: Final = 0x02
CONT_STATUS: Final = 0x04
CONT_DEVICE_STATUS: Final = 0x08
CONT_PULSE_AMPLITUDE: Final = 0x10

PLX_STATUS_BITS: Final = {
    0x0020: "measurement_ongoing",
    0x0040: "early_estimate",
    0x0080: "validated",
    0x0100: "fully_qualified",
    0x0200: "from_storage",
    0x0400: "demonstration",
    0x0800: "testing",
    0x1000: "calibration_ongoing",
    0x2000: "measurement_unavailable",
    0x4000: "questionable",
    0x8000: "invalid",
}
"""Measurement Status bits (PLXS 1.0.1); bits 0-4 are reserved."""

PLX_DEVICE_STATUS_BITS: Final = {
    0x000001: "extended_display_update",
    0x000002: "equipment_malfunction",
    0x000004: "signal_processing_irregularity",
    0x000008: "inadequate_signal",
    0x000010: "poor_signal",
    0x000020: "low_perfusion",
    0x000040: "erratic_signal",
    0x000080: "nonpulsatile_signal",
    0x000100: "questionable_pulse",
    0x000200: "signal_analysis_ongoing",
    0x000400: "sensor_interference",
    0x000800: "sensor_unconnected",
    0x001000: "unknown_sensor",
    0x002000: "sensor_displaced",
    0x004000: "sensor_malfunctioning",
    0x008000: "sensor_disconnected",
}
"""Device and Sensor Status bits (PLXS 1.0.1); bits 16-23 are reserved."""


@dataclass(frozen=True, slots=True)
class PlxSpotCheck:
    spo2: Number  # %
    pulse_rate: Number  # beats per minute
    time_stamp: DateTime | None = None
    status: int | None = None
    device_status: int | None = None
    pulse_amplitude: Number | None = None  # %
    clock_not_set: bool = False

    @property
    def status_words(self) -> list[str]:
        return _plx_words(self.status, self.device_status)


@dataclass(frozen=True, slots=True)
class PlxContinuous:
    spo2: Number  # SpO2PR-Normal
    pulse_rate: Number
    fast: tuple[Number, Number] | None = None  # SpO2PR-Fast: (SpO2, PR)
    slow: tuple[Number, Number] | None = None  # SpO2PR-Slow
    status: int | None = None
    device_status: int | None = None
    pulse_amplitude: Number | None = None

    @property
    def status_words(self) -> list[str]:
        return _plx_words(self.status, self.device_status)


def _plx_words(status: int | None, device_status: int | None) -> list[str]:
    words = [w for bit, w in PLX_STATUS_BITS.items() if (status or 0) & bit]
    return words + [w for bit, w in PLX_DEVICE_STATUS_BITS.items() if (device_status or 0) & bit]


def plx_spot_check(data: bytes) -> PlxSpotCheck:
    r = Reader(data, "PLX spot-check measurement")
    flags = r.u8("flags")
    return PlxSpotCheck(
        spo2=r.sfloat("SpO2"),
        pulse_rate=r.sfloat("PR"),
        time_stamp=r.date_time("timestamp") if flags & SPOT_TIME_STAMP else None,
        status=r.u16("measurement status") if flags & SPOT_STATUS else None,
        device_status=r.u24("device and sensor status") if flags & SPOT_DEVICE_STATUS else None,
        pulse_amplitude=r.sfloat("pulse amplitude index") if flags & SPOT_PULSE_AMPLITUDE else None,
        clock_not_set=bool(flags & SPOT_CLOCK_NOT_SET),
    )


def plx_continuous(data: bytes) -> PlxContinuous:
    r = Reader(data, "PLX continuous measurement")
    flags = r.u8("flags")
    spo2, pulse = r.sfloat("SpO2 normal"), r.sfloat("PR normal")
    fast = (r.sfloat("SpO2 fast"), r.sfloat("PR fast")) if flags & CONT_FAST else None
    slow = (r.sfloat("SpO2 slow"), r.sfloat("PR slow")) if flags & CONT_SLOW else None
    return PlxContinuous(
        spo2=spo2,
        pulse_rate=pulse,
        fast=fast,
        slow=slow,
        status=r.u16("measurement status") if flags & CONT_STATUS else None,
        device_status=r.u24("device and sensor status") if flags & CONT_DEVICE_STATUS else None,
        pulse_amplitude=r.sfloat("pulse amplitude index") if flags & CONT_PULSE_AMPLITUDE else None,
    )


Measurement = (
    BloodPressureMeasurement | GlucoseMeasurement | WeightMeasurement | PlxSpotCheck | PlxContinuous
)

_DECODERS: Final[dict[str, Callable[[bytes], Measurement]]] = {
    BLOOD_PRESSURE_MEASUREMENT: blood_pressure,
    GLUCOSE_MEASUREMENT: glucose,
    WEIGHT_MEASUREMENT: weight,
    PLX_SPOT_CHECK: plx_spot_check,
    PLX_CONTINUOUS: plx_continuous,
}


def decode(characteristic: str, data: bytes) -> Measurement:
    """Decode a value of one of the measurement characteristics (UUID in either form)."""
    key = characteristic.lower()
    if len(key) <= 6:  # "2a35" or "0x2A35"
        key = uuid16(int(key, 16))
    decoder = _DECODERS.get(key)
    if decoder is None:
        msg = f"not a health measurement characteristic: {characteristic}"
        raise DecodeError(msg)
    return decoder(data)
