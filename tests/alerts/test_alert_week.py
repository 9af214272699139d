"""A week in virtual time with the default 12 h / 24 h policy, across 추석 and a weekend.

The resident is up from 07:00 to 22:00 on most days and goes quiet three times; there are two
emergencies, each acknowledged by the centre after two re-alerts and closed ten minutes in.
The hub is played by stepping a FakeClock from ``next_due`` to ``next_due``. Checks: officials
are paged only in working hours; everything else reaches them in a digest delivered at the
next working-day opening.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.actions import MarkDevice, Notify, OpenAlert, QueueDigest, ResolveAlert
from alerts.calendar import WorkingCalendar
from alerts.clock import FakeClock
from alerts.engine import Escalation, make_alert_id
from alerts.inputs import (
    Acknowledge,
    Activity,
    Emergency,
    Heartbeat,
    Input,
    RegisterDevice,
    Resolve,
    Tick,
)
from alerts.policy import DEFAULT_POLICY
from alerts.state import ResidentState
from alerts.testing import Step, VirtualResident

SEOUL = ZoneInfo("Asia/Seoul")
CALENDAR = WorkingCalendar()


def kst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 9, day, hour, minute, tzinfo=SEOUL)


START = kst(21, 0)  # Monday; 추석 is Thursday 24 to Saturday 26
END = kst(29, 12)
# Stretches without any activity: (last movement, first movement again).
QUIET = [(kst(21, 8), kst(22, 10)), (kst(23, 10), kst(25, 12)), (kst(28, 11), END)]
EMERGENCIES = [kst(26, 15), kst(28, 10)]  # 추석 Saturday; Monday morning in office hours


def scripted_week() -> Iterator[tuple[datetime, Input]]:
    """Heartbeats every 10 min; motion on the hour 07:00-22:00 except in QUIET stretches."""
    at = START
    while at < END:
        yield at, Heartbeat("spk-1", at, interval_s=600)
        local = at.astimezone(SEOUL)
        awake = time(7) <= local.time() <= time(22)
        quiet = any(start < at < end for start, end in QUIET)
        if local.minute == 0 and awake and not quiet:
            yield at, Activity("pir-1", at, "motion")
        at += timedelta(minutes=10)
    for n, at in enumerate(EMERGENCIES):
        alert_id = make_alert_id("r-week", "emergency", f"spk-1|e-{n}")
        yield at, Emergency("spk-1", at, f"e-{n}", "voice")
        yield at + timedelta(seconds=150), Acknowledge(alert_id, "operator-7", "control_center")
        yield at + timedelta(minutes=10), Resolve(alert_id, "operator-7", "resolved_by_phone")


@pytest.fixture(scope="module")
def week() -> list[Step]:
    engine = Escalation(CALENDAR)
    state = ResidentState.new("r-week", DEFAULT_POLICY, START)
    vr = VirtualResident(engine, state, FakeClock(START))
    vr.send(RegisterDevice("spk-1", "speaker"))
    vr.send(RegisterDevice("pir-1", "sensors"))
    for at, event in sorted(scripted_week(), key=lambda pair: pair[0]):
        vr.run_until(at)
        vr.send(event)
        assert engine.decide(vr.state, Tick(), at).actions == ()
    vr.run_until(END)
    return vr.history


def official_pages(week: list[Step]) -> list[tuple[datetime, Notify]]:
    return [
        (s.at, a) for s in week for a in s.actions if isinstance(a, Notify) and a.role == "official"
    ]


def digests(week: list[Step]) -> list[tuple[datetime, QueueDigest]]:
    return [(s.at, a) for s in week for a in s.actions if isinstance(a, QueueDigest)]


def test_officials_are_paged_only_in_working_hours(week: list[Step]) -> None:
    pages = official_pages(week)
    assert pages
    assert all(CALENDAR.is_working_time(at) for at, _ in pages)


def test_digests_are_for_after_hours_and_land_at_the_next_opening(week: list[Step]) -> None:
    queued = digests(week)
    assert queued
    for at, item in queued:
        assert item.role == "official"
        assert not CALENDAR.is_working_time(at)
        assert item.deliver_at == CALENDAR.next_working_start(at)
        local = item.deliver_at.astimezone(SEOUL)
        assert local.time() == time(9)
        assert CALENDAR.is_working_day(local.date())


def test_what_the_official_got_and_when(week: list[Step]) -> None:
    delivered = sorted(
        [(item.deliver_at, item.message) for _, item in digests(week)]
        + [(at, page.message) for at, page in official_pages(week)],
        key=lambda pair: pair[0],  # stable: same-morning items stay in the order they happened
    )
    assert delivered == [
        # Quiet Monday -> control-centre stage Tuesday 08:00, before the office opens.
        (kst(22, 9), "inactivity_official"),
        # Tuesday 10:00: activity again, office open.
        (kst(22, 10), "activity_resumed"),
        # Quiet from Wednesday 10:00: the centre takes over on 추석 Thursday; the official
        # hears on Monday, across the holiday and the weekend, as about the Saturday call.
        (kst(28, 9), "inactivity_official"),
        (kst(28, 9), "activity_resumed"),
        (kst(28, 9), "emergency_official"),
        # Monday 10:00 emergency in office hours: the official hears once the centre has
        # it (acknowledged at 10:02:30), "관제센터 확인 중".
        (kst(28, 10) + timedelta(seconds=150), "emergency_official"),
        # Quiet from Monday 11:00: control-centre stage Tuesday 11:00, office open.
        (kst(29, 11), "inactivity_official"),
    ]


def test_each_quiet_stretch_opens_one_inactivity_alert(week: list[Step]) -> None:
    opened = [(s.at, a.kind) for s in week for a in s.actions if isinstance(a, OpenAlert)]
    assert opened == [
        (kst(21, 20), "inactivity"),
        (kst(23, 22), "inactivity"),
        (kst(26, 15), "emergency"),
        (kst(28, 10), "emergency"),
        (kst(28, 23), "inactivity"),
    ]
    resolved = [(s.at, a.reason) for s in week for a in s.actions if isinstance(a, ResolveAlert)]
    assert resolved == [
        (kst(22, 10), "activity_resumed"),
        (kst(25, 12), "activity_resumed"),
        (kst(26, 15, 10), "resolved"),
        (kst(28, 10, 10), "resolved"),
    ]


def test_emergencies_realert_until_acknowledged(week: list[Step]) -> None:
    realerts = [
        (s.at, a.step)
        for s in week
        for a in s.actions
        if isinstance(a, Notify) and a.message == "emergency_realert"
    ]
    one_minute = timedelta(minutes=1)
    assert realerts == [
        (EMERGENCIES[0] + one_minute, "realert-1"),
        (EMERGENCIES[0] + 2 * one_minute, "realert-2"),
        (EMERGENCIES[1] + one_minute, "realert-1"),
        (EMERGENCIES[1] + 2 * one_minute, "realert-2"),
    ]


def test_the_supervisor_hears_of_each_late_answer_once_and_of_the_answer(
    week: list[Step],
) -> None:
    told = [
        (s.at, a.message, a.step)
        for s in week
        for a in s.actions
        if isinstance(a, Notify) and a.role == "supervisor"
    ]
    answered_at = timedelta(seconds=150)
    assert told == [
        (at + offset, message, step)
        for at in EMERGENCIES
        for offset, message, step in (
            (timedelta(minutes=1), "emergency_supervisor", "supervisor-1"),
            (answered_at, "emergency_supervisor_answered", "supervisor-answered-1"),
        )
    ]


def test_the_speaker_stayed_online_all_week(week: list[Step]) -> None:
    assert not any(isinstance(a, MarkDevice) for s in week for a in s.actions)
