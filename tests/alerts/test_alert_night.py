"""The guardians' night (policy ``guardian_night``): what waits for the morning, what never
does, and what a held message becomes when the alert ends before it goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.actions import Notify, OpenAlert, ResolveAlert
from alerts.calendar import WorkingCalendar
from alerts.clock import FakeClock
from alerts.engine import Escalation
from alerts.inputs import Activity, Emergency, Heartbeat, RegisterDevice
from alerts.night import after_night, night_end, parse_window
from alerts.policy import DEFAULT_POLICY
from alerts.state import ResidentState
from alerts.testing import VirtualResident

SEOUL = ZoneInfo("Asia/Seoul")
START = datetime(2026, 11, 4, 15, 0, tzinfo=SEOUL)  # a Wednesday afternoon
NIGHT = DEFAULT_POLICY.with_overrides({"guardian_night": "23:00-07:00"})


def resident() -> VirtualResident:
    vr = VirtualResident(
        Escalation(WorkingCalendar()), ResidentState.new("r1", NIGHT, START), FakeClock(START)
    )
    vr.send(RegisterDevice("spk", "speaker"))
    return vr


def guardian_notes(vr: VirtualResident) -> list[tuple[datetime, Notify]]:
    return [
        (step.at, a)
        for step in vr.history
        for a in step.actions
        if isinstance(a, Notify) and a.role == "guardian"
    ]


def test_the_window_is_parsed_and_found_across_midnight() -> None:
    assert parse_window("23:00-07:00")[0].hour == 23
    with pytest.raises(ValueError, match="22:00-07:00"):
        parse_window("11pm-7am", "guardian_night")
    late = datetime(2026, 11, 4, 23, 30, tzinfo=SEOUL)
    assert night_end("23:00-07:00", late, SEOUL) == datetime(2026, 11, 5, 7, 0, tzinfo=SEOUL)
    assert night_end("23:00-07:00", late.replace(hour=12), SEOUL) is None
    cap = late + timedelta(hours=2)
    assert after_night("23:00-07:00", late, cap, SEOUL) == cap  # never past the cap
    with pytest.raises(ValueError, match="guardian_night"):
        DEFAULT_POLICY.with_overrides({"guardian_night": "7-23"})


def test_a_dark_home_s_alert_opens_on_time_and_its_sms_waits_then_is_withdrawn() -> None:
    vr = resident()
    vr.send(Activity("spk", START, "speaker_use"))
    vr.send(Heartbeat("spk", START, 300))  # and then the Wi-Fi goes: the home is dark
    basis = START
    vr.run_until((basis + NIGHT.guardian_after).astimezone(UTC))
    opened = [a for s in vr.history for a in s.actions if isinstance(a, OpenAlert)]
    assert [a.kind for a in opened] == ["monitoring_lost", "inactivity"]
    ((at, note),) = [(t, n) for t, n in guardian_notes(vr) if n.kind == "inactivity"]
    assert at == (basis + NIGHT.guardian_after).astimezone(UTC)  # 03:00, on the board on time
    assert not note.urgent
    assert note.not_before == datetime(2026, 11, 5, 7, 0, tzinfo=SEOUL)
    # Back at 06:10: the alert ends, the resident well, before its SMS went (the hub
    # withdraws it, and sends no all-clear to a guardian it never told: tests/hub).
    back = datetime(2026, 11, 5, 6, 10, tzinfo=SEOUL)
    vr.run_until(back.astimezone(UTC))
    vr.send(Heartbeat("spk", back, 300))
    actions = vr.send(Activity("spk", back, "speaker_use"))
    (ended,) = [a for a in actions if isinstance(a, ResolveAlert) and a.kind == "inactivity"]
    assert ended.resident_fine


def test_a_guardian_told_by_day_hears_at_once_at_night_that_all_is_well() -> None:
    # Silence from 01:00: the guardian's SMS at 13:00; the centre's time at 01:00 the next
    # night, its reminder to the guardian held to 07:00; the resident is heard at 03:00.
    vr = resident()
    start = datetime(2026, 11, 5, 1, 0, tzinfo=SEOUL)
    vr.run_until(start.astimezone(UTC))
    vr.send(Heartbeat("spk", start, 3600))
    vr.send(Activity("spk", start, "speaker_use"))
    for hour in range(1, 27):  # the speaker stays online
        t = start + timedelta(hours=hour)
        vr.run_until(t.astimezone(UTC))
        vr.send(Heartbeat("spk", t, 3600))
    notes = [(t.astimezone(SEOUL).hour, n) for t, n in guardian_notes(vr)]
    assert [(h, n.message, n.not_before is not None) for h, n in notes] == [
        (13, "inactivity_guardian", False),
        (1, "inactivity_guardian_reminder", True),
    ]
    back = datetime(2026, 11, 6, 3, 0, tzinfo=SEOUL)
    vr.run_until(back.astimezone(UTC))
    actions = vr.send(Activity("spk", back, "voice"))
    resumed = [a for a in actions if isinstance(a, Notify) and a.message == "activity_resumed"]
    guardian = [a for a in resumed if a.role == "guardian"]
    assert guardian and all(a.urgent and a.not_before is None for a in guardian)


def test_an_emergency_is_never_held_for_the_night() -> None:
    vr = resident()
    at = datetime(2026, 11, 5, 2, 0, tzinfo=SEOUL)
    vr.run_until(at.astimezone(UTC))
    vr.send(Activity("spk", at, "speaker_use"))
    vr.send(Emergency("spk", at, "e1", "voice"))
    notes = [n for _, n in guardian_notes(vr) if n.kind == "emergency"]
    assert notes and all(n.not_before is None for n in notes)


def test_without_a_guardian_night_nothing_is_held() -> None:
    vr = VirtualResident(
        Escalation(WorkingCalendar()),
        ResidentState.new("r1", DEFAULT_POLICY, START),
        FakeClock(START),
    )
    vr.send(RegisterDevice("spk", "speaker"))
    vr.send(Activity("spk", START, "speaker_use"))
    vr.send(Heartbeat("spk", START, 300))
    vr.run_until((START + DEFAULT_POLICY.guardian_after).astimezone(UTC))
    notes = guardian_notes(vr)
    assert notes and all(n.not_before is None and not n.urgent for _, n in notes)
