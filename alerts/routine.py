"""A resident's own routine, learned from their activity, and how unusual a silence is for them.

Owns :class:`Routine`, the part of :class:`~alerts.state.ResidentState` that remembers when this
resident is usually active (about 0.7 KB of JSON, whatever the history), how it is learned
(:func:`observe` for each sign of life, :func:`close_day` once a local day is over) and the
questions the routine-aware inactivity rule (:mod:`alerts.inactivity`) asks of it
(:func:`surprise`, :func:`unusual_at`, :func:`asleep_at`, :func:`usual_wake`).

Method, and why
---------------
A fixed silence rule cannot tell a sleeping resident from a fallen one. Floeck & Litz (2009)
and Cuddihy et al. (2007) answer with a per-resident profile of normal inactivity by time of
day; this module keeps such a profile in a form that adds up over a silence of any length:

* **Profile.** For each hour of the day, working days and rest days apart (weekends and public
  holidays are lived alike), ``p`` = the share of recent days with at least one sign of life
  in that hour: a plain mean over the first three weeks, then an exponentially weighted one
  with a memory of about three weeks (:data:`MEMORY_DAYS`), so a changed routine is learned in
  weeks. Rest days borrow from the working-day profile until they have a week of their own.
* **Surprise.** Each hour is treated as a Poisson process of "active hours" with rate
  ``lambda = -ln(1 - p)`` (p capped at 0.95: no single hour is proof), so a silence from ``T``
  to ``t`` has probability ``exp(-S)`` with ``S = integral of lambda from T to t`` (from the
  hour after ``T``'s: the hour of the last sign of life was an active one). ``S`` counts, in
  nats, how many of this resident's usually-active hours the silence has covered: the night
  adds almost nothing, a missed morning routine adds a lot. A policy states the odds it acts
  on (``routine_checkin_odds``: 1 in 20, ``routine_alert_odds``: 1 in 1000), which fixes the
  trade-off between false alarms and reaction time, as the operator's chosen mean time
  between false alarms does in Floeck & Litz.
* **Two channels** (after Wilhelm & Wahl's reliability weighting, 2024). Motion, a speaker's
  music and an appliance's power can come from a pet, a timer or a TV left on; the resident's
  *own* signals (voice, phone use, calls, doors, answered check-ins) cannot. Both are
  profiled, and a silence is as surprising as the more surprising of the two, so a fall that a
  radio on a timer keeps "active" still shows as the resident's own signals going missing.
* **Urgency.** The odds are fixed, the cost of waiting is not: a fall's harm grows with
  every hour on the floor, so the longer a silence, the less evidence it should take. With a
  deadline (the control centre's time) the threshold falls linearly with each hour of the
  silence the resident is usually awake, by ``routine_urgency`` of itself (0.7) by the
  deadline (:func:`unusual_at`). Hours of usual sleep do not lower it: a night is what the
  profile already expects, and counting it would turn every late morning into an alert. In a
  home with few sensors, whose profile can say little, this brings the alert towards the
  fixed rule's timing; where the profile says much, the silence reaches the odds first.
* **Out of the house.** When the last sign of life was a door, the resident has probably gone
  out, and a silence counts a quarter (:data:`OUT_FACTOR`).
* **Sleep.** The usual bedtime (the start of the first night gap of two hours or more begun
  between 18:00 and 05:00) and the usual first activity (the end of the last night gap of an
  hour or more, before 11:00), as exponentially weighted means with a spread, robust to the
  odd late night (deviations clipped at twice the spread).

Not learned: a day with no sign of life at all, and a day that cannot be trusted (``blind``:
an inactivity or monitoring-lost alert still open, away mode, every device offline), so an
incident is never learned as normal. Everything is integer epoch seconds and local minutes
inside; times in and out are aware datetimes, the zone is the working calendar's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from alerts.trends import DayFigures

__all__ = [
    "MEMORY_DAYS",
    "OUT_FACTOR",
    "OWN_SOURCES",
    "Routine",
    "asleep_at",
    "close_day",
    "day_figures",
    "ended_silence",
    "observe",
    "surprise",
    "unusual_at",
    "usual_wake",
]

HOURS = 24
MEMORY_DAYS = 21
"""After this many days of a kind, new days weigh 1/MEMORY_DAYS (about three weeks' memory)."""
REST_BORROW_DAYS = 7
"""Rest days lean on the working-day profile until they have this many days of their own."""
_P_MAX = 950
"""Per mille: no hour is ever certain, so one missed hour never decides alone."""
OUT_FACTOR = 0.25
"""How much a silence after a door counts (the resident has probably gone out)."""
OWN_SOURCES = frozenset({"voice", "screen", "call", "door", "app", "checkin"})
"""Signals only the resident makes; motion, speaker music, power and "other" can come from a
pet, a timer or an appliance left on."""

_NIGHT_GAP_S = 3600
_BED_GAP_S = 7200
_MIN_PER_DAY = 1440
_NOON = 720


def _zeros() -> list[int]:
    return [0] * HOURS


class Routine(BaseModel):
    """What this resident's days usually look like, and the day being gathered."""

    model_config = ConfigDict(extra="forbid")

    # -- the day being gathered (local date in the calendar's zone)
    day: date | None = None
    hours: int = 0
    """Bit h set: some sign of life in local hour h of ``day``."""
    own_hours: int = 0
    """Bit h set: one of the resident's own signals (:data:`OWN_SOURCES`) in hour h."""
    signals: list[int] = Field(default_factory=lambda: [0, 0, 0, 0])
    """Signals of ``day`` per part of the day (00-06, 06-12, 12-18, 18-24), for trends."""
    night: list[int] | None = None
    """``[bed, wake]`` of the night that ended on ``day``: bed in minutes after noon of the
    day before, wake in minutes after midnight; None until seen."""
    blind: bool = False
    """Something made ``day`` untrustworthy (see the module docstring): it is not learned."""
    day_peak: float = 0.0
    day_own_peak: float = 0.0
    """The most surprising silence that ended in ``day`` (all signals; own signals)."""

    # -- what was learned from earlier days
    work_days: int = 0
    rest_days: int = 0
    work: list[int] = Field(default_factory=_zeros)
    """Per mille per hour: share of working days with a sign of life in that hour."""
    rest: list[int] = Field(default_factory=_zeros)
    work_own: list[int] = Field(default_factory=_zeros)
    rest_own: list[int] = Field(default_factory=_zeros)
    bed: int | None = None
    """Usual bedtime, minutes after noon (21:30 is 570)."""
    bed_spread: int = 60
    wake: int | None = None
    """Usual first activity, minutes after midnight."""
    wake_spread: int = 60
    peak: float = 0.0
    own_peak: float = 0.0
    """How surprising this resident's most surprising normal silences of recent weeks were
    (a maximum that fades by 1/MEMORY_DAYS a day): the thresholds start no lower than it, so
    the model's own blind spots (hours that are not really independent) are calibrated away;
    only the urgency of a long waking silence lowers them from there."""
    repeats: list[float] = Field(default_factory=lambda: [2.0, 1.6, 0.0])
    """``[asked, missed, open]``: check-ins asked again, within minutes, after one left
    unanswered, how many of those went unanswered too (exponentially weighted like the first
    question's counts in :class:`~alerts.state.ResidentState`; the prior says a resident who
    missed one usually misses the next: out, or asleep), and 1.0 while such a repeat waits
    for its answer. See :func:`alerts.inactivity.repeat_evidence`."""

    @property
    def learned_days(self) -> int:
        return self.work_days + self.rest_days

    def copy_mutable(self) -> Routine:
        """A copy that shares no list with this one (the engine's working copy)."""
        return self.model_copy(
            update={
                "signals": list(self.signals),
                "night": None if self.night is None else list(self.night),
                "work": list(self.work),
                "rest": list(self.rest),
                "work_own": list(self.work_own),
                "rest_own": list(self.rest_own),
                "repeats": list(self.repeats),
            }
        )


# --------------------------------------------------------------------------- learning

RestDay = Callable[[date], bool]
"""Whether a local date is a rest day (weekend or public holiday): the working calendar's."""


def observe(
    routine: Routine,
    at: datetime,
    previous: datetime | None,
    source: str,
    count: int,
    zone: ZoneInfo,
) -> None:
    """Fold one sign of life at ``at`` (aware) into the day being gathered.

    ``previous`` is the sign of life before it (None if none): the gap between them may be the
    night. Only signals of the day being gathered count (the caller closes earlier days and
    sets the day first); one that arrived late from an earlier day teaches nothing.
    """
    local = at.astimezone(zone)
    if local.date() != routine.day:
        return
    bit = 1 << local.hour
    routine.hours |= bit
    if source in OWN_SOURCES:
        routine.own_hours |= bit
    routine.signals[local.hour // 6] += max(1, count)
    if previous is not None and previous < at:
        _night_gap(routine, previous.astimezone(zone), local, at - previous)


def _night_gap(routine: Routine, start: datetime, end: datetime, gap: timedelta) -> None:
    """A gap that began in the evening or night and ended in the morning is part of the night."""
    seconds = gap.total_seconds()
    if seconds < _NIGHT_GAP_S or seconds > 18 * 3600:
        return
    start_min = start.hour * 60 + start.minute
    end_min = end.hour * 60 + end.minute
    if not (start_min >= 18 * 60 or start_min < 5 * 60) or end_min >= 11 * 60:
        return
    bed = (start_min - _NOON) % _MIN_PER_DAY
    night = routine.night
    if night is None:
        night = [bed if seconds >= _BED_GAP_S else -1, end_min]
    else:
        if night[0] < 0 and seconds >= _BED_GAP_S:
            night[0] = bed
        night[1] = end_min
    routine.night = night


def day_figures(routine: Routine) -> DayFigures:
    """The gathered day as the trend charts take it (:mod:`alerts.trends`)."""
    night_min = None
    night_hours = 0
    if routine.night is not None:
        bed, wake = routine.night
        if bed >= 0:
            night_min = wake + (_MIN_PER_DAY - _NOON - bed)
        night_hours = bin(routine.hours & ((1 << (wake // 60)) - 1)).count("1")
    signals = (routine.signals[0], routine.signals[1], routine.signals[2], routine.signals[3])
    assert routine.day is not None  # noqa: S101 - only called for a gathered day
    return DayFigures(routine.day, signals, night_min, night_hours)


def close_day(routine: Routine, today: date, rest_day: RestDay) -> None:
    """The local day is now ``today``: learn the gathered day if it can be trusted, start anew.

    Days with no sign of life in between are skipped, never learned as silent.
    """
    day = routine.day
    if day is None or today <= day:
        return
    if routine.hours and not routine.blind:
        _learn(routine, rest_day(day))
    fade = 1.0 - 1.0 / MEMORY_DAYS
    if not routine.blind:
        routine.peak = round(max(routine.day_peak, routine.peak * fade), 3)
        routine.own_peak = round(max(routine.day_own_peak, routine.own_peak * fade), 3)
    routine.day_peak = 0.0
    routine.day_own_peak = 0.0
    routine.day = today
    routine.hours = 0
    routine.own_hours = 0
    routine.signals = [0, 0, 0, 0]
    routine.night = None
    routine.blind = False


def ended_silence(
    routine: Routine,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    rest_day: RestDay,
    *,
    own: bool,
    out: bool,
) -> None:
    """A silence from ``start`` ended with a sign of life at ``end``: it was a normal one, so
    the day's peak surprise may rise. Silences under half an hour are not worth the sums."""
    if routine.blind or (end - start).total_seconds() < _PEAK_MIN_GAP_S:
        return
    value = surprise(routine, start, end, zone, rest_day, own=own, out=out)
    value = round(value, 3)
    if own:
        routine.day_own_peak = max(routine.day_own_peak, value)
    else:
        routine.day_peak = max(routine.day_peak, value)


_PEAK_MIN_GAP_S = 1800


def _learn(routine: Routine, rest: bool) -> None:
    n = routine.rest_days if rest else routine.work_days
    weight = 1.0 / min(n + 1, MEMORY_DAYS)
    for profile, bits in (
        (routine.rest if rest else routine.work, routine.hours),
        (routine.rest_own if rest else routine.work_own, routine.own_hours),
    ):
        for hour in range(HOURS):
            seen = 1000 if bits >> hour & 1 else 0
            profile[hour] = round(profile[hour] + weight * (seen - profile[hour]))
    if rest:
        routine.rest_days += 1
    else:
        routine.work_days += 1
    if routine.night is not None:
        bed, wake = routine.night
        days = routine.learned_days
        if bed >= 0:
            routine.bed, routine.bed_spread = _robust_mean(
                routine.bed, routine.bed_spread, bed, days
            )
        routine.wake, routine.wake_spread = _robust_mean(
            routine.wake, routine.wake_spread, wake, days
        )


def _robust_mean(mean: int | None, spread: int, value: int, days: int) -> tuple[int, int]:
    """An exponentially weighted mean and mean absolute deviation, deviations clipped at twice
    the spread so one sleepless night moves the usual time a little, not an hour."""
    if mean is None:
        return value, spread
    weight = 1.0 / min(days, MEMORY_DAYS)
    step = max(-2 * spread, min(2 * spread, value - mean))
    new_mean = round(mean + weight * step)
    new_spread = round(spread + weight * (abs(value - mean) - spread))
    return new_mean, max(10, min(180, new_spread))


# --------------------------------------------------------------------------- asking


def _rates(routine: Routine, rest: bool, own: bool) -> tuple[float, ...]:
    """lambda per hour (active hours per hour) for one kind of day and one channel."""
    if rest:
        mine = routine.rest_own if own else routine.rest
        other = routine.work_own if own else routine.work
        borrow = max(0, REST_BORROW_DAYS - routine.rest_days) / REST_BORROW_DAYS
        if routine.work_days == 0:
            borrow = 0.0
        return _lambdas(tuple(mine), tuple(other), borrow)
    return _lambdas(tuple(routine.work_own if own else routine.work), (), 0.0)


@lru_cache(maxsize=8192)
def _lambdas(mine: tuple[int, ...], other: tuple[int, ...], borrow: float) -> tuple[float, ...]:
    # Cached: a profile changes once a day, and every decision about the resident asks.
    per_mille = (
        [(1 - borrow) * m + borrow * o for m, o in zip(mine, other, strict=True)]
        if other
        else [float(p) for p in mine]
    )
    return tuple(-math.log(1.0 - min(p, _P_MAX) / 1000.0) for p in per_mille)


_HORIZON_H = 48
"""How far ahead a silence is scored; every policy cap is shorter."""


def _hourly(
    routine: Routine, start: datetime, zone: ZoneInfo, rest_day: RestDay, own: bool
) -> tuple[int, list[float]]:
    """The epoch second of the local hour containing ``start``, and lambda for the 48 hours
    from there. The zone's offset at ``start`` is used throughout: exact for Korea, and at most
    an hour off across a daylight-saving change elsewhere."""
    offset = start.astimezone(zone).utcoffset()
    shift = int(offset.total_seconds()) if offset is not None else 0
    local_hour = (int(start.timestamp()) + shift) // 3600
    first_day, first_hour = divmod(local_hour, 24)
    tables: dict[bool, tuple[float, ...]] = {}
    rates: list[float] = []
    for n in range(3):
        rest = rest_day(date.fromordinal(_EPOCH_ORDINAL + first_day + n))
        table = tables.get(rest)
        if table is None:
            table = tables[rest] = _rates(routine, rest, own)
        rates.extend(table)
    return local_hour * 3600 - shift, rates[first_hour : first_hour + _HORIZON_H]


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def surprise(
    routine: Routine,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    rest_day: RestDay,
    *,
    own: bool = False,
    out: bool = False,
) -> float:
    """S of the silence from ``start`` to ``end`` (nats; see the module docstring).

    ``own``: on the resident's own signals; ``out``: the last sign of life was a door. Past
    48 hours the silence counts at the last day's mean rate.
    """
    t0, t1 = start.timestamp(), end.timestamp()
    if t1 <= t0:
        return 0.0
    first, rates = _hourly(routine, start, zone, rest_day, own)
    total = 0.0
    # The hour the silence began in had its sign of life: it is no evidence (the count is of
    # hours without one), so the sum starts at the next hour.
    for n, rate in enumerate(rates[1:], start=1):
        lo = max(t0, first + 3600 * n)
        hi = min(t1, first + 3600 * (n + 1))
        if hi <= lo:
            if lo >= t1:
                break
            continue
        total += rate * (hi - lo) / 3600
    horizon = first + 3600 * _HORIZON_H
    if t1 > horizon:
        total += sum(rates[-24:]) * (t1 - horizon) / 86400
    return total * (OUT_FACTOR if out else 1.0)


def unusual_at(
    routine: Routine,
    start: datetime,
    threshold: float,
    zone: ZoneInfo,
    rest_day: RestDay,
    *,
    own: bool = False,
    out: bool = False,
    deadline: datetime | None = None,
    urgency: float = 0.0,
) -> datetime | None:
    """When the silence begun at ``start`` reaches surprise ``threshold``; None within 48 h.

    With a ``deadline`` and an ``urgency`` the threshold falls with each hour of the silence
    the resident is usually awake, to ``(1 - urgency) * threshold`` at ``deadline`` (see
    *Urgency* in the module docstring); the answer is then never later than ``deadline``.
    """
    silence = Silence(routine, start, zone, rest_day, own=own, deadline=deadline, urgency=urgency)
    return silence.reaches(threshold, out=out)


# (start, end, gain in nats per second, whether the hour lowers the threshold)
_Piece = tuple[float, float, float, bool]


class Silence:
    """One silence, measured once and asked for several thresholds (:func:`unusual_at`).

    A plan asks the same silence for its check-in, its alert and the alert with unanswered
    check-ins counted in; measuring the hours once serves them all. The hours past the first
    do not depend on where in its hour the silence began, so they are kept per starting hour
    (:func:`_hours`) and shared by every sign of life in that hour; only the deadline cuts
    them short. The arithmetic is the same, in the same order, as measuring afresh.
    """

    __slots__ = ("_deadline", "_end", "_pieces", "_start", "_t0", "_urgency", "_waking")

    def __init__(
        self,
        routine: Routine,
        start: datetime,
        zone: ZoneInfo,
        rest_day: RestDay,
        *,
        own: bool = False,
        deadline: datetime | None = None,
        urgency: float = 0.0,
    ) -> None:
        self._start = start
        self._deadline = deadline
        self._urgency = urgency
        self._t0 = t0 = start.timestamp()
        self._end = end = deadline.timestamp() if deadline is not None else math.inf
        self._pieces: tuple[_Piece, ...] | list[_Piece] = ()
        self._waking: float = 0
        if end <= t0:
            return
        first, rates = _hourly(routine, start, zone, rest_day, own)
        offset = start.astimezone(zone).utcoffset()
        shift = offset.total_seconds() if offset is not None else 0.0  # as _hourly takes it
        lowering = urgency > 0
        bed, wake = routine.bed, routine.wake
        pieces, waking_before = _hours(first, shift, tuple(rates), bed, wake, lowering)
        if end == math.inf:
            self._pieces = pieces
            return  # no deadline: nothing lowers the threshold
        # The hours that begin before the deadline; the last one is cut at it.
        count = 0
        while count < len(pieces) and pieces[count][0] < end:
            count += 1
        kept = list(pieces[:count])
        waking = waking_before[count]
        if kept and kept[-1][1] > end:
            lo, hi, gain, awake = kept[-1]
            hi = min(hi, end)
            minute = int((lo + hi) / 2 + shift) // 60 % _MIN_PER_DAY
            awake = lowering and not _asleep_between(bed, wake, minute)
            kept[-1] = (lo, hi, gain, awake)
            waking = waking_before[count - 1] + (hi - lo) if awake else waking_before[count - 1]
        if lowering:
            # A deadline past the profile's 48 hours (a policy with a longer centre time): its
            # waking hours count too, so the threshold still reaches its floor at the deadline.
            t = kept[-1][1] if kept else t0
            while t < end:
                hi = min(t + 3600, end)
                minute = int((t + hi) / 2 + shift) // 60 % _MIN_PER_DAY
                if not _asleep_between(bed, wake, minute):
                    waking += hi - t
                t = hi
        self._pieces = kept
        self._waking = waking

    def reaches(self, threshold: float, *, out: bool = False) -> datetime | None:
        """When the silence reaches surprise ``threshold`` (after a door: ``out``)."""
        need = threshold / (OUT_FACTOR if out else 1.0)
        if self._end <= self._t0:
            return self._start
        waking = self._waking
        slope = self._urgency * need / waking if waking > 0 else 0.0
        total = lowered = 0.0
        for lo, hi, gain, awake in self._pieces:
            k = slope if awake else 0.0
            # The first x in [lo, hi] with total + gain*(x - lo) >= need - lowered - k*(x - lo).
            short = need - lowered - total
            if short <= 0:
                return _at(lo)
            x = lo + short / (gain + k) if gain + k > 0 else math.inf
            if x <= hi:
                return _at(x)
            total += gain * (hi - lo)
            lowered += k * (hi - lo)
        deadline = self._deadline
        if deadline is not None and self._end - self._t0 <= 3600 * _HORIZON_H:
            return deadline
        return None


@lru_cache(maxsize=4096)
def _hours(
    first: int,
    shift: float,
    rates: tuple[float, ...],
    bed: int | None,
    wake: int | None,
    lowering: bool,
) -> tuple[tuple[_Piece, ...], tuple[float, ...]]:
    """The hours of a silence begun in the local hour at epoch ``first``, from the next hour
    on (as in :func:`surprise`), with no deadline; and the waking seconds before each (summed
    in order, as a sum over the hours kept would be). Cached: every sign of life in the same
    hour of the same profile starts a silence with these hours."""
    pieces: list[_Piece] = []
    waking_before: list[float] = [0]
    waking: float = 0
    for n, rate in enumerate(rates[1:], start=1):
        lo = first + 3600 * n
        hi = first + 3600 * (n + 1)
        minute = int((lo + hi) / 2 + shift) // 60 % _MIN_PER_DAY
        awake = lowering and not _asleep_between(bed, wake, minute)
        pieces.append((lo, hi, rate / 3600, awake))
        if awake:
            waking = waking + (hi - lo)
        waking_before.append(waking)
    return tuple(pieces), tuple(waking_before)


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def asleep_at(routine: Routine, at: datetime, zone: ZoneInfo, margin_min: int = 0) -> bool:
    """Whether ``at`` falls in the resident's usual sleep window (bedtime to first activity).

    ``margin_min`` widens the window at both ends. False while no night has been learned.
    """
    local = at.astimezone(zone)
    return _asleep_minute(routine, local.hour * 60 + local.minute, margin_min)


def _asleep_minute(routine: Routine, minute: int, margin_min: int = 0) -> bool:
    """:func:`asleep_at` for a local minute of the day."""
    return _asleep_between(routine.bed, routine.wake, minute, margin_min)


def _asleep_between(
    usual_bed: int | None, usual_wake: int | None, minute: int, margin_min: int = 0
) -> bool:
    if usual_bed is None or usual_wake is None:
        return False
    bed = (usual_bed + _NOON - margin_min) % _MIN_PER_DAY
    wake = (usual_wake + margin_min) % _MIN_PER_DAY
    if bed <= wake:
        return bed <= minute < wake
    return minute >= bed or minute < wake


def usual_wake(routine: Routine, after: datetime, zone: ZoneInfo, margin_min: int = 0) -> datetime:
    """The next usual first-activity time (plus ``margin_min``) at or after ``after``."""
    wake = (routine.wake if routine.wake is not None else 7 * 60) + margin_min
    local = after.astimezone(zone)
    candidate = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(minutes=wake)
    if candidate < local:
        candidate += timedelta(days=1)
    return candidate.astimezone(UTC)
