"""How the board and the installer's work list say a sensor's health, in Korean.

Owns the lines staff read per sensor ("현관 문 센서: 응답 없음 3일", "욕실 누수 센서: 배터리
부족"), per blind gateway ("가정용 센서 gw-1: 게이트웨이 꺼짐") and which sensors need a new
battery (``battery_low``, or ``battery_pct`` at or below :data:`BATTERY_CHANGE_PCT`). The
words are the glossary's (:data:`protocol.glossary.SENSOR_HEALTH_WORDS`); the rows come from
:mod:`hub.store.sensor_health`. Pure: ``now`` is handed in.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.store.sensor_health import SensorRow
from protocol.glossary import DEVICE_KIND_SHOWN, SENSOR_HEALTH_WORDS

__all__ = [
    "BATTERY_CHANGE_PCT",
    "blind_line",
    "needs_battery",
    "problems",
    "sensor_line",
]

BATTERY_CHANGE_PCT = 20
"""At or below this charge a battery goes on the installer's list, before the sensor itself
says it is low (many report low only at a few per cent)."""

_WORDS = SENSOR_HEALTH_WORDS


def problems(row: SensorRow, now: datetime, threshold: int = BATTERY_CHANGE_PCT) -> list[str]:
    """What is wrong with the sensor, in the board's words; empty when nothing is."""
    found = []
    if row.available is False:
        found.append(f"{_WORDS['unavailable']} {_since(row.last_seen, now)}".rstrip())
    if needs_battery(row, threshold):
        low = _WORDS["battery_low"]
        found.append(low if row.battery_pct is None else f"{low} ({row.battery_pct}%)")
    if row.active_since is not None and row.signal == "water_leak":
        found.append(f"{_WORDS['wet']} {_since(row.active_since, now)}".rstrip())
    return found


def sensor_line(row: SensorRow, now: datetime, threshold: int = BATTERY_CHANGE_PCT) -> str | None:
    """``"현관 문 센서: 응답 없음 3일"``; None when the sensor is well."""
    found = problems(row, now, threshold)
    return f"{row.sensor}: {', '.join(found)}" if found else None


def needs_battery(row: SensorRow, threshold: int = BATTERY_CHANGE_PCT) -> bool:
    """The sensor says its battery is low, or its charge is at or below ``threshold``."""
    return bool(row.battery_low) or (row.battery_pct is not None and row.battery_pct <= threshold)


def blind_line(device_id: str, problem: str | None) -> str:
    """``"가정용 센서 gw-1: 게이트웨이 꺼짐"``: a gateway that cannot see the home."""
    word = _WORDS.get(problem or "", _WORDS["gateway_offline"])
    return f"{DEVICE_KIND_SHOWN['sensors']} {device_id}: {word}"


def _since(at: datetime | None, now: datetime) -> str:
    """How long ago, as staff say it: whole days, else whole hours, else under an hour."""
    if at is None:
        return ""
    gone = max(now - at, timedelta(0))
    if gone >= timedelta(days=1):
        return _WORDS["days"].format(n=gone.days)
    if gone >= timedelta(hours=1):
        return _WORDS["hours"].format(n=gone // timedelta(hours=1))
    return _WORDS["under_an_hour"]
