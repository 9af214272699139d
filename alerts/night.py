"""Windows of the clock such as a guardian's night (``"23:00-07:00"``): parsing them and
finding where the one around a moment ends.

One definition for the core (the policy's ``guardian_night``) and the hub (a contact's own
``quiet_hours``). A window may cross midnight; times are local to the zone given.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, tzinfo

__all__ = ["after_night", "night_end", "parse_window", "window_around"]

_SPEC = re.compile(r"\A([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)\Z")


def parse_window(spec: str, what: str = "quiet_hours") -> tuple[time, time]:
    """``"HH:MM-HH:MM"`` → (start, end); raises ValueError naming ``what`` and the form."""
    match = _SPEC.match(spec.strip())
    if match is None:
        msg = f"{what} must look like 22:00-07:00, not {spec!r}"
        raise ValueError(msg)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        msg = f"{what} start and end must differ"
        raise ValueError(msg)
    return start, end


def window_around(spec: str, at: datetime, zone: tzinfo) -> tuple[datetime, datetime] | None:
    """(start, end) of the window ``at`` falls in, in ``at``'s time zone; None outside it."""
    start, end = parse_window(spec)
    local = at.astimezone(zone)
    clock = local.time()
    inside = start <= clock < end if start < end else clock >= start or clock < end
    if not inside:
        return None
    day_end = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    ends = day_end if day_end > local else day_end + timedelta(days=1)
    day_start = local.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    begins = day_start if day_start <= local else day_start - timedelta(days=1)
    return begins.astimezone(at.tzinfo), ends.astimezone(at.tzinfo)


def night_end(spec: str | None, at: datetime, zone: tzinfo) -> datetime | None:
    """The end of the night ``spec`` that ``at`` falls in; None outside it or without one."""
    if spec is None:
        return None
    window = window_around(spec, at, zone)
    return None if window is None else window[1]


def after_night(spec: str | None, at: datetime, cap: datetime, zone: tzinfo) -> datetime:
    """``at``, or the end of the night it falls in, never past ``cap`` (nor before ``at``)."""
    end = night_end(spec, at, zone)
    return at if end is None else max(at, min(end, cap))
