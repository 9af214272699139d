"""The supervisor is told once per alert that the centre missed its answer, then only of real
changes (:mod:`alerts.emergency`): it was answered after all, or closed before any answer;
a new call under an answered emergency that goes unanswered again is a new miss.

Before this, the supervisor got an SMS at every re-alert: ten at night for ten minutes of a
centre not answering.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from alerts.actions import Action, Notify
from alerts.engine import make_alert_id
from alerts.inputs import Acknowledge, Emergency, Input, RecordStep, Resolve, Tick
from alerts.state import ResidentState
from alerts.testing import VirtualResident

MINUTE = timedelta(minutes=1)
H = timedelta(hours=1)


def supervisor(actions: Sequence[Action]) -> list[tuple[str, str]]:
    return [
        (a.message, a.step) for a in actions if isinstance(a, Notify) and a.role == "supervisor"
    ]


def centre_realerts(actions: Sequence[Action]) -> int:
    return sum(1 for a in actions if isinstance(a, Notify) and a.message == "emergency_realert")


def call(vr: VirtualResident, event_id: str = "e-1") -> str:
    vr.send(Emergency("spk-1", vr.clock.now(), event_id, "voice"))
    return make_alert_id("r-1", "emergency", f"spk-1|{event_id}")


def test_ten_minutes_unanswered_is_one_supervisor_message(resident: VirtualResident) -> None:
    """It was ten: one per re-alert."""
    call(resident)

    actions = resident.advance(10 * MINUTE + timedelta(seconds=30))

    assert centre_realerts(actions) == 10, "the centre is still alerted every minute"
    assert supervisor(actions) == [("emergency_supervisor", "supervisor-1")]
    (told,) = [a for a in actions if isinstance(a, Notify) and a.role == "supervisor"]
    assert told.event_at == resident.state.alerts[told.alert_id].basis_at  # speaks of the call


def test_answered_in_time_the_supervisor_never_hears(resident: VirtualResident) -> None:
    alert_id = call(resident)
    resident.advance(40 * timedelta(seconds=1))

    acked = resident.send(Acknowledge(alert_id, by="operator-7", role="control_center"))
    later = resident.advance(H)

    assert supervisor(acked) == supervisor(later) == []
    assert "supervisor" not in resident.state.alerts[alert_id].told


def test_the_answer_after_the_miss_lets_the_supervisor_stand_down(
    resident: VirtualResident,
) -> None:
    alert_id = call(resident)
    resident.advance(5 * MINUTE)

    acked = resident.send(Acknowledge(alert_id, by="operator-7", role="control_center"))
    again = resident.send(Acknowledge(alert_id, by="operator-8", role="control_center"))
    resident.advance(10 * MINUTE)
    closed = resident.send(Resolve(alert_id, by="operator-7", outcome="visited"))

    assert supervisor(acked) == [("emergency_supervisor_answered", "supervisor-answered-1")]
    assert supervisor(again) == []
    assert supervisor(closed) == [], "told it is answered: its closing is not news at night"


def test_closed_before_any_answer_is_the_supervisors_stand_down(
    resident: VirtualResident,
) -> None:
    alert_id = call(resident)
    resident.advance(3 * MINUTE)

    closed = resident.send(Resolve(alert_id, by="operator-7", outcome="false_alarm"))

    assert supervisor(closed) == [("emergency_closed", "closed")]


def test_what_is_not_news_for_the_supervisor(resident: VirtualResident) -> None:
    """A guardian's tap, the resident's cancel, a second "살려줘", a fall, the centre's own
    steps: the centre has still not answered, which the supervisor already knows."""
    alert_id = call(resident)
    resident.advance(90 * timedelta(seconds=1))  # told of the miss
    now = resident.clock.now

    events: list[Input] = [
        Acknowledge(alert_id, by="daughter", role="guardian"),
        Emergency("spk-1", now(), "e-2", "voice", cancel_of="e-1"),
        Emergency("spk-1", now(), "e-3", "voice"),
        Emergency("pir-1", now(), "e-4", "fall"),
        RecordStep(alert_id, by="operator-7", step="called_resident", note="no answer"),
    ]
    after = [a for event in events for a in resident.send(event)]
    after += resident.advance(5 * MINUTE)

    assert supervisor(after) == []
    assert resident.state.alerts[alert_id].supervisor_misses == 1


def test_a_new_call_unanswered_again_is_a_new_miss(resident: VirtualResident) -> None:
    """Under an emergency the centre answered and then left open past its hold, a new call
    re-alerts the centre at once; unanswered in time again, the supervisor hears again."""
    alert_id = call(resident)
    resident.advance(2 * MINUTE)
    resident.send(Acknowledge(alert_id, by="operator-7", role="control_center"))
    resident.advance(30 * H)

    again = resident.send(Emergency("spk-1", resident.clock.now(), "e-2", "voice"))
    within = resident.advance(50 * timedelta(seconds=1))
    missed = resident.advance(5 * MINUTE)
    answered = resident.send(Acknowledge(alert_id, by="operator-8", role="control_center"))

    assert centre_realerts(again) == 1
    assert supervisor(again) == supervisor(within) == []
    assert supervisor(missed) == [("emergency_supervisor", "supervisor-2")]
    assert supervisor(answered) == [("emergency_supervisor_answered", "supervisor-answered-2")]
    assert resident.state.alerts[alert_id].next_realert_at is None


def test_deciding_again_gives_the_same_steps(resident: VirtualResident) -> None:
    """The hub keys a message by (alert, step, phone): a decision replayed after a crash must
    name the same steps, or the supervisor would be paged twice."""
    call(resident)
    resident.advance(30 * timedelta(seconds=1))
    before = resident.state
    at = resident.clock.now() + MINUTE

    first = resident.engine.decide(before, Tick(), at)
    second = resident.engine.decide(before, Tick(), at)

    assert (
        supervisor(first.actions)
        == supervisor(second.actions)
        == [("emergency_supervisor", "supervisor-1")]
    )


def _older_state(vr: VirtualResident, *, told_supervisor: bool) -> ResidentState:
    """The state as a hub before this change saved it: no answer_due_at, supervisor fields."""
    raw = vr.state.model_dump(mode="json")
    for alert in raw["alerts"].values():
        for field in ("answer_due_at", "supervisor_misses", "supervisor_waiting"):
            del alert[field]
        if told_supervisor:
            alert["told"].append("supervisor")
    return ResidentState.model_validate(raw)


def test_an_older_state_re_alerting_still_tells_the_supervisor(
    resident: VirtualResident,
) -> None:
    alert_id = call(resident)
    resident.advance(20 * timedelta(seconds=1))
    resident.state = _older_state(resident, told_supervisor=False)

    actions = resident.advance(5 * MINUTE)

    assert supervisor(actions) == [("emergency_supervisor", "supervisor-1")]
    assert resident.state.alerts[alert_id].supervisor_waiting


def test_an_older_state_whose_supervisor_knew_is_not_paged_again(
    resident: VirtualResident,
) -> None:
    alert_id = call(resident)
    resident.state = _older_state(resident, told_supervisor=True)

    actions = resident.advance(5 * MINUTE)
    acked = resident.send(Acknowledge(alert_id, by="operator-7", role="control_center"))

    assert supervisor(actions) == []
    assert supervisor(acked) == [("emergency_supervisor_answered", "supervisor-answered-1")]
