"""Inactivity: check-in at T+11h, guardian at T+12h, control centre at T+24h, resumption."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from alerts.actions import (
    AcknowledgeAlert,
    Action,
    ChangeStage,
    Notify,
    OpenAlert,
    QueueDigest,
    ResolveAlert,
    SendCheckin,
)
from alerts.inputs import Acknowledge, Activity, CheckinAnswer, Emergency, Resolve, Tick
from alerts.policy import DEFAULT_POLICY, Policy
from alerts.testing import VirtualResident

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Monday 09:00 KST, where the fixtures start
SEOUL = ZoneInfo("Asia/Seoul")
H = timedelta(hours=1)
MakeResident = Callable[..., VirtualResident]
A = TypeVar("A")


def told(actions: Sequence[Action]) -> list[tuple[str, str, str]]:
    return [(a.role, a.message, a.step) for a in actions if isinstance(a, Notify)]


def only(actions: Sequence[Action], kind: type[A]) -> list[A]:
    return [a for a in actions if isinstance(a, kind)]


def inactivity_alert_id(vr: VirtualResident) -> str:
    (alert,) = [a for a in vr.state.alerts.values() if a.kind == "inactivity"]
    return alert.alert_id


def test_checkin_goes_to_every_speaker_once(make_resident: MakeResident) -> None:
    vr = make_resident(devices={"spk-1": "speaker", "spk-2": "speaker", "pir-1": "sensors"})
    assert vr.next_due == T0 + 11 * H

    actions = vr.advance(11 * H)

    (checkin,) = only(actions, SendCheckin)
    assert actions == (checkin,)
    assert checkin.devices == ("spk-1", "spk-2")
    assert checkin.expires_at == T0 + 12 * H
    assert len(checkin.request_id) <= 64
    assert re.fullmatch(r"[A-Za-z0-9_-]+", checkin.request_id)
    assert vr.state.checkin_sent_for == T0
    assert vr.next_due == T0 + 12 * H
    assert vr.send(Tick()) == ()


def test_checkin_request_id_is_deterministic(make_resident: MakeResident) -> None:
    first, second = make_resident(), make_resident()
    (a,) = only(first.advance(11 * H), SendCheckin)
    (b,) = only(second.advance(11 * H), SendCheckin)
    assert a.request_id == b.request_id
    (c,) = only(make_resident(resident="r-2").advance(11 * H), SendCheckin)
    assert c.request_id != a.request_id


def test_answered_checkin_is_activity_and_ends_the_chain(resident: VirtualResident) -> None:
    resident.advance(11 * H)
    answered_at = T0 + 11 * H + timedelta(minutes=2)
    resident.clock.set(answered_at)
    assert resident.send(CheckinAnswer("spk-1", answered_at, "req", answered=True)) == ()
    assert resident.state.last_activity_at == answered_at
    assert resident.next_due == answered_at + 11 * H
    later = resident.run_until(answered_at + 12 * H - timedelta(seconds=1))
    assert only(later, OpenAlert) == []
    assert len(only(later, SendCheckin)) == 1  # the next T gets its own check-in


def test_unanswered_checkin_is_not_activity(resident: VirtualResident) -> None:
    resident.advance(11 * H + timedelta(minutes=10))
    resident.send(CheckinAnswer("spk-1", resident.clock.now(), "req", answered=False))
    assert resident.state.last_activity_at is None
    (opened,) = only(resident.advance(H), OpenAlert)
    assert opened.kind == "inactivity"


def test_no_speaker_means_no_checkin_but_it_counts_as_done(make_resident: MakeResident) -> None:
    vr = make_resident(devices={"pir-1": "sensors"})
    assert vr.advance(11 * H) == ()
    assert vr.state.checkin_sent_for == T0
    assert vr.next_due == T0 + 12 * H


def test_guardian_stage_at_twelve_hours(resident: VirtualResident) -> None:
    resident.advance(11 * H)
    actions = resident.advance(H)

    alert_id = inactivity_alert_id(resident)
    assert actions == (
        OpenAlert(
            alert_id,
            "inactivity",
            "guardian",
            reason="guardian_after",
            explanation="11월 23일 09:00 이후 12시간 동안 활동이 없습니다.",
        ),
        Notify(
            alert_id=alert_id,
            kind="inactivity",
            stage="guardian",
            role="guardian",
            message="inactivity_guardian",
            step="guardian",
            event_at=T0,
            # A guardian's quiet hours may hold it, never past the control centre's time.
            hold_until_latest=T0 + 24 * H,
        ),
    )
    alert = resident.state.alerts[alert_id]
    assert alert.basis_at == T0
    assert alert.opened_at == T0 + 12 * H
    assert alert.policy == DEFAULT_POLICY
    assert alert.told == ["guardian"]
    assert resident.next_due == T0 + 24 * H


def test_control_center_stage_in_working_hours_pages_the_official(
    resident: VirtualResident,
) -> None:
    resident.advance(12 * H)
    alert_id = inactivity_alert_id(resident)

    actions = resident.advance(12 * H)  # Tuesday 09:00 KST: office is open

    assert actions[0] == ChangeStage(
        alert_id, "inactivity", "control_center", reason="control_center_after"
    )
    assert told(actions) == [
        ("control_center", "inactivity_control_center", "control_center"),
        ("official", "inactivity_official", "control_center"),
        ("guardian", "inactivity_guardian_reminder", "guardian_reminder"),
    ]
    assert only(actions, QueueDigest) == []
    alert = resident.state.alerts[alert_id]
    assert alert.stage == "control_center"
    assert alert.told == ["guardian", "control_center", "official"]
    assert resident.next_due is None  # on the board now; nothing else is timed


def test_control_center_stage_after_hours_queues_the_official(
    make_resident: MakeResident,
) -> None:
    monday_2000 = datetime(2026, 11, 23, 20, tzinfo=SEOUL)
    vr = make_resident(start=monday_2000)

    actions = vr.advance(24 * H)  # Tuesday 20:00 KST

    assert ("official", "inactivity_official", "control_center") not in told(actions)
    (queued,) = only(actions, QueueDigest)
    assert queued.role == "official"
    assert queued.message == "inactivity_official"
    assert queued.step == "control_center"
    assert queued.deliver_at == datetime(2026, 11, 25, 9, tzinfo=SEOUL)
    assert queued.event_at == monday_2000


def test_activity_resumed_after_guardian_stage(resident: VirtualResident) -> None:
    resident.advance(13 * H)
    alert_id = inactivity_alert_id(resident)
    now = resident.clock.now()

    actions = resident.send(Activity("pir-1", now, "motion"))

    assert actions == (
        ResolveAlert(alert_id, "inactivity", reason="activity_resumed"),
        Notify(
            alert_id=alert_id,
            kind="inactivity",
            stage="guardian",
            role="guardian",
            message="activity_resumed",
            step="resumed",
            event_at=now,
            hold_until_latest=T0 + 24 * H,
        ),
    )
    assert resident.state.alerts == {}
    assert resident.next_due == now + 11 * H


def test_activity_resumed_tells_everyone_who_was_told(make_resident: MakeResident) -> None:
    vr = make_resident(start=datetime(2026, 11, 23, 20, tzinfo=SEOUL))
    vr.advance(25 * H)  # Tuesday 21:00 KST, control-centre stage passed after hours
    now = vr.clock.now()

    actions = vr.send(Activity("spk-1", now, "voice"))

    assert told(actions) == [
        ("guardian", "activity_resumed", "resumed"),
        ("control_center", "activity_resumed", "resumed"),
    ]
    (queued,) = only(actions, QueueDigest)
    assert (queued.role, queued.message, queued.step) == ("official", "activity_resumed", "resumed")
    assert queued.deliver_at == datetime(2026, 11, 25, 9, tzinfo=SEOUL)


def test_old_buffered_activity_does_not_resolve(resident: VirtualResident) -> None:
    resident.advance(25 * H)
    alert_id = inactivity_alert_id(resident)

    actions = resident.send(Activity("pir-1", T0 + H, "motion"))  # sent late by the device

    assert actions == ()
    assert alert_id in resident.state.alerts
    assert resident.state.last_activity_at == T0 + H


def test_activity_time_is_clamped_to_now(resident: VirtualResident) -> None:
    resident.advance(H)
    resident.send(Activity("pir-1", T0 + 5 * H, "motion"))  # the device clock runs fast
    assert resident.state.last_activity_at == T0 + H


def test_activity_never_moves_backwards(resident: VirtualResident) -> None:
    resident.advance(2 * H)
    resident.send(Activity("pir-1", T0 + 2 * H, "motion"))
    resident.send(Activity("spk-1", T0 + H, "voice"))
    assert resident.state.last_activity_at == T0 + 2 * H


def test_activity_from_an_unregistered_device_still_counts(resident: VirtualResident) -> None:
    resident.advance(H)
    resident.send(Activity("phone-9", T0 + H, "screen_on"))
    assert resident.state.last_activity_at == T0 + H
    assert "phone-9" not in resident.state.devices


def test_away_mode_pauses_inactivity_but_not_emergencies(make_resident: MakeResident) -> None:
    away_until = T0 + 72 * H
    vr = make_resident(policy=Policy(away_until=away_until))
    assert vr.next_due == away_until

    assert vr.advance(48 * H) == ()
    opened = only(vr.send(Emergency("spk-1", vr.clock.now(), "e-1", "voice")), OpenAlert)
    assert [a.kind for a in opened] == ["emergency"]
    vr.advance(H)
    vr.send(Resolve(opened[0].alert_id, by="관제 김", outcome="false_alarm"))

    rest = vr.run_until(away_until + 12 * H)
    checkin_at = [s.at for s in vr.history if only(s.actions, SendCheckin)]
    assert checkin_at == [away_until + 11 * H]
    assert [a.kind for a in only(rest, OpenAlert)] == ["inactivity"]
    (alert,) = [a for a in vr.state.alerts.values() if a.kind == "inactivity"]
    assert alert.basis_at == away_until
    assert alert.opened_at == away_until + 12 * H


def test_hub_outage_catch_up_fires_each_stage_once(resident: VirtualResident) -> None:
    # The hub was down from T0 to T0+30h: no Tick happened in between.
    resident.clock.set(T0 + 30 * H)

    actions = resident.send(Tick())

    assert only(actions, SendCheckin) == []  # the guardian stage was already due
    assert [a.stage for a in only(actions, OpenAlert)] == ["guardian"]
    assert [a.stage for a in only(actions, ChangeStage)] == ["control_center"]
    assert told(actions) == [
        ("guardian", "inactivity_guardian", "guardian"),
        ("control_center", "inactivity_control_center", "control_center"),
        ("official", "inactivity_official", "control_center"),  # Tuesday 15:00 KST
        ("guardian", "inactivity_guardian_reminder", "guardian_reminder"),
    ]
    assert resident.state.checkin_sent_for == T0
    assert resident.send(Tick()) == ()
    assert resident.next_due is None


def test_short_policy_in_seconds(make_resident: MakeResident) -> None:
    policy = DEFAULT_POLICY.with_overrides(
        {"checkin_after": "PT2S", "guardian_after": "PT3S", "control_center_after": "PT6S"}
    )
    vr = make_resident(policy=policy)

    vr.advance(timedelta(seconds=10))

    fired = [(s.at - T0, type(a).__name__) for s in vr.history for a in s.actions]
    assert fired == [
        (timedelta(seconds=2), "SendCheckin"),
        (timedelta(seconds=3), "OpenAlert"),
        (timedelta(seconds=3), "Notify"),
        (timedelta(seconds=6), "ChangeStage"),
        (timedelta(seconds=6), "Notify"),
        (timedelta(seconds=6), "Notify"),
        (timedelta(seconds=6), "Notify"),
    ]


def test_open_alert_escalates_on_its_policy_snapshot(resident: VirtualResident) -> None:
    resident.advance(12 * H)
    resident.state.policy = DEFAULT_POLICY.with_overrides(
        {"guardian_after": "PT30H", "control_center_after": "PT48H"}
    )
    resident.send(Tick())  # the hub would decide after saving a policy edit

    actions = resident.advance(12 * H)

    assert [a.stage for a in only(actions, ChangeStage)] == ["control_center"]


def test_guardian_acknowledgement_does_not_stop_the_control_centre(
    resident: VirtualResident,
) -> None:
    resident.advance(12 * H)
    alert_id = inactivity_alert_id(resident)

    ack = resident.send(Acknowledge(alert_id, by="daughter", role="guardian"))

    assert ack == (AcknowledgeAlert(alert_id, "inactivity", "daughter", "guardian"),)
    alert = resident.state.alerts[alert_id]
    assert (alert.state, alert.acknowledged_by) == ("acknowledged", "daughter")
    assert [a.stage for a in only(resident.advance(12 * H), ChangeStage)] == ["control_center"]


def test_closing_by_hand_restarts_counting(resident: VirtualResident) -> None:
    resident.advance(13 * H)
    first = inactivity_alert_id(resident)

    actions = resident.send(Resolve(first, by="operator-7", outcome="resolved_by_phone"))

    assert actions == (
        ResolveAlert(
            first, "inactivity", reason="resolved", by="operator-7", outcome="resolved_by_phone"
        ),
    )
    assert resident.state.inactivity_reset_at == T0 + 13 * H
    assert resident.send(Tick()) == ()  # not reopened at once
    assert resident.next_due == T0 + 24 * H  # a check-in 11 h after the call
    resident.advance(12 * H)
    second = inactivity_alert_id(resident)
    assert second != first
