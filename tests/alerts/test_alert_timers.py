"""Appliance timers (alerts/timers.py): a rice cooker that starts at 05:35 every morning is
not a resident who got up at 05:35."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.calendar import WorkingCalendar
from alerts.clock import FakeClock
from alerts.engine import Escalation
from alerts.inputs import Activity, RegisterDevice
from alerts.policy import DEFAULT_POLICY
from alerts.state import ResidentState
from alerts.testing import VirtualResident
from alerts.timers import FEW, TimerWatch, timer_signal

SEOUL = ZoneInfo("Asia/Seoul")
MONDAY = datetime(2026, 11, 2, 0, 0, tzinfo=SEOUL)
ROUTINE = DEFAULT_POLICY.with_overrides({"inactivity_rule": "routine"})


def at(day: int, hour: int, minute: int) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


def test_a_day_begun_at_the_same_minute_three_days_running_is_a_timer_s() -> None:
    watch = TimerWatch()
    seen = [timer_signal(watch, "plug", "power", at(d, 5, 35 + d % 2), 1, SEOUL) for d in range(4)]
    assert seen == [False, False, True, True]
    # Later signals of the day are never judged: a person may use the cooker after it.
    assert not timer_signal(watch, "plug", "power", at(3, 12, 0), 1, SEOUL)
    # Another device or source has its own history.
    assert not timer_signal(watch, "plug", "other", at(3, 5, 35), 1, SEOUL)


def test_a_busy_plug_a_moved_minute_or_a_missed_day_is_a_person_s() -> None:
    busy = TimerWatch()
    for d in range(2):
        timer_signal(busy, "plug", "power", at(d, 7, 0), FEW + 1, SEOUL)  # the TV, all day
    assert not timer_signal(busy, "plug", "power", at(2, 7, 1), 1, SEOUL)
    moved = TimerWatch()
    for d, minute in enumerate((0, 0, 10)):
        last = timer_signal(moved, "plug", "power", at(d, 7, minute), 1, SEOUL)
    assert not last
    gap = TimerWatch()
    for d in (0, 1, 3):
        last = timer_signal(gap, "plug", "power", at(d, 7, 0), 1, SEOUL)
    assert not last
    # A buffered signal of an earlier day arriving late is a person's, not judged.
    assert not timer_signal(gap, "plug", "power", at(2, 7, 0), 1, SEOUL)
    assert len(TimerWatch(days=gap.days).model_dump_json()) < 200


def resident() -> VirtualResident:
    vr = VirtualResident(
        Escalation(WorkingCalendar()), ResidentState.new("r1", ROUTINE, MONDAY), FakeClock(MONDAY)
    )
    vr.send(RegisterDevice("kit", "sensors"))
    return vr


def test_the_cooker_s_morning_start_neither_moves_the_silence_nor_ends_an_alert() -> None:
    vr = resident()
    for d in range(3):
        vr.run_until(at(d, 5, 35).astimezone(UTC))
        vr.send(Activity("kit", at(d, 5, 35), "power"))
        vr.run_until(at(d, 9, 0).astimezone(UTC))
        vr.send(Activity("kit", at(d, 9, 0), "door"))
    # Day 3: nobody has been seen since the door yesterday at 09:00 (a fall in the evening);
    # the cooker starts at 05:35 as every day.
    vr.run_until(at(3, 5, 35).astimezone(UTC))
    vr.send(Activity("kit", at(3, 5, 35), "power"))
    assert vr.state.last_activity_at == at(2, 9, 0)  # still the door, yesterday 09:00
    vr.run_until(at(3, 9, 30).astimezone(UTC))
    assert "inactivity" in {a.kind for a in vr.state.alerts.values()}
    # The alert that silence opened is not closed by the next morning's start; the door is.
    vr.run_until(at(4, 5, 35).astimezone(UTC))
    vr.send(Activity("kit", at(4, 5, 35), "power"))
    assert "inactivity" in {a.kind for a in vr.state.alerts.values()}
    vr.send(Activity("kit", at(4, 5, 40), "door"))
    assert "inactivity" not in {a.kind for a in vr.state.alerts.values()}


def test_the_fixed_rule_counts_every_signal_as_today() -> None:
    vr = VirtualResident(
        Escalation(WorkingCalendar()),
        ResidentState.new("r1", DEFAULT_POLICY, MONDAY),
        FakeClock(MONDAY),
    )
    vr.send(RegisterDevice("kit", "sensors"))
    for d in range(4):
        vr.run_until(at(d, 5, 35).astimezone(UTC))
        vr.send(Activity("kit", at(d, 5, 35), "power"))
    assert vr.state.last_activity_at == at(3, 5, 35)
