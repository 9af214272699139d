"""Appliance timers: a signal that starts a device's day at the same minute every day is a
timer's, not the resident's.

Korean rice cookers start on a reservation timer, radios and lamps hang on plug timers:
each draws power (or plays) at the same minute every morning whether or not anyone is well,
and a fall in the night would otherwise look like a resident who got up at 05:35 as usual.

The rule (:func:`timer_signal`): an activity from a source that is not the resident's own
(power, motion, media, "other"; :data:`alerts.routine.OWN_SOURCES` never) is a timer's when
it is the first of its local day for that device and source, and on each of the
:data:`REPEAT_DAYS` days before, that device and source also began the day within
:data:`TOLERANCE_MIN` minutes of the same clock time, with at most :data:`FEW` signals that
day (a plug a person uses all day starts at a similar time by chance; a timer fires a
handful of times). A timer's signal keeps its device seen, but it is not a sign of life: it
neither moves the inactivity basis nor ends an inactivity alert, and the routine does not
learn it. Only the first signal of a day can be judged so, which keeps the rule cheap and
independent of how signals are batched; later ones count as usual.

State (:class:`TimerWatch`, in the resident's state): per device and source, the first
minute and the count of today and of the two days before: a few dozen bytes.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from pydantic import BaseModel, ConfigDict, Field

from alerts.routine import OWN_SOURCES

__all__ = ["FEW", "REPEAT_DAYS", "TOLERANCE_MIN", "TimerWatch", "judged", "timer_signal", "watched"]

REPEAT_DAYS = 2
TOLERANCE_MIN = 3
FEW = 6
_DAY_MIN = 24 * 60


class TimerWatch(BaseModel):
    """Per ``"device|source"``: ``[day ordinal, first minute, signals]`` for recent days,
    newest first (at most ``REPEAT_DAYS + 1``)."""

    model_config = ConfigDict(extra="forbid")

    days: dict[str, list[list[int]]] = Field(default_factory=dict)

    def copy_mutable(self) -> TimerWatch:
        return TimerWatch(days={k: [list(d) for d in v] for k, v in self.days.items()})


def watched(rule: str, source: str) -> bool:
    """Whether the timer rule looks at this signal at all: the routine rule, and a source
    that is not the resident's own. Every such signal goes to :func:`timer_signal` (its
    count tells a busy plug from a timer)."""
    return rule == "routine" and source not in OWN_SOURCES


def judged(
    watch: TimerWatch, rule: str, device: str, source: str, at: datetime, zone: tzinfo
) -> bool:
    """Whether :func:`timer_signal` would judge this signal: a watched one that is the first
    of its local day for the device and source (a batch that folds signals together must let
    such a one through as it came)."""
    if not watched(rule, source):
        return False
    history = watch.days.get(_key(device, source))
    return not history or history[0][0] != at.astimezone(zone).toordinal()


def _key(device: str, source: str) -> str:
    return f"{device}|{source}"


def timer_signal(
    watch: TimerWatch, device: str, source: str, at: datetime, count: int, zone: tzinfo
) -> bool:
    """Record one non-own signal (``count`` folded in) and say whether it is a timer's."""
    local = at.astimezone(zone)
    day = local.toordinal()
    minute = local.hour * 60 + local.minute
    history = watch.days.setdefault(_key(device, source), [])
    if history and day < history[0][0]:
        return False  # a late, buffered signal of an earlier day: judged as a person's
    if history and history[0][0] == day:
        history[0][2] += count
        return False
    before = history[:REPEAT_DAYS]
    history.insert(0, [day, minute, count])
    del history[REPEAT_DAYS + 1 :]
    if len(before) < REPEAT_DAYS:
        return False
    for back, (then, first, signals) in enumerate(before, start=1):
        if then != day - back or signals > FEW:
            return False
        gap = abs(first - minute)
        if min(gap, _DAY_MIN - gap) > TOLERANCE_MIN:
            return False
    return True
