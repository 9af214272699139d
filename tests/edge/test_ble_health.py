"""Every flag combination of the four health measurements, on bytes built from the SIG's field
tables (GATT Specification Supplement; BLS 1.1, GLS 1.0.1, WSS 1.0, PLXS 1.0.1), decoded and
converted to protocol vitals in the protocol's units.

The byte builders here follow the field tables directly (flags, then each field in order,
little-endian), not the decoder, so a field read in the wrong order or size fails.
"""

from __future__ import annotations

import struct
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from edge.ble_gatt import DecodeError, Special
from edge.ble_health import (
    BLOOD_PRESSURE_MEASUREMENT,
    GLUCOSE_MEASUREMENT,
    PLX_CONTINUOUS,
    PLX_SPOT_CHECK,
    WEIGHT_MEASUREMENT,
    BloodPressureMeasurement,
    GlucoseMeasurement,
    PlxContinuous,
    PlxSpotCheck,
    WeightMeasurement,
    decode,
)
from edge.ble_vitals import Context, Outcome, Reading, readings
from protocol.models import VITAL_UNITS, BloodPressure, Vitals

KST = ZoneInfo("Asia/Seoul")
MEASURED = datetime(2026, 11, 24, 9, 58, 7)  # the device's own wall clock, no zone
RECEIVED = datetime(2026, 11, 24, 10, 0, 0, tzinfo=KST)
CTX = Context(device="bp1", received_at=RECEIVED, tz=KST, user_id=1)


def sf(mantissa: int, exponent: int = 0) -> bytes:
    """An SFLOAT: 4-bit exponent over a 12-bit mantissa, both two's complement."""
    return struct.pack("<H", (exponent & 0xF) << 12 | (mantissa & 0xFFF))


def stamp(at: datetime = MEASURED) -> bytes:
    """A Date Time: year uint16, month, day, hours, minutes, seconds."""
    return struct.pack("<HBBBBB", at.year, at.month, at.day, at.hour, at.minute, at.second)


def _valid(reading: Reading) -> Vitals:
    """The reading as the protocol message the agent sends: the unit is the kind's."""
    return Vitals(
        v=1,
        id="t",
        ts=reading.at,
        kind=reading.kind,
        value=reading.value,
        unit=VITAL_UNITS[reading.kind],
    )


def _by_kind(outcome: Outcome) -> dict[str, Reading]:
    for reading in outcome.readings:
        _valid(reading)
    kinds = [r.kind for r in outcome.readings]
    assert len(kinds) == len(set(kinds))
    return {r.kind: r for r in outcome.readings}


def _time_checks(reading: Reading, with_stamp: bool, at: datetime | None = None) -> None:
    if with_stamp:
        assert reading.at == (at or MEASURED.replace(tzinfo=KST))
        assert reading.ref is not None and reading.ref.startswith(f"ble:bp1:{reading.kind}:")
    else:
        assert reading.at == RECEIVED
        assert reading.ref is None


# -- Blood Pressure Measurement: flags bits 0-4 ------------------------------------------------


@pytest.mark.parametrize("flags", range(32))
def test_blood_pressure_every_flag_combination(flags: int) -> None:
    kpa, has_stamp, has_pulse, has_user, has_status = (bool(flags >> b & 1) for b in range(5))
    data = bytes([flags])
    # 141.8/90.8 mmHg is 18.9/12.1 kPa (x 1000 / 133.322387415).
    data += sf(189, -1) + sf(121, -1) + sf(144, -1) if kpa else sf(142) + sf(91) + sf(108)
    data += stamp() if has_stamp else b""
    data += sf(72) if has_pulse else b""
    data += bytes([1]) if has_user else b""
    data += struct.pack("<H", 0x0001 | 0x0004 | 1 << 3) if has_status else b""

    m = decode(BLOOD_PRESSURE_MEASUREMENT, data)
    assert isinstance(m, BloodPressureMeasurement)
    assert m.unit == ("kPa" if kpa else "mmHg")
    assert m.mean_arterial == pytest.approx(14.4 if kpa else 108.0)
    assert (m.time_stamp is not None) == has_stamp
    assert m.pulse_rate == (72.0 if has_pulse else None)
    assert m.user_id == (1 if has_user else None)
    assert m.status_words == (
        ["body_movement", "irregular_pulse", "pulse_above_range"] if has_status else []
    )

    got = _by_kind(readings(m, CTX))
    bp = got["blood_pressure"].value
    assert isinstance(bp, BloodPressure)
    if kpa:
        assert bp.systolic == pytest.approx(141.8, abs=0.05)  # 18.9 kPa = 141.76 mmHg
        assert bp.diastolic == pytest.approx(90.8, abs=0.05)  # 12.1 kPa = 90.76 mmHg
    else:
        assert (bp.systolic, bp.diastolic) == (142.0, 91.0)
    _time_checks(got["blood_pressure"], has_stamp)
    assert set(got) == ({"blood_pressure", "heart_rate"} if has_pulse else {"blood_pressure"})
    if has_pulse:
        assert got["heart_rate"].value == 72.0
        _time_checks(got["heart_rate"], has_stamp)


