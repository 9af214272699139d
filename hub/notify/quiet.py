"""Guardians' quiet hours: when a routine message waits, and until when.

A contact may set ``quiet_hours`` such as ``"22:00-07:00"`` (local time, ``ANBU_TZ``; a
window may cross midnight). A routine message (inactivity, reminders, resumption) that falls
in the window is held until it ends, but never longer than ``ANBU_QUIET_HOLD_MAX``: a held
message is late, never lost. Emergencies are never held.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from alerts.night import parse_window, window_around


def parse_quiet_hours(spec: str) -> tuple[time, time]:
    """``"HH:MM-HH:MM"`` → (start, end); raises ValueError with the expected form."""
    return parse_window(spec, "quiet_hours")


def quiet_until(spec: str | None, now: datetime, tz: str, hold_max: timedelta) -> datetime | None:
    """When a routine message to this contact may go, if ``now`` is in their quiet hours."""
    if not spec or hold_max <= timedelta(0):
        return None
    window = window_around(spec, now, ZoneInfo(tz))
    if window is None:
        return None
    return min(window[1], now + hold_max)
