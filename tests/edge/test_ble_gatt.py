"""IEEE-11073 SFLOAT and FLOAT, the Date Time field and the field reader, on bytes built by
hand from the formats' definitions (IEEE 11073-20601 Annex F.8, GATT Supplement 0x2A08)."""

from __future__ import annotations

import struct
from datetime import datetime

import pytest

from edge.ble_gatt import DateTime, DecodeError, Reader, Special, float32, sfloat


def _sfloat(mantissa: int, exponent: int) -> int:
    """Bits 12-15: exponent (4-bit two's complement); bits 0-11: mantissa (12-bit)."""
    return (exponent & 0xF) << 12 | (mantissa & 0xFFF)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (0x0078, 120.0),  # 120 x 10^0
        (0xB078, 0.0012),  # 120 x 10^-5: 120 mg/dL in kg/L
        (0xF5AA, 145.0),  # 0x5AA = 1450, x 10^-1
        (0x1001, 10.0),  # 1 x 10^1
        (0x0FFF, -1.0),  # mantissa -1
        (0x7001, 10_000_000.0),  # the largest exponent, 7
        (0x8001, 1e-8),  # the smallest, -8
        (0x0000, 0.0),
        (0x07FD, 2045.0),  # the largest finite mantissa
        (0x0803, -2045.0),  # the smallest finite mantissa
    ],
)
def test_sfloat_numbers(raw: int, value: float) -> None:
    assert sfloat(raw) == pytest.approx(value, rel=1e-12)


def test_sfloat_by_construction() -> None:
    for mantissa in (-2045, -900, -1, 0, 1, 72, 189, 2045):
        for exponent in range(-8, 8):
            decoded = sfloat(_sfloat(mantissa, exponent))
            assert isinstance(decoded, float)
            assert decoded == pytest.approx(mantissa * 10.0**exponent, rel=1e-12)


@pytest.mark.parametrize(
    ("raw", "special"),
    [
        (0x07FF, Special.NAN),
        (0x0800, Special.NRES),
        (0x07FE, Special.POSITIVE_INFINITY),
        (0x0802, Special.NEGATIVE_INFINITY),
        (0x0801, Special.RESERVED),
    ],
)
def test_sfloat_special_values(raw: int, special: Special) -> None:
    assert sfloat(raw) is special


def test_special_mantissas_with_an_exponent_are_numbers() -> None:
    # 0xF7FE: mantissa 2046 at 10^-1 is 204.6, a systolic a 0.1 mmHg monitor may send.
    assert sfloat(0xF7FE) == pytest.approx(204.6)
    assert sfloat(0x17FF) == pytest.approx(20470.0)
    assert sfloat(0xF800) == pytest.approx(-204.8)


def test_sfloat_is_16_bits() -> None:
    with pytest.raises(DecodeError):
        sfloat(0x1_0000)


def test_float32() -> None:
    # Exponent: the top byte (8-bit two's complement); mantissa: the low 24 bits.
    assert float32(0xFF00_0171) == pytest.approx(36.9)  # 369 x 10^-1
    assert float32(0x0000_0001) == 1.0
    assert float32(0x00FF_FFFF) == -1.0
    assert float32(0x02FF_FFFE) == -200.0
    assert float32(0x007F_FFFF) is Special.NAN
    assert float32(0x0080_0000) is Special.NRES
    assert float32(0x007F_FFFE) is Special.POSITIVE_INFINITY
    assert float32(0x0080_0002) is Special.NEGATIVE_INFINITY
    assert float32(0x0080_0001) is Special.RESERVED
    assert float32(0x017F_FFFF) == pytest.approx(83886070.0)  # a number with exponent 1
    raw = struct.pack("<I", 0xFD00_0C35)  # 3125 x 10^-3
    assert Reader(raw, "t").float32("f") == pytest.approx(3.125)


def test_date_time() -> None:
    raw = struct.pack("<HBBBBB", 2026, 11, 24, 9, 58, 7)
    stamp = Reader(raw, "t").date_time("time stamp")
    assert stamp == DateTime(2026, 11, 24, 9, 58, 7)
    assert stamp.at == datetime(2026, 11, 24, 9, 58, 7)
    # 0 in year, month or day is "not known"; an impossible date is no time either.
    for unknown in ((0, 11, 24), (2026, 0, 24), (2026, 11, 0), (2026, 2, 30)):
        assert DateTime(*unknown, 10, 0, 0).at is None
    assert DateTime(2026, 11, 24, 24, 0, 0).at is None


def test_reader_reports_a_short_value() -> None:
    reader = Reader(b"\x01\x02\x03", "blood pressure measurement")
    assert reader.u8("flags") == 1
    assert reader.rest == 2
    with pytest.raises(DecodeError, match="3 bytes end before systolic"):
        reader.date_time("systolic")
