"""Bluetooth GATT primitives of the health profiles: IEEE-11073 SFLOAT and FLOAT, Date Time.

Owns the number formats and the field reader the measurement decoders in
:mod:`edge.ble_health` stand on. Pure: bytes in, values out; no radio, no clock.

* **SFLOAT** (IEEE 11073-20601 "SFLOAT-Type", the GATT Specification Supplement's
  ``medfloat16``): 16 bits little-endian, a signed 4-bit exponent (bits 12-15) and a signed
  12-bit mantissa (bits 0-11), value = mantissa x 10^exponent. Five values with exponent 0 are
  not numbers: 0x07FF NaN, 0x0800 NRes (not at this resolution), 0x07FE +INFINITY, 0x0802
  -INFINITY and 0x0801 reserved. Only those exact values are special: with another exponent
  the same mantissa is an ordinary number (0xF7FE is 204.6, a systolic a monitor with 0.1 mmHg
  resolution may send).
* **FLOAT** (``medfloat32``): 32 bits, a signed 8-bit exponent and a signed 24-bit mantissa;
  its specials are 0x007FFFFF NaN, 0x00800000 NRes, 0x007FFFFE +INF, 0x00800002 -INF and
  0x00800001 reserved. None of the four measurements here uses it (the thermometer's does).
* **Date Time** (0x2A08): year uint16 (1582-9999, 0 = not known), month (1-12, 0 = not
  known), day (1-31, 0 = not known), hours, minutes, seconds: 7 bytes, in the device's own
  local time with no zone of its own.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final


class DecodeError(ValueError):
    """The bytes do not hold what the specification says (too short, bad field)."""


class Special(Enum):
    """An SFLOAT or FLOAT that is not a number."""

    NAN = "nan"
    NRES = "nres"
    POSITIVE_INFINITY = "+inf"
    NEGATIVE_INFINITY = "-inf"
    RESERVED = "reserved"


Number = float | Special
"""A decoded SFLOAT/FLOAT: a float, or the special value it stands for."""

_SFLOAT_SPECIALS: Final = {
    0x07FF: Special.NAN,
    0x0800: Special.NRES,
    0x07FE: Special.POSITIVE_INFINITY,
    0x0802: Special.NEGATIVE_INFINITY,
    0x0801: Special.RESERVED,
}
_FLOAT_SPECIALS: Final = {
    0x007FFFFF: Special.NAN,
    0x00800000: Special.NRES,
    0x007FFFFE: Special.POSITIVE_INFINITY,
    0x00800002: Special.NEGATIVE_INFINITY,
    0x00800001: Special.RESERVED,
}


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def _scaled(mantissa: int, exponent: int) -> float:
    # Decimal scaling by division for negative exponents, so 120e-5 is 0.0012 exactly as a
    # float can hold it (120 * 10**-5 would be 0.0012000000000000001).
    return mantissa / 10**-exponent if exponent < 0 else float(mantissa * 10**exponent)


def sfloat(raw: int) -> Number:
    """The value of one 16-bit SFLOAT given as an unsigned integer."""
    if not 0 <= raw <= 0xFFFF:
        msg = f"an SFLOAT is 16 bits, not {raw:#x}"
        raise DecodeError(msg)
    special = _SFLOAT_SPECIALS.get(raw)
    if special is not None:
        return special
    return _scaled(_signed(raw & 0x0FFF, 12), _signed(raw >> 12, 4))


def float32(raw: int) -> Number:
    """The value of one 32-bit FLOAT given as an unsigned integer."""
    if not 0 <= raw <= 0xFFFFFFFF:
        msg = f"a FLOAT is 32 bits, not {raw:#x}"
        raise DecodeError(msg)
    special = _FLOAT_SPECIALS.get(raw)
    if special is not None:
        return special
    return _scaled(_signed(raw & 0xFFFFFF, 24), _signed(raw >> 24, 8))


@dataclass(frozen=True, slots=True)
class DateTime:
    """A Date Time field as sent; ``at`` is None when the device says it does not know."""

    year: int
    month: int
    day: int
    hours: int
    minutes: int
    seconds: int

    @property
    def at(self) -> datetime | None:
        """The naive local time it names, or None if any part is "not known" or invalid."""
        if self.year == 0 or self.month == 0 or self.day == 0:
            return None
        try:
            return datetime(  # noqa: DTZ001 - the device's local time; the caller gives it a zone
                self.year, self.month, self.day, self.hours, self.minutes, self.seconds
            )
        except ValueError:
            return None


class Reader:
    """Reads a characteristic value front to back, little-endian, as its fields are laid out."""

    def __init__(self, data: bytes, what: str) -> None:
        self._data = bytes(data)
        self._at = 0
        self.what = what

    def _take(self, size: int, field: str) -> bytes:
        end = self._at + size
        if end > len(self._data):
            msg = f"{self.what}: {len(self._data)} bytes end before {field} (needs {end})"
            raise DecodeError(msg)
        chunk = self._data[self._at : end]
        self._at = end
        return chunk

    def u8(self, field: str) -> int:
        return self._take(1, field)[0]

    def u16(self, field: str) -> int:
        return int(struct.unpack("<H", self._take(2, field))[0])

    def s16(self, field: str) -> int:
        return int(struct.unpack("<h", self._take(2, field))[0])

    def u24(self, field: str) -> int:
        low, high = struct.unpack("<HB", self._take(3, field))
        return int(low) | int(high) << 16

    def sfloat(self, field: str) -> Number:
        return sfloat(self.u16(field))

    def float32(self, field: str) -> Number:
        return float32(int(struct.unpack("<I", self._take(4, field))[0]))

    def date_time(self, field: str) -> DateTime:
        year, month, day, hours, minutes, seconds = struct.unpack("<HBBBBB", self._take(7, field))
        return DateTime(year, month, day, hours, minutes, seconds)

    @property
    def rest(self) -> int:
        """Bytes not read yet (a later revision of a characteristic may append fields)."""
        return len(self._data) - self._at