def test_blood_pressure_unreadable_values_are_not_sent() -> None:
    nan_systolic = bytes([0x04]) + struct.pack("<H", 0x07FF) + sf(91) + sf(108) + sf(72)
    outcome = readings(decode(BLOOD_PRESSURE_MEASUREMENT, nan_systolic), CTX)
    assert [r.kind for r in outcome.readings] == ["heart_rate"]
    assert [(u.what, u.why) for u in outcome.unreadable] == [("systolic", "nan")]

    nres_pulse = bytes([0x04]) + sf(142) + sf(91) + sf(108) + struct.pack("<H", 0x0800)
    outcome = readings(decode(BLOOD_PRESSURE_MEASUREMENT, nres_pulse), CTX)
    assert [r.kind for r in outcome.readings] == ["blood_pressure"]
    assert [(u.what, u.why) for u in outcome.unreadable] == [("heart_rate", "nres")]

    infinite = bytes([0x00]) + sf(142) + struct.pack("<H", 0x07FE) + sf(108)
    outcome = readings(decode(BLOOD_PRESSURE_MEASUREMENT, infinite), CTX)
    assert outcome.readings == []
    assert [(u.what, u.why) for u in outcome.unreadable] == [("diastolic", "+inf")]


def test_another_users_blood_pressure_is_not_taken_an_unknown_users_is() -> None:
    for user, taken in ((2, False), (1, True), (0xFF, True)):
        data = bytes([0x08]) + sf(142) + sf(91) + sf(108) + bytes([user])
        outcome = readings(decode(BLOOD_PRESSURE_MEASUREMENT, data), CTX)
        assert bool(outcome.readings) == taken, user
        assert (outcome.skipped is None) == taken


# -- Glucose Measurement: flags bits 0-4 ------------------------------------------------------


@pytest.mark.parametrize("flags", range(32))
def test_glucose_every_flag_combination(flags: int) -> None:
    has_offset, has_value, mol, has_status, context = (bool(flags >> b & 1) for b in range(5))
    data = bytes([flags]) + struct.pack("<H", 417) + stamp()
    data += struct.pack("<h", -15) if has_offset else b""
    if has_value:
        # 320 mg/dL: 0.00320 kg/L, or 0.0178 mol/L (17.8 mmol/L x 18.016 = 320.7 mg/dL).
        data += sf(178, -4) if mol else sf(320, -5)
        data += bytes([0x1 | 0x1 << 4])  # type 1 capillary whole blood, location 1 finger
    data += struct.pack("<H", 0x0001) if has_status else b""  # battery low: still a reading

    m = decode(GLUCOSE_MEASUREMENT, data)
    assert isinstance(m, GlucoseMeasurement)
    assert m.sequence == 417
    assert m.unit == ("mol/L" if mol else "kg/L")
    assert m.time_offset_min == (-15 if has_offset else None)
    assert (m.sample_type, m.sample_location) == ((1, 1) if has_value else (None, None))
    assert m.status_words == (["battery_low"] if has_status else [])
    assert m.context_follows == context

    outcome = readings(m, CTX)
    if not has_value:
        assert outcome.readings == []
        assert [(u.what, u.why) for u in outcome.unreadable] == [("glucose", "absent")]
        return
    got = _by_kind(outcome)
    assert got["glucose"].value == pytest.approx(320.7 if mol else 320.0, abs=0.05)
    offset = timedelta(minutes=-15 if has_offset else 0)
    reading = got["glucose"]
    assert reading.at == MEASURED.replace(tzinfo=KST) + offset
    assert reading.ref is not None and reading.ref.startswith("ble:bp1:glucose:417@")


