"""Guardians' quiet hours: when a routine message waits, and until when.

A contact may set ``quiet_hours`` such as ``"22:00-07:00"`` (local time, ``ANBU_TZ``; a
window may cross midnight). A routine message (inactivity, reminders, resumption) that falls
in the window is held until it ends, but never longer than ``ANBU_QUIET_HOLD_MAX``: a held
message is late, never lost. Emergencies are never held.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_SPEC = re.compile(r"\A([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)\Z")


def parse_quiet_hours(spec: str) -> tuple[time, time]:
    """``"HH:MM-HH:MM"`` → (start, end); raises ValueError with the expected form."""
    match = _SPEC.match(spec.strip())
    if match is None:
        msg = f"quiet_hours must look like 22:00-07:00, not {spec!r}"
        raise ValueError(msg)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        msg = "quiet_hours start and end must differ"
        raise ValueError(msg)
    return start, end


def quiet_until(spec: str | None, now: datetime, tz: str, hold_max: timedelta) -> datetime | None:
    """When a routine message to this contact may go, if ``now`` is in their quiet hours."""
    if not spec or hold_max <= timedelta(0):
        return None
    start, end = parse_quiet_hours(spec)
    local = now.astimezone(ZoneInfo(tz))
    clock = local.time()
    inside = start <= clock < end if start < end else clock >= start or clock < end
    if not inside:
        return None
    end_today = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    ends = end_today if end_today > local else end_today + timedelta(days=1)
    return min(ends, local + hold_max).astimezone(now.tzinfo)
