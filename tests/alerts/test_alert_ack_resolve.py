"""Acknowledged is not safe: a guardian's "I'm going" holds the centre for
``ack_resolve_within``, then the centre is paged unless the alert was resolved."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from alerts.actions import Action, ChangeStage, Notify
from alerts.inputs import Acknowledge, Activity, Resolve
from alerts.policy import DEFAULT_POLICY
from alerts.testing import VirtualResident

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Monday 09:00 KST
H = timedelta(hours=1)
M = timedelta(minutes=1)
MakeResident = Callable[..., VirtualResident]


def stages(actions: Sequence[Action]) -> list[tuple[str, str]]:
    return [(a.stage, a.reason) for a in actions if isinstance(a, ChangeStage)]


def told(actions: Sequence[Action]) -> list[tuple[str, str]]:
    return [(a.role, a.message) for a in actions if isinstance(a, Notify)]


def _alert_id(vr: VirtualResident) -> str:
    (alert,) = [a for a in vr.state.alerts.values() if a.kind == "inactivity"]
    return alert.alert_id


def test_guardian_ack_holds_the_centre_until_ack_resolve_within(
    make_resident: MakeResident,
) -> None:
    # The centre would normally be paged at T+13h; the guardian acks at T+12h30.
    policy = DEFAULT_POLICY.with_overrides({"control_center_after": "PT13H"})
    vr = make_resident(policy=policy)
    vr.advance(12 * H + 30 * M)
    vr.send(Acknowledge(_alert_id(vr), by="딸", role="guardian"))

    assert stages(vr.advance(2 * H - M)) == [], "paged while the guardian was on the way"
    actions = vr.advance(M)
    assert vr.clock.now() == T0 + 14 * H + 30 * M
    assert stages(actions) == [("control_center", "ack_resolve_within")]
    assert ("control_center", "inactivity_unresolved_after_ack") in told(actions)
    centre = next(a for a in actions if isinstance(a, Notify) and a.role == "control_center")
    assert centre.event_at == T0 + 12 * H + 30 * M  # the message names when the guardian acked


def test_resolved_by_the_guardian_in_time_pages_nobody_else(
    make_resident: MakeResident,
) -> None:
    vr = make_resident()
    vr.advance(12 * H)
    alert_id = _alert_id(vr)
    vr.send(Acknowledge(alert_id, by="아들", role="guardian"))
    vr.advance(90 * M)
    vr.send(Resolve(alert_id, by="아들", outcome="visited"))
    later = vr.advance(12 * H)
    assert ("control_center", "inactivity_control_center") not in told(later)
    assert stages(later) == []


def test_activity_while_held_closes_the_alert(make_resident: MakeResident) -> None:
    vr = make_resident()
    vr.advance(12 * H)
    vr.send(Acknowledge(_alert_id(vr), by="딸", role="guardian"))
    vr.advance(30 * M)
    vr.send(Activity("pir-1", vr.clock.now(), "motion"))
    assert vr.state.alerts == {}
    assert stages(vr.advance(3 * H)) == []


def test_an_ack_by_the_centre_does_not_hold_anything(make_resident: MakeResident) -> None:
    policy = DEFAULT_POLICY.with_overrides({"control_center_after": "PT13H"})
    vr = make_resident(policy=policy)
    vr.advance(12 * H + 10 * M)
    vr.send(Acknowledge(_alert_id(vr), by="operator-3", role="control_center"))
    actions = vr.advance(50 * M)
    assert stages(actions) == [("control_center", "control_center_after")]


def test_the_alert_keeps_the_ack_resolve_within_it_opened_with(
    make_resident: MakeResident,
) -> None:
    policy = DEFAULT_POLICY.with_overrides({"ack_resolve_within": "PT1H"})
    vr = make_resident(policy=policy)
    vr.advance(12 * H)
    vr.state.policy = DEFAULT_POLICY.with_overrides({"ack_resolve_within": "PT5H"})
    vr.send(Acknowledge(_alert_id(vr), by="딸", role="guardian"))
    assert stages(vr.advance(1 * H)) == [("control_center", "ack_resolve_within")]


def test_the_centre_takes_over_an_alert_a_guardian_acknowledged(
    make_resident: MakeResident,
) -> None:
    """The centre's acknowledgement after a guardian's makes the alert the centre's (it kept
    the guardian's, and the guardian's hold still paged the centre it had been taken by);
    a repeated acknowledgement records nothing."""
    policy = DEFAULT_POLICY.with_overrides({"control_center_after": "PT13H"})
    vr = make_resident(policy=policy)
    vr.advance(12 * H + 10 * M)
    alert_id = _alert_id(vr)
    vr.send(Acknowledge(alert_id, by="딸", role="guardian"))
    assert vr.send(Acknowledge(alert_id, by="아들", role="guardian")) == ()

    vr.send(Acknowledge(alert_id, by="operator-3", role="control_center"))

    alert = vr.state.alerts[alert_id]
    assert (alert.acknowledged_by, alert.acknowledged_role) == ("operator-3", "control_center")
    assert vr.send(Acknowledge(alert_id, by="operator-4", role="control_center")) == ()
    later = vr.advance(3 * H)
    assert ("control_center", "ack_resolve_within") not in stages(later)
