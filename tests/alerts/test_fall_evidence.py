"""What a silence and unanswered questions are worth as evidence of a fall (issue 12).

Each test failed before the change it guards: a repeated check-in counted as much as the
first, the guardian was paged again and again through a stay nobody announced once a person
had checked, and two unanswered questions paged about a silence shorter than the resident's
own normal ones.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.actions import Notify, OpenAlert
from alerts.calendar import WorkingCalendar
from alerts.clock import FakeClock
from alerts.engine import Escalation
from alerts.inactivity import (
    checkin_answered,
    checkin_asked,
    plan,
    repeat_evidence,
    unanswered_evidence,
)
from alerts.inputs import Activity, RegisterDevice, Resolve
from alerts.policy import DEFAULT_POLICY
from alerts.state import ResidentState
from alerts.testing import VirtualResident

SEOUL = ZoneInfo("Asia/Seoul")
H = timedelta(hours=1)
START = datetime(2026, 11, 2, 0, 0, tzinfo=SEOUL)  # a Monday, local midnight
ROUTINE = DEFAULT_POLICY.with_overrides({"inactivity_rule": "routine"})
CALENDAR = WorkingCalendar()
ENGINE = Escalation(CALENDAR)
WAIT = ROUTINE.routine_checkin_wait


def _never_rest(day: date) -> bool:
    return False


def _ask(state: ResidentState, at: datetime) -> None:
    state.asked = [*state.asked[-3:], at]
    checkin_asked(state)


def test_a_check_in_asked_again_counts_what_this_resident_s_repeats_say() -> None:
    state = ResidentState.new("r1", ROUTINE, START)
    first = unanswered_evidence(state)
    t = START + 10 * H
    for _ in range(30):  # out whenever asked: both questions of every round go unanswered
        _ask(state, t)
        _ask(state, t + WAIT)
        t += 24 * H
    # The first questions alone make the first's record; the repeats have their own.
    assert state.checkins_asked < 21
    assert unanswered_evidence(state) < first
    assert repeat_evidence(state) < 0.1, "a repeat after a miss says almost nothing for her"
    # An answered repeat is taken off the repeats' misses, not the first questions'.
    missed = state.checkins_missed
    _ask(state, t)
    _ask(state, t + WAIT)
    checkin_answered(state)
    assert state.checkins_missed > missed
    assert state.routine.repeats[1] < state.routine.repeats[0]


def test_a_question_hours_after_the_last_is_a_new_round_not_a_repeat() -> None:
    state = ResidentState.new("r1", ROUTINE, START)
    _ask(state, START + 10 * H)
    _ask(state, START + 13 * H)
    assert state.routine.repeats[:2] == [2.0, 1.6]
    assert state.checkins_asked > 3


def _lived(devices: tuple[tuple[str, str], ...] = (("pir", "sensors"),)) -> VirtualResident:
    vr = VirtualResident(ENGINE, ResidentState.new("r1", ROUTINE, START), FakeClock(START))
    for device, kind in devices:
        vr.send(RegisterDevice(device, kind))  # type: ignore[arg-type]
    for d in range(16):  # up 06:30-21:30, a sign of life every 20 minutes
        day = START + timedelta(days=d, hours=6, minutes=30)
        t = day
        while t < day + 15 * H:
            vr.run_until(t.astimezone(UTC))
            vr.send(Activity("pir", t, "motion"))
            t += timedelta(minutes=20)
    return vr


def test_after_a_person_found_them_fine_a_silence_goes_on_to_the_centre_s_time() -> None:
    vr = _lived()
    # Day 17: gone at 09:00 (an unannounced stay in hospital); nothing is heard again.
    gone = START + timedelta(days=16, hours=9)
    vr.run_until(gone.astimezone(UTC))
    vr.send(Activity("pir", gone, "motion"))
    opened: OpenAlert | None = None
    while opened is None:
        found = [a for a in vr.advance(timedelta(minutes=10)) if isinstance(a, OpenAlert)]
        opened = found[0] if found else None
    checked = vr.clock.now()
    vr.send(Resolve(opened.alert_id, "guardian", "resolved_by_guardian"))
    actions = vr.advance(30 * H)
    pages = [
        step.at
        for step in vr.history
        if step.at > checked
        for a in step.actions
        if isinstance(a, Notify) and a.kind == "inactivity"
    ]
    assert pages, "the silence is still told, by the centre's time"
    assert min(pages) >= checked + ROUTINE.control_center_after - timedelta(seconds=1)
    assert actions is not None


def test_unanswered_questions_page_before_the_silence_alone_would() -> None:
    # A fall in the afternoon: the two questions nobody answered are the evidence that tells
    # it that day; the silence alone would wait until it is unusual for her.
    vr = _lived((("pir", "sensors"), ("spk", "speaker")))
    state = vr.state
    state.routine.peak = 20.0  # busy weeks: her most surprising normal silences run long
    basis = START + timedelta(days=16, hours=13)
    state.last_activity_at = basis
    state.last_source = "motion"
    state.asked = [basis + 2 * H, basis + 2 * H + WAIT]
    state.checkin_open = True
    chosen = plan(state, basis, True, CALENDAR)
    silent_only = plan(state, basis, False, CALENDAR)
    assert chosen.guardian_at is not None and silent_only.guardian_at is not None
    assert chosen.guardian_at >= basis + 2 * H + 2 * WAIT, "after the second goes unanswered"
    assert chosen.guardian_at < silent_only.guardian_at, "the questions told nothing sooner"


def _rest(day: date) -> bool:
    return not CALENDAR.is_working_day(day)
