"""Unattended appliances (alerts/unattended.py): a TV left on by a resident who fell keeps a
plug's power rising now and then; in a home with a motion sensor that saw nobody, that is
not a sign of life."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.actions import Notify
from alerts.inputs import Activity
from alerts.testing import VirtualResident
from alerts.unattended import UNATTENDED_AFTER
from tests.alerts.test_alert_routine import ROUTINE, SEOUL, live_days, resident

FALL = datetime(2026, 11, 17, 19, 0, tzinfo=SEOUL)  # day 16, in her busy evening


def evening_until_the_fall(devices: tuple[tuple[str, str], ...]) -> VirtualResident:
    vr = resident(ROUTINE, devices=devices)
    live_days(vr, 15)
    t = datetime(2026, 11, 17, 6, 30, tzinfo=SEOUL)
    while t <= FALL:
        vr.run_until(t.astimezone(UTC))
        vr.send(Activity("pir", t, "motion"))
        t += timedelta(minutes=20)
    return vr


def flicker(vr: VirtualResident, start: datetime, hours: int) -> None:
    """The TV's draw crosses the plug's threshold every 50 minutes."""
    t = start + timedelta(minutes=50)
    while t < start + timedelta(hours=hours):
        vr.run_until(t.astimezone(UTC))
        vr.send(Activity("plug", t, "power"))
        t += timedelta(minutes=50)


def guardian_told(vr: VirtualResident, since: datetime) -> datetime | None:
    return min(
        (
            s.at
            for s in vr.history
            if s.at >= since
            for a in s.actions
            if isinstance(a, Notify) and a.role == "guardian" and a.kind == "inactivity"
        ),
        default=None,
    )


def test_a_tv_left_on_after_a_fall_does_not_keep_her_looking_active() -> None:
    vr = evening_until_the_fall((("pir", "sensors"), ("plug", "sensors")))
    flicker(vr, FALL, 14)
    # Within the hour after her last movement the plug may still be her; later edges are not.
    last = vr.state.last_activity_at
    assert last is not None and last <= FALL + UNATTENDED_AFTER, last
    told = guardian_told(vr, FALL.astimezone(UTC))
    # A silence begun in her evening waits for her usual morning (a fall then is not told
    # apart from an early night); the TV must not push it past that to the next evening.
    assert told is not None, "told while the TV still flickers"
    assert told - FALL <= timedelta(hours=12), told - FALL


def test_a_kettle_switched_on_while_she_moves_about_is_a_sign_of_life() -> None:
    vr = evening_until_the_fall((("pir", "sensors"), ("plug", "sensors")))
    kettle = FALL + timedelta(minutes=25)
    vr.run_until(kettle.astimezone(UTC))
    vr.send(Activity("plug", kettle, "power"))
    assert vr.state.last_activity_at == kettle


def test_without_a_motion_sensor_the_plug_still_counts() -> None:
    vr = resident(ROUTINE, devices=(("plug", "sensors"),))
    at = datetime(2026, 11, 2, 9, 0, tzinfo=SEOUL)
    for hours in (0, 3, 7):
        t = at + timedelta(hours=hours)
        vr.run_until(t.astimezone(UTC))
        vr.send(Activity("plug", t, "power"))
        assert vr.state.last_activity_at == t
