"""One incident, one alert: an emergency absorbs the resident's inactivity work.

While an emergency is open no check-in is spoken and no inactivity SMS goes out beside it
(they did: "괜찮으세요?" a second after "살려줘", an inactivity SMS 3 s after the emergency
SMS); resolving the emergency closes the resident's inactivity alert with its outcome, and
silence is counted from then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from alerts.actions import Action, Notify, OpenAlert, ResolveAlert, SendCheckin
from alerts.engine import make_alert_id
from alerts.inputs import Acknowledge, Emergency, Resolve
from alerts.testing import VirtualResident

H = timedelta(hours=1)
MakeResident = Callable[..., VirtualResident]


def inactivity_work(actions: Sequence[Action]) -> list[Action]:
    return [
        a
        for a in actions
        if isinstance(a, SendCheckin)
        or (isinstance(a, Notify) and a.kind == "inactivity")
        or (isinstance(a, OpenAlert) and a.kind == "inactivity")
    ]


def emergency(vr: VirtualResident) -> str:
    vr.send(Emergency("spk-1", vr.clock.now(), "e-1", "voice"))
    return make_alert_id("r-1", "emergency", "spk-1|e-1")


def test_help_then_twelve_hours_of_silence_is_one_alert(resident: VirtualResident) -> None:
    """The default policy asks at 11 h and tells the guardian at 12 h: not beside an
    emergency the centre is working (acknowledged, not yet resolved)."""
    resident.advance(10 * H + 59 * timedelta(minutes=1))  # a check-in falls due in a minute
    alert_id = emergency(resident)
    resident.send(Acknowledge(alert_id, by="관제 김", role="control_center"))

    later = resident.advance(14 * H)

    assert inactivity_work(later) == []
    assert [a.kind for a in resident.state.alerts.values()] == ["emergency"]


def test_an_open_inactivity_alert_is_closed_with_the_emergencys_outcome(
    resident: VirtualResident,
) -> None:
    resident.advance(12 * H + timedelta(minutes=5))  # the guardian was told: an inactivity alert
    (inactivity,) = [a.alert_id for a in resident.state.alerts.values()]
    alert_id = emergency(resident)
    before_centre = resident.advance(13 * H)  # past the inactivity's own centre stage (24 h)

    closed = resident.send(Resolve(alert_id, by="관제 김", outcome="transported"))

    assert not [a for a in before_centre if isinstance(a, Notify) and a.kind == "inactivity"]
    folded = [a for a in closed if isinstance(a, ResolveAlert) and a.alert_id == inactivity]
    assert folded == [
        ResolveAlert(
            inactivity,
            "inactivity",
            reason="folded_into_emergency",
            by="관제 김",
            outcome="transported",
        )
    ]
    assert resident.state.alerts == {}
    # Silence counts from the resolution, not from before the emergency: nothing at once.
    assert inactivity_work(resident.advance(10 * H)) == []
    assert resident.state.inactivity_reset_at is not None


def test_after_the_emergency_a_new_silence_pages_again(make_resident: MakeResident) -> None:
    """The fold ends the incident, not the watch."""
    resident = make_resident()
    alert_id = emergency(resident)
    resident.advance(H)
    resident.send(Resolve(alert_id, by="관제 김", outcome="false_alarm"))

    later = resident.advance(13 * H)

    assert any(isinstance(a, SendCheckin) for a in later)
    assert any(isinstance(a, OpenAlert) and a.kind == "inactivity" for a in later)


def test_an_emergency_left_open_for_a_day_no_longer_hides_a_silence(
    resident: VirtualResident,
) -> None:
    """A stale alert must never hide a new incident: acknowledged and forgotten, the
    emergency holds inactivity back only for the policy's control_center_after (24 h)."""
    alert_id = emergency(resident)
    resident.send(Acknowledge(alert_id, by="관제 김", role="control_center"))

    held = resident.advance(24 * H - timedelta(minutes=1))
    after = resident.advance(4 * H)

    assert inactivity_work(held) == []
    assert any(isinstance(a, OpenAlert) and a.kind == "inactivity" for a in after)


def test_resolving_a_forgotten_emergency_leaves_a_later_silence_open(
    resident: VirtualResident,
) -> None:
    """An inactivity alert opened after the emergency stopped holding the watch back is a
    new incident: closing the old emergency must not close it, nor restart the silence."""
    alert_id = emergency(resident)
    resident.send(Acknowledge(alert_id, by="관제 김", role="control_center"))
    resident.advance(30 * H)  # the hold ended at 24 h; the silence paged the guardian since
    (inactivity,) = [a.alert_id for a in resident.state.alerts.values() if a.kind == "inactivity"]
    reset_before = resident.state.inactivity_reset_at

    closed = resident.send(Resolve(alert_id, by="관제 김", outcome="false_alarm"))

    assert [a.alert_id for a in closed if isinstance(a, ResolveAlert)] == [alert_id]
    assert inactivity in resident.state.alerts
    assert resident.state.inactivity_reset_at == reset_before


def test_a_new_call_for_help_under_a_forgotten_emergency_alerts_the_centre_again(
    resident: VirtualResident,
) -> None:
    alert_id = emergency(resident)
    resident.send(Acknowledge(alert_id, by="관제 김", role="control_center"))
    resident.advance(30 * H)

    again = resident.send(Emergency("spk-1", resident.clock.now(), "e-2", "voice"))

    assert ("control_center", "emergency_realert") in [
        (a.role, a.message) for a in again if isinstance(a, Notify)
    ]
    resident.send(Acknowledge(alert_id, by="관제 박", role="control_center"))
    assert resident.state.alerts[alert_id].next_realert_at is None, "acknowledged again"