@pytest.mark.parametrize(
    ("value", "status", "sent"),
    [
        (struct.pack("<H", 0x07FE), 0, 600.0),  # +INFINITY: HI
        (struct.pack("<H", 0x0802), 0, 0.0),  # -INFINITY: LO
        (struct.pack("<H", 0x07FF), 0x0020, 600.0),  # NaN, "result higher than it can process"
        (struct.pack("<H", 0x07FF), 0x0040, 0.0),  # NaN, "result lower ..."
        (sf(600, -5), 0x0020, 600.0),  # a number with "too high" is that number
        (struct.pack("<H", 0x07FF), 0, None),  # NaN alone: unreadable
        (struct.pack("<H", 0x0800), 0, None),  # NRes
        (struct.pack("<H", 0x0801), 0, None),  # reserved
        (sf(120), 0, None),  # mg/dL digits under the kg/L flag: 12,000,000 mg/dL
    ],
)
def test_glucose_beyond_the_meters_range(value: bytes, status: int, sent: float | None) -> None:
    data = bytes([0x02 | 0x08]) + struct.pack("<H", 9) + stamp() + value + b"\x11"
    data += struct.pack("<H", status)
    outcome = readings(decode(GLUCOSE_MEASUREMENT, data), CTX)
    assert [r.value for r in outcome.readings] == ([] if sent is None else [sent])
    assert bool(outcome.unreadable) == (sent is None)


@pytest.mark.parametrize(
    ("type_location", "status", "skipped"),
    [
        (0x1A, 0, "control solution"),  # type 10
        (0x41, 0, "control solution"),  # location 4
        (0x11, 0x0008, "meter reports strip_insertion_error"),
        (0x11, 0x0004 | 0x0400, "meter reports general_device_fault, sample_size_insufficient"),
    ],
)
def test_glucose_tests_and_failures_are_not_taken(
    type_location: int, status: int, skipped: str
) -> None:
    data = bytes([0x0A]) + struct.pack("<H", 9) + stamp() + sf(320, -5) + bytes([type_location])
    outcome = readings(decode(GLUCOSE_MEASUREMENT, data + struct.pack("<H", status)), CTX)
    assert outcome.readings == []
    assert outcome.skipped == skipped


def test_glucose_time_fault_takes_the_arrival_time() -> None:
    data = bytes([0x0A]) + struct.pack("<H", 9) + stamp() + sf(320, -5) + b"\x11"
    outcome = readings(decode(GLUCOSE_MEASUREMENT, data + struct.pack("<H", 0x0800)), CTX)
    (reading,) = outcome.readings
    assert (reading.at, reading.ref, outcome.clock) == (RECEIVED, None, "meter time fault")


# -- Weight Measurement: flags bits 0-3 -------------------------------------------------------


@pytest.mark.parametrize("flags", range(16))
def test_weight_every_flag_combination(flags: int) -> None:
    imperial, has_stamp, has_user, has_bmi = (bool(flags >> b & 1) for b in range(4))
    # 65.000 kg = 13000 x 0.005 kg; 143.30 lb = 14330 x 0.01 lb = 64.9998 kg.
    data = bytes([flags]) + struct.pack("<H", 14330 if imperial else 13000)
    data += stamp() if has_stamp else b""
    data += bytes([1]) if has_user else b""
    if has_bmi:  # BMI 21.2 (x 0.1); height 1.755 m (x 0.001) or 69.1 in (x 0.1)
        data += struct.pack("<HH", 212, 691 if imperial else 1755)

    m = decode(WEIGHT_MEASUREMENT, data)
    assert isinstance(m, WeightMeasurement)
    assert m.unit == ("lb" if imperial else "kg")
    assert m.weight == pytest.approx(143.30 if imperial else 65.0)
    assert m.user_id == (1 if has_user else None)
    assert m.bmi == (pytest.approx(21.2) if has_bmi else None)
    assert m.height == (pytest.approx(69.1 if imperial else 1.755) if has_bmi else None)

    got = _by_kind(readings(m, CTX))
    assert got["weight"].value == pytest.approx(65.0, abs=0.0005)
    _time_checks(got["weight"], has_stamp)


def test_weight_resolution() -> None:
    m = decode(WEIGHT_MEASUREMENT, bytes([0]) + struct.pack("<H", 12_345))
    assert m == WeightMeasurement(unit="kg", weight=61.725)  # 12345 x 0.005, exactly
    (reading,) = readings(m, CTX).readings
    assert reading.value == 61.725


@pytest.mark.parametrize("flags", [0x00, 0x01, 0x02 | 0x04])
def test_weight_measurement_unsuccessful(flags: int) -> None:
    data = bytes([flags]) + b"\xff\xff" + (stamp() + b"\x01" if flags & 0x02 else b"")
    m = decode(WEIGHT_MEASUREMENT, data)
    assert isinstance(m, WeightMeasurement) and m.weight is None
    outcome = readings(m, CTX)
    assert outcome.readings == []
    assert [(u.what, u.why) for u in outcome.unreadable] == [("weight", "measurement unsuccessful")]


