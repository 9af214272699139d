"""Emergencies: page at once, never twice, re-alert every 60 s until the centre acknowledges.

The supervisor's and the official's part (told once, after the centre's answer) are in
``test_supervisor_once.py`` and ``test_official_after_ack.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from alerts.actions import (
    AcknowledgeAlert,
    Action,
    Notify,
    OpenAlert,
    QueueDigest,
    RecordTimeline,
    ResolveAlert,
)
from alerts.engine import make_alert_id
from alerts.inputs import Acknowledge, Emergency, RecordStep, Resolve, Tick
from alerts.testing import VirtualResident

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Monday 09:00 KST, where the fixtures start
SEOUL = ZoneInfo("Asia/Seoul")
MINUTE = timedelta(minutes=1)
A = TypeVar("A")
MakeResident = Callable[..., VirtualResident]


def told(actions: Sequence[Action]) -> list[tuple[str, str, str]]:
    return [(a.role, a.message, a.step) for a in actions if isinstance(a, Notify)]


def only(actions: Sequence[Action], kind: type[A]) -> list[A]:
    return [a for a in actions if isinstance(a, kind)]


def raise_emergency(vr: VirtualResident, event_id: str = "e-1") -> tuple[str, tuple[Action, ...]]:
    actions = vr.send(Emergency("spk-1", vr.clock.now(), event_id, "voice"))
    return make_alert_id("r-1", "emergency", f"spk-1|{event_id}"), actions


def test_emergency_pages_the_centre_and_guardians_at_once(resident: VirtualResident) -> None:
    """In working hours too, the official is not among them: they hear once the centre has
    it (``test_official_after_ack.py``)."""
    resident.advance(timedelta(hours=1))  # Monday 10:00 KST
    now = resident.clock.now()

    alert_id, actions = raise_emergency(resident)

    assert actions == (
        OpenAlert(alert_id, "emergency", "control_center", reason="voice"),
        Notify(
            alert_id=alert_id,
            kind="emergency",
            stage="control_center",
            role="control_center",
            message="emergency_alert",
            step="open",
            event_at=now,
        ),
        Notify(
            alert_id=alert_id,
            kind="emergency",
            stage="control_center",
            role="guardian",
            message="emergency_alert",
            step="open",
            event_at=now,
        ),
    )
    alert = resident.state.alerts[alert_id]
    assert alert.next_realert_at == now + MINUTE
    assert resident.next_due == now + MINUTE


def test_emergency_at_night_goes_to_the_officials_digest(make_resident: MakeResident) -> None:
    vr = make_resident(start=datetime(2026, 11, 27, 23, 30, tzinfo=SEOUL))
    alert_id, actions = raise_emergency(vr)
    assert [role for role, _, _ in told(actions)] == ["control_center", "guardian"]
    assert only(actions, QueueDigest) == [], "not before the centre has it"
    vr.advance(30 * timedelta(seconds=1))
    acked = vr.send(Acknowledge(alert_id, by="operator-7", role="control_center"))
    (queued,) = only(acked, QueueDigest)
    assert queued.message == "emergency_official"
    assert queued.deliver_at == datetime(2026, 11, 30, 9, tzinfo=SEOUL)  # Friday night: Monday


def test_repeated_evidence_is_recorded_not_paged(resident: VirtualResident) -> None:
    alert_id, _ = raise_emergency(resident)
    resident.advance(timedelta(seconds=20))

    again = resident.send(Emergency("pir-1", resident.clock.now(), "e-2", "fall"))

    assert again == (RecordTimeline(alert_id, "emergency_repeated", by="pir-1", note="fall"),)
    assert list(resident.state.alerts) == [alert_id]


def test_realert_every_minute_until_the_centre_acknowledges(resident: VirtualResident) -> None:
    alert_id, _ = raise_emergency(resident)

    actions = resident.advance(5 * MINUTE + timedelta(seconds=30))

    realert_times = [s.at - T0 for s in resident.history if isinstance(s.event, Tick)]
    assert realert_times == [n * MINUTE for n in range(1, 6)]
    centre = [(r, m, step) for r, m, step in told(actions) if r == "control_center"]
    assert centre == [("control_center", "emergency_realert", f"realert-{n}") for n in range(1, 6)]
    assert resident.state.alerts[alert_id].realerts == 5

    ack = resident.send(Acknowledge(alert_id, by="operator-7", role="control_center"))

    assert ack[0] == AcknowledgeAlert(alert_id, "emergency", "operator-7", "control_center")
    alert = resident.state.alerts[alert_id]
    assert (alert.state, alert.next_realert_at) == ("acknowledged", None)
    assert told(resident.advance(timedelta(hours=1))) == []


def test_guardian_acknowledgement_does_not_stop_realerts(resident: VirtualResident) -> None:
    """A guardian on the way (보호자 확인 중) is not the centre answering (접수): the emergency
    stays open for the centre, its re-alerts go on (it was marked acknowledged, shown as 접수됨
    on the board while the centre was still being re-alerted)."""
    alert_id, _ = raise_emergency(resident)
    resident.advance(timedelta(seconds=10))
    tapped = resident.send(Acknowledge(alert_id, by="daughter", role="guardian"))
    again = resident.send(Acknowledge(alert_id, by="daughter", role="guardian"))

    actions = resident.advance(MINUTE)

    assert tapped == (RecordTimeline(alert_id, "guardian_checking", "daughter"),)
    assert again == (), "a second tap records nothing"
    assert told(actions) == [
        ("control_center", "emergency_realert", "realert-1"),
        ("supervisor", "emergency_supervisor", "supervisor-1"),
    ]
    alert = resident.state.alerts[alert_id]
    assert (alert.state, alert.acknowledged_by, alert.acknowledged_role) == ("open", None, None)
    assert alert.guardian_checking == ["daughter"]
    centre = resident.send(Acknowledge(alert_id, by="operator-7", role="control_center"))
    assert centre[0] == AcknowledgeAlert(alert_id, "emergency", "operator-7", "control_center")
    alert = resident.state.alerts[alert_id]
    assert (alert.state, alert.acknowledged_role) == ("acknowledged", "control_center")
    assert told(resident.advance(timedelta(hours=1))) == []


def test_supervisor_acknowledgement_stops_realerts(resident: VirtualResident) -> None:
    alert_id, _ = raise_emergency(resident)
    resident.advance(90 * timedelta(seconds=1))
    resident.send(Acknowledge(alert_id, by="supervisor-1", role="supervisor"))
    assert resident.state.alerts[alert_id].next_realert_at is None


def test_catch_up_after_outage_realerts_once(resident: VirtualResident) -> None:
    alert_id, _ = raise_emergency(resident)
    resident.clock.set(T0 + 10 * MINUTE)  # hub was down; no ticks

    actions = resident.send(Tick())

    assert [step for _, _, step in told(actions)] == ["realert-1", "supervisor-1"]
    assert resident.state.alerts[alert_id].next_realert_at == T0 + 11 * MINUTE


def test_cancel_is_recorded_and_the_centre_still_confirms(resident: VirtualResident) -> None:
    alert_id, _ = raise_emergency(resident)
    resident.advance(timedelta(seconds=15))
    now = resident.clock.now()

    actions = resident.send(Emergency("spk-1", now, "e-3", "voice", cancel_of="e-1"))

    assert actions == (
        RecordTimeline(alert_id, "cancel_requested", by="spk-1", note="e-1"),
        Notify(
            alert_id=alert_id,
            kind="emergency",
            stage="control_center",
            role="control_center",
            message="emergency_cancel_requested",
            step="cancel",
            event_at=now,
        ),
    )
    assert resident.state.alerts[alert_id].cancel_requested
    assert resident.state.alerts[alert_id].state == "open"
    again = resident.send(Emergency("spk-1", now, "e-4", "voice", cancel_of="e-1"))
    assert again == (RecordTimeline(alert_id, "cancel_requested", by="spk-1", note="e-1"),)
    assert len(told(resident.advance(MINUTE))) == 2  # re-alerts go on until acknowledged


def test_cancel_without_an_open_emergency_does_nothing(resident: VirtualResident) -> None:
    now = resident.clock.now()
    assert resident.send(Emergency("spk-1", now, "e-3", "voice", cancel_of="e-1")) == ()


def test_resolve_closes_and_tells_guardians(resident: VirtualResident) -> None:
    alert_id, _ = raise_emergency(resident)
    resident.advance(30 * timedelta(seconds=1))
    resident.send(Acknowledge(alert_id, by="operator-7", role="control_center"))
    resident.send(RecordStep(alert_id, by="operator-7", step="called_resident", note="no answer"))
    resident.advance(10 * MINUTE)
    now = resident.clock.now()

    actions = resident.send(Resolve(alert_id, by="operator-7", outcome="visited"))

    assert actions == (
        ResolveAlert(alert_id, "emergency", reason="resolved", by="operator-7", outcome="visited"),
        Notify(
            alert_id=alert_id,
            kind="emergency",
            stage="control_center",
            role="guardian",
            message="emergency_closed",
            step="closed",
            event_at=now,
        ),
    )
    assert resident.state.alerts == {}
    assert resident.send(Tick()) == ()


def test_record_step_goes_on_the_timeline(resident: VirtualResident) -> None:
    alert_id, _ = raise_emergency(resident)
    actions = resident.send(RecordStep(alert_id, by="operator-7", step="called_119"))
    assert actions == (RecordTimeline(alert_id, "called_119", by="operator-7"),)


def test_unknown_alert_ids_do_nothing(resident: VirtualResident) -> None:
    assert resident.send(Acknowledge("nope", by="x", role="control_center")) == ()
    assert resident.send(Resolve("nope", by="x", outcome="false_alarm")) == ()
    assert resident.send(RecordStep("nope", by="x", step="dispatched")) == ()


def test_a_new_emergency_after_resolve_pages_again(resident: VirtualResident) -> None:
    first, _ = raise_emergency(resident, "e-1")
    resident.send(Resolve(first, by="operator-7", outcome="false_alarm"))
    resident.advance(MINUTE)

    second, actions = raise_emergency(resident, "e-9")

    assert second != first
    assert len(only(actions, OpenAlert)) == 1
    assert len(told(actions)) == 2  # the centre and the guardian; the official after 접수


def test_naive_event_time_is_taken_as_now_not_dropped(resident: VirtualResident) -> None:
    resident.advance(MINUTE)
    naive = datetime(2026, 11, 23, 0, 0)  # a device bug: no zone
    actions = resident.send(Emergency("spk-1", naive, "e-1", "button"))
    (alert,) = resident.state.alerts.values()
    assert len(only(actions, OpenAlert)) == 1
    assert alert.basis_at == resident.clock.now()


def test_redelivered_event_after_close_does_not_page_again(resident: VirtualResident) -> None:
    alert_id, _ = raise_emergency(resident, "e-1")
    resident.send(Resolve(alert_id, by="operator-7", outcome="false_alarm"))
    resident.advance(timedelta(hours=3))

    _, actions = raise_emergency(resident, "e-1")  # the edge outbox sent it once more

    assert actions == ()
    assert resident.state.alerts == {}
    assert resident.state.closed_emergencies == [alert_id]


def test_only_the_last_closed_emergencies_are_remembered(resident: VirtualResident) -> None:
    for n in range(25):
        alert_id, _ = raise_emergency(resident, f"e-{n}")
        resident.send(Resolve(alert_id, by="operator-7", outcome="false_alarm"))
    assert len(resident.state.closed_emergencies) == 20
    assert resident.state.closed_emergencies[-1] == alert_id


def test_119_clicked_twice_is_one_call(resident: VirtualResident) -> None:
    """A one-time step recorded twice was counted twice in the district report."""
    alert_id, _ = raise_emergency(resident)

    steps = [
        resident.send(RecordStep(alert_id, by="관제 김", step=step))
        for step in ("called_119", "called_119", "called_resident", "called_resident")
    ]

    assert [len(actions) for actions in steps] == [1, 0, 1, 1]
    assert resident.state.alerts[alert_id].steps_taken == ["called_119"]
