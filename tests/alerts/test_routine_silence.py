"""The measured silence (:class:`alerts.routine.Silence`) answers exactly as measuring afresh.

:func:`alerts.routine.unusual_at` measures a silence's hours once and keeps the hours past
the first per starting hour, shared by every sign of life in it. That is for speed only: the
reference below is the direct measurement it replaced, hour by hour from the start, and the
two must agree to the microsecond (and in the very object returned at a deadline) for any
profile, start, threshold, deadline and urgency.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.calendar import WorkingCalendar
from alerts.routine import (
    _HORIZON_H,
    _MIN_PER_DAY,
    OUT_FACTOR,
    RestDay,
    Routine,
    Silence,
    _asleep_minute,
    _hourly,
    unusual_at,
)

SEOUL = ZoneInfo("Asia/Seoul")
CALENDAR = WorkingCalendar()


def rest(day: date) -> bool:
    return not CALENDAR.is_working_day(day)


def reference(
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
    """unusual_at as it was before the silence was measured once (verbatim)."""
    t0 = start.timestamp()
    first, rates = _hourly(routine, start, zone, rest_day, own)
    need = threshold / (OUT_FACTOR if out else 1.0)
    end = deadline.timestamp() if deadline is not None else math.inf
    if end <= t0:
        return start
    pieces: list[tuple[float, float, float, bool]] = []
    offset = start.astimezone(zone).utcoffset()
    shift = offset.total_seconds() if offset is not None else 0.0
    for n, rate in enumerate(rates[1:], start=1):
        lo = max(t0, first + 3600 * n)
        hi = min(first + 3600 * (n + 1), end)
        if hi <= lo:
            if lo >= end:
                break
            continue
        minute = int((lo + hi) / 2 + shift) // 60 % _MIN_PER_DAY
        awake = urgency > 0 and not _asleep_minute(routine, minute)
        pieces.append((lo, hi, rate / 3600, awake))
    waking = sum(hi - lo for lo, hi, _, awake in pieces if awake)
    if urgency > 0 and deadline is not None:
        t = pieces[-1][1] if pieces else t0
        while t < end:
            hi = min(t + 3600, end)
            if not _asleep_minute(routine, int((t + hi) / 2 + shift) // 60 % _MIN_PER_DAY):
                waking += hi - t
            t = hi
    slope = urgency * need / waking if waking > 0 and deadline is not None else 0.0
    total = lowered = 0.0
    for lo, hi, gain, awake in pieces:
        k = slope if awake else 0.0
        short = need - lowered - total
        if short <= 0:
            return datetime.fromtimestamp(lo, UTC)
        x = lo + short / (gain + k) if gain + k > 0 else math.inf
        if x <= hi:
            return datetime.fromtimestamp(x, UTC)
        total += gain * (hi - lo)
        lowered += k * (hi - lo)
    if deadline is not None and end - t0 <= 3600 * _HORIZON_H:
        return deadline
    return None


per_mille = st.lists(st.integers(0, 1000), min_size=24, max_size=24)
routines = st.builds(
    Routine,
    work_days=st.integers(0, 30),
    rest_days=st.integers(0, 30),
    work=per_mille,
    rest=per_mille,
    work_own=per_mille,
    rest_own=per_mille,
    bed=st.none() | st.integers(0, 1439),
    wake=st.none() | st.integers(0, 1439),
)
starts = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(SEOUL)
)


@settings(max_examples=400, deadline=None)
@given(
    routine=routines,
    start=starts,
    thresholds=st.lists(st.floats(0, 60), min_size=1, max_size=4),
    own=st.booleans(),
    out=st.booleans(),
    deadline_s=st.none() | st.integers(-7200, 80 * 3600),
    urgency=st.sampled_from([0.0, 0.3, 0.7, 1.0]),
)
def test_a_measured_silence_answers_as_measuring_afresh(
    routine: Routine,
    start: datetime,
    thresholds: list[float],
    own: bool,
    out: bool,
    deadline_s: int | None,
    urgency: float,
) -> None:
    deadline = None if deadline_s is None else start + timedelta(seconds=deadline_s)
    silence = Silence(routine, start, SEOUL, rest, own=own, deadline=deadline, urgency=urgency)
    for threshold in thresholds:
        expected = reference(
            routine,
            start,
            threshold,
            SEOUL,
            rest,
            own=own,
            out=out,
            deadline=deadline,
            urgency=urgency,
        )
        for got in (
            silence.reaches(threshold, out=out),
            unusual_at(
                routine,
                start,
                threshold,
                SEOUL,
                rest,
                own=own,
                out=out,
                deadline=deadline,
                urgency=urgency,
            ),
        ):
            assert got == expected
            assert got is None or expected is None or got.tzinfo == expected.tzinfo
            if expected is deadline:
                assert got is deadline


@pytest.mark.parametrize("deadline_h", [20, 30, 47.5, 48, 50, 72])
@pytest.mark.parametrize("minute", [5, 55])
def test_silences_begun_in_the_same_hour_share_its_hours_but_not_their_deadline(
    deadline_h: float, minute: int
) -> None:
    routine = Routine(
        work_days=20, rest_days=10, work=[300] * 24, rest=[300] * 24, bed=600, wake=420
    )
    start = datetime(2026, 11, 17, 9, minute, 7, 123, tzinfo=SEOUL)
    deadline = start + timedelta(hours=deadline_h)
    for threshold in (3.0, 6.9, 12.0, 30.0, 50.0):
        for urgency in (0.0, 0.7):
            expected = reference(
                routine, start, threshold, SEOUL, rest, deadline=deadline, urgency=urgency
            )
            got = unusual_at(
                routine, start, threshold, SEOUL, rest, deadline=deadline, urgency=urgency
            )
            assert got == expected, (threshold, urgency)


def test_without_a_deadline_the_answer_does_not_depend_on_the_minute_the_silence_began() -> None:
    routine = Routine(work_days=20, work=[300] * 24, bed=600, wake=420)
    early = datetime(2026, 11, 17, 9, 5, tzinfo=SEOUL)
    assert unusual_at(routine, early, 6.9, SEOUL, rest) == unusual_at(
        routine, early + timedelta(minutes=50), 6.9, SEOUL, rest
    )