# -- PLX Spot-Check (bits 0-4) and Continuous (bits 0-4) --------------------------------------


@pytest.mark.parametrize("flags", range(32))
def test_plx_spot_check_every_flag_combination(flags: int) -> None:
    has_stamp, has_status, has_device, has_pai, clock_not_set = (
        bool(flags >> b & 1) for b in range(5)
    )
    data = bytes([flags]) + sf(97) + sf(64)
    data += stamp() if has_stamp else b""
    data += struct.pack("<H", 0x0080) if has_status else b""  # validated data
    data += struct.pack("<HB", 0x0020, 0) if has_device else b""  # low perfusion: still taken
    data += sf(25, -1) if has_pai else b""

    m = decode(PLX_SPOT_CHECK, data)
    assert isinstance(m, PlxSpotCheck)
    assert (m.spo2, m.pulse_rate) == (97.0, 64.0)
    assert (m.time_stamp is not None) == has_stamp
    assert m.pulse_amplitude == (pytest.approx(2.5) if has_pai else None)
    assert m.clock_not_set == clock_not_set
    expected_words = (["validated"] if has_status else []) + (
        ["low_perfusion"] if has_device else []
    )
    assert m.status_words == expected_words

    got = _by_kind(readings(m, CTX))
    assert (got["spo2"].value, got["heart_rate"].value) == (97.0, 64.0)
    for reading in got.values():
        _time_checks(reading, has_stamp and not clock_not_set)


@pytest.mark.parametrize("flags", range(32))
def test_plx_continuous_every_flag_combination(flags: int) -> None:
    fast, slow, has_status, has_device, has_pai = (bool(flags >> b & 1) for b in range(5))
    data = bytes([flags]) + sf(96) + sf(70)
    data += sf(95) + sf(71) if fast else b""
    data += sf(97) + sf(69) if slow else b""
    data += struct.pack("<H", 0x0020) if has_status else b""  # ongoing: normal when continuous
    data += struct.pack("<HB", 0x0000, 0x01) if has_device else b""  # bit 16: reserved
    data += sf(31, -1) if has_pai else b""

    m = decode(PLX_CONTINUOUS, data)
    assert isinstance(m, PlxContinuous)
    assert m.fast == ((95.0, 71.0) if fast else None)
    assert m.slow == ((97.0, 69.0) if slow else None)
    assert m.status == (0x0020 if has_status else None)
    assert m.device_status == (0x010000 if has_device else None)
    assert m.pulse_amplitude == (pytest.approx(3.1) if has_pai else None)

    got = _by_kind(readings(m, CTX))
    assert (got["spo2"].value, got["heart_rate"].value) == (96.0, 70.0)  # the normal pair
    for reading in got.values():
        _time_checks(reading, with_stamp=False)


@pytest.mark.parametrize(
    ("uuid", "status", "device", "skipped"),
    [
        (PLX_SPOT_CHECK, 0x8000, 0, "oximeter reports invalid"),
        (PLX_SPOT_CHECK, 0x2000, 0, "oximeter reports measurement_unavailable"),
        (PLX_SPOT_CHECK, 0x0400, 0, "oximeter reports demonstration"),
        (PLX_SPOT_CHECK, 0x0020, 0, "oximeter reports measurement_ongoing"),
        (PLX_SPOT_CHECK, 0, 0x000800, "oximeter reports sensor_unconnected"),
        (PLX_CONTINUOUS, 0x0800, 0, "oximeter reports testing"),
        (PLX_CONTINUOUS, 0, 0x008000, "oximeter reports sensor_disconnected"),
        (PLX_CONTINUOUS, 0x4000, 0, None),  # questionable: the hub's rules judge it
    ],
)
def test_plx_status_that_is_no_reading(
    uuid: str, status: int, device: int, skipped: str | None
) -> None:
    flags = 0x02 | 0x04 if uuid == PLX_SPOT_CHECK else 0x04 | 0x08
    data = bytes([flags]) + sf(85) + sf(64) + struct.pack("<HHB", status, device & 0xFFFF, 0)
    outcome = readings(decode(uuid, data), CTX)
    assert outcome.skipped == skipped
    assert bool(outcome.readings) == (skipped is None)


