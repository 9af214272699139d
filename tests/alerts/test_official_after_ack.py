"""The official hears of an emergency once, and only once the centre has it (접수):
"관제센터 확인 중", in working hours by SMS, otherwise in their next working-day digest.

Never answered, the official still hears: as the alert closes, or when it has gone
unanswered for the policy's ``control_center_after``. Before this, the official was told at
once, before anyone at the centre had answered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.actions import Action, Notify, QueueDigest
from alerts.engine import make_alert_id
from alerts.inputs import Acknowledge, Emergency, Resolve
from alerts.messages import render
from alerts.testing import VirtualResident

SEOUL = ZoneInfo("Asia/Seoul")
MINUTE = timedelta(minutes=1)
H = timedelta(hours=1)
FRIDAY_NIGHT = datetime(2026, 11, 27, 23, 30, tzinfo=SEOUL)
MONDAY_9 = datetime(2026, 11, 30, 9, 0, tzinfo=SEOUL)
MakeResident = Callable[..., VirtualResident]


def official(actions: Sequence[Action]) -> list[tuple[str, str, str]]:
    """(how, message, step) of everything about the emergency meant for the official."""
    found: list[tuple[str, str, str]] = []
    for a in actions:
        if isinstance(a, Notify) and a.role == "official" and a.kind == "emergency":
            found.append(("sms", a.message, a.step))
        elif isinstance(a, QueueDigest) and a.role == "official" and a.kind == "emergency":
            found.append(("digest", a.message, a.step))
    return found


def call(vr: VirtualResident) -> tuple[str, tuple[Action, ...]]:
    actions = vr.send(Emergency("spk-1", vr.clock.now(), "e-1", "voice"))
    return make_alert_id("r-1", "emergency", "spk-1|e-1"), actions


def test_in_working_hours_the_official_hears_after_the_centres_answer(
    resident: VirtualResident,
) -> None:
    resident.advance(H)  # Monday 10:00
    called_at = resident.clock.now()
    alert_id, opened = call(resident)
    waiting = resident.advance(4 * MINUTE)

    acked = resident.send(Acknowledge(alert_id, by="operator-7", role="control_center"))
    closed = resident.send(Resolve(alert_id, by="operator-7", outcome="visited"))

    assert official(opened) == official(waiting) == []
    assert official(acked) == [("sms", "emergency_official", "official")]
    (sms,) = [a for a in acked if isinstance(a, Notify) and a.role == "official"]
    assert sms.event_at == called_at
    text = render(sms.message, resident_name="김영희", at=called_at)
    assert "관제센터 확인 중" in text
    assert "12월" not in text and "11월 23일 10:00" in text
    assert official(closed) == [], "one message: the closing is on the board and in reports"


def test_at_night_the_answer_goes_to_the_officials_next_digest(
    make_resident: MakeResident,
) -> None:
    vr = make_resident(start=FRIDAY_NIGHT)
    alert_id, opened = call(vr)
    vr.advance(2 * MINUTE)

    acked = vr.send(Acknowledge(alert_id, by="operator-7", role="control_center"))

    assert official(opened) == []
    assert official(acked) == [("digest", "emergency_official", "official")]
    (queued,) = [a for a in acked if isinstance(a, QueueDigest)]
    assert queued.deliver_at == MONDAY_9


def test_a_supervisors_answer_is_the_centres(resident: VirtualResident) -> None:
    alert_id, _ = call(resident)
    resident.advance(2 * MINUTE)
    acked = resident.send(Acknowledge(alert_id, by="감독 이", role="supervisor"))
    assert official(acked) == [("sms", "emergency_official", "official")]


def test_a_guardians_tap_is_not_the_centres_answer(resident: VirtualResident) -> None:
    alert_id, _ = call(resident)
    tapped = resident.send(Acknowledge(alert_id, by="daughter", role="guardian"))
    later = resident.advance(10 * MINUTE)
    assert official(tapped) == official(later) == []


def test_closed_without_an_answer_the_official_still_hears(
    make_resident: MakeResident,
) -> None:
    vr = make_resident(start=FRIDAY_NIGHT)
    alert_id, _ = call(vr)
    vr.advance(20 * MINUTE)

    closed = vr.send(Resolve(alert_id, by="operator-7", outcome="false_alarm"))

    assert official(closed) == [("digest", "emergency_official_closed", "official")]


def test_never_answered_the_official_hears_when_a_silence_would_have(
    resident: VirtualResident,
) -> None:
    """Still unanswered after ``control_center_after`` (24 h by default): the official is
    told, once; an answer after that tells them nothing more."""
    alert_id, _ = call(resident)  # Monday 09:00
    before = resident.advance(24 * H - MINUTE)
    at_hold_end = resident.advance(2 * MINUTE)  # Tuesday 09:00: working hours
    acked = resident.send(Acknowledge(alert_id, by="operator-7", role="control_center"))

    assert official(before) == []
    assert official(at_hold_end) == [("sms", "emergency_official_unanswered", "official")]
    assert official(acked) == []