# -- across the characteristics ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("uuid", "body"),
    [
        (BLOOD_PRESSURE_MEASUREMENT, sf(142) + sf(91) + sf(108)),
        (WEIGHT_MEASUREMENT, struct.pack("<H", 13000)),
        (PLX_SPOT_CHECK, sf(97) + sf(64)),
        (PLX_CONTINUOUS, sf(97) + sf(64)),
    ],
)
def test_reserved_flag_bits_and_appended_bytes_change_nothing(uuid: str, body: bytes) -> None:
    plain = decode(uuid, bytes([0]) + body)
    assert decode(uuid, bytes([0xE0]) + body + b"\x99\x99") == plain


def test_glucose_reserved_bits() -> None:
    body = struct.pack("<H", 1) + stamp()
    assert decode(GLUCOSE_MEASUREMENT, bytes([0xE0]) + body) == decode(
        GLUCOSE_MEASUREMENT, bytes([0]) + body
    )


@pytest.mark.parametrize(
    ("uuid", "data"),
    [
        (BLOOD_PRESSURE_MEASUREMENT, bytes([0x02]) + sf(142) + sf(91) + sf(108) + b"\xea\x07"),
        (GLUCOSE_MEASUREMENT, bytes([0x02]) + struct.pack("<H", 1) + stamp() + sf(1)),
        (WEIGHT_MEASUREMENT, bytes([0x08]) + struct.pack("<H", 13000) + b"\xd4\x00"),
        (PLX_SPOT_CHECK, bytes([0x04]) + sf(97) + sf(64) + b"\x00\x00"),
        (PLX_CONTINUOUS, bytes([0x01]) + sf(97) + sf(64) + sf(97)),
        (BLOOD_PRESSURE_MEASUREMENT, b""),
    ],
)
def test_a_short_value_is_a_decode_error(uuid: str, data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(uuid, data)


def test_characteristics_by_short_uuid_and_unknown_ones() -> None:
    data = bytes([0]) + sf(142) + sf(91) + sf(108)
    full = decode(BLOOD_PRESSURE_MEASUREMENT, data)
    assert decode("2A35", data) == decode("0x2a35", data) == full
    with pytest.raises(DecodeError, match="not a health measurement"):
        decode("2A1C", data)  # temperature measurement


@pytest.mark.parametrize(
    ("device_time", "used"),
    [
        (MEASURED - timedelta(days=400), "device clock unset"),  # a battery change
        (datetime(2000, 1, 1, 0, 0, 0), "device clock unset"),
        (MEASURED + timedelta(minutes=10), "device clock ahead"),
        (MEASURED - timedelta(days=29), "device"),  # a stored record from last month
        (MEASURED - timedelta(days=31), "stale"),  # older: not news any more
        (MEASURED - timedelta(days=365), "stale"),
    ],
)
def test_the_devices_clock_is_used_only_when_plausible(device_time: datetime, used: str) -> None:
    data = bytes([0x06]) + sf(142) + sf(91) + sf(108) + stamp(device_time) + sf(70)
    outcome = readings(decode(BLOOD_PRESSURE_MEASUREMENT, data), CTX)
    if used == "stale":
        assert outcome.readings == []
        assert outcome.skipped == f"a stored record of {device_time.date().isoformat()}"
        return
    assert outcome.clock == used
    expected: Any = device_time.replace(tzinfo=KST) if used == "device" else RECEIVED
    assert [r.at for r in outcome.readings] == [expected, expected]
    assert outcome.skipped is None


def test_a_meter_time_fault_overrides_the_age_of_its_record() -> None:
    old = stamp(MEASURED - timedelta(days=60))
    data = bytes([0x0A]) + struct.pack("<H", 9) + old + sf(320, -5) + b"\x11"
    outcome = readings(decode(GLUCOSE_MEASUREMENT, data + struct.pack("<H", 0x0800)), CTX)
    assert [(r.value, r.at) for r in outcome.readings] == [(320.0, RECEIVED)]


def test_an_unknown_date_is_the_arrival_time() -> None:
    data = bytes([0x02]) + sf(142) + sf(91) + sf(108) + struct.pack("<HBBBBB", 0, 0, 0, 9, 0, 0)
    outcome = readings(decode(BLOOD_PRESSURE_MEASUREMENT, data), CTX)
    assert (outcome.readings[0].at, outcome.clock) == (RECEIVED, "no device time")


def test_a_negative_value_is_unreadable() -> None:
    data = bytes([0]) + sf(97) + sf(-64)
    outcome = readings(decode(PLX_SPOT_CHECK, data), CTX)
    assert [r.kind for r in outcome.readings] == ["spo2"]
    assert outcome.unreadable[0].what == "heart_rate"
    assert Special.NAN.value == "nan"
