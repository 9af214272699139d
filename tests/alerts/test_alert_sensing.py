"""A gateway's heartbeat beyond "alive" (alerts/sensing.py): a blind device is a device
problem, never a quiet resident; a water sensor wet too long is water left running."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from alerts.actions import (
    Action,
    MarkDevice,
    Notify,
    OpenAlert,
    QueueDigest,
    RecordTimeline,
    ResolveAlert,
)
from alerts.inputs import Activity, Heartbeat, Resolve, SensorReport
from alerts.policy import DEFAULT_POLICY, Policy
from alerts.sensing import REPLAY_GRACE
from alerts.testing import VirtualResident

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Monday 09:00 KST
M = timedelta(minutes=1)
H = timedelta(hours=1)
A = TypeVar("A")
MakeResident = Callable[..., VirtualResident]
GATEWAY = {"gw": "sensors"}


def only(actions: Sequence[Action], kind: type[A]) -> list[A]:
    return [a for a in actions if isinstance(a, kind)]


def everything(vr: VirtualResident) -> list[Action]:
    return [a for step in vr.history for a in step.actions]


def beat(vr: VirtualResident, *, sensing: bool = True, **wet: datetime | None) -> None:
    """A heartbeat of the gateway now; ``wet``: water sensors and since when (None: dry)."""
    sensors = tuple(SensorReport(name, "water_leak", since) for name, since in wet.items())
    vr.send(Heartbeat("gw", vr.clock.now(), 300, sensing=sensing, sensors=sensors or None))


def beat_every_5_min(vr: VirtualResident, until: datetime, *, sensing: bool = True) -> None:
    while vr.clock.now() + 5 * M <= until:
        vr.advance(5 * M)
        beat(vr, sensing=sensing)
    vr.run_until(until)


def test_a_blind_gateway_is_offline_at_once_and_never_a_quiet_resident(
    make_resident: MakeResident,
) -> None:
    vr = make_resident(devices=GATEWAY)
    vr.send(Activity("gw", T0, "motion"))
    beat(vr)
    vr.advance(M)
    beat(vr, sensing=False)  # Zigbee2MQTT is down; the agent still runs
    assert only(vr.history[-1].actions, MarkDevice) == [
        MarkDevice("gw", online=False, since=T0 + M)
    ]
    # 30 h of blind heartbeats: the centre hears monitoring lost at +2 h, and nobody hears
    # of a silence (before, the fixed rule told the guardian at T + 12 h).
    beat_every_5_min(vr, T0 + 30 * H, sensing=False)
    notes = only(everything(vr), Notify)
    assert [(n.role, n.message, n.event_at) for n in notes] == [
        ("control_center", "monitoring_lost", T0 + M)
    ]
    assert not any(n.kind == "inactivity" for n in only(everything(vr), OpenAlert))
    assert not vr.state.devices["gw"].online  # blind heartbeats keep it offline


def test_seeing_again_recovers_like_a_device_back_online_and_replays_first(
    make_resident: MakeResident,
) -> None:
    vr = make_resident(devices=GATEWAY)
    vr.send(Activity("gw", T0, "motion"))
    beat(vr, sensing=False)
    beat_every_5_min(vr, T0 + 20 * H, sensing=False)
    back = vr.clock.now()
    beat(vr)  # the gateway is back
    actions = vr.history[-1].actions
    assert MarkDevice("gw", online=True, since=back) in actions
    assert [r.reason for r in only(actions, ResolveAlert)] == ["monitoring_restored"]
    # The silence held meanwhile (20 h, past guardian_after) waits for the outbox's replay:
    # nothing before the grace ends, then the fixed rule's guardian stage.
    vr.run_until(back + REPLAY_GRACE - M)
    assert not only(everything(vr), OpenAlert)[1:]
    vr.run_until(back + REPLAY_GRACE)
    opened = [a for a in only(everything(vr), OpenAlert) if a.kind == "inactivity"]
    assert len(opened) == 1


def test_activity_replayed_after_sight_returns_means_no_inactivity_alert(
    make_resident: MakeResident,
) -> None:
    vr = make_resident(devices=GATEWAY)
    vr.send(Activity("gw", T0, "motion"))
    beat(vr, sensing=False)
    beat_every_5_min(vr, T0 + 14 * H, sensing=False)
    beat(vr)
    vr.advance(2 * M)
    vr.send(Activity("gw", vr.clock.now(), "motion"))
    vr.advance(2 * H)
    assert not any(n.kind == "inactivity" for n in only(everything(vr), Notify))


def test_a_silent_device_that_comes_back_blind_does_not_flicker_online(
    make_resident: MakeResident,
) -> None:
    vr = make_resident(devices=GATEWAY)
    beat(vr)
    vr.advance(3 * H)  # silent: offline at 15 min, monitoring lost at 2 h 15 min
    beat(vr, sensing=False)
    actions = vr.history[-1].actions
    assert not only(actions, MarkDevice)
    assert not only(actions, ResolveAlert)
    assert not vr.state.devices["gw"].online


def test_another_device_that_sees_keeps_the_watch(make_resident: MakeResident) -> None:
    # The speaker still hears: the home is not blind, the silence is judged on it.
    vr = make_resident(devices={"gw": "sensors", "spk": "speaker"})
    vr.send(Activity("spk", T0, "voice"))
    vr.send(Heartbeat("spk", T0, 300))
    beat(vr, sensing=False)
    for _ in range(13 * 12):
        vr.advance(5 * M)
        vr.send(Heartbeat("spk", vr.clock.now(), 300))
        beat(vr, sensing=False)
    notes = only(everything(vr), Notify)
    assert [(n.role, n.message) for n in notes] == [("guardian", "inactivity_guardian")]


def test_water_left_running_pages_once_per_spell_and_ends_when_dry(
    make_resident: MakeResident,
) -> None:
    vr = make_resident(devices=GATEWAY)
    beat(vr, sink=T0)
    vr.run_until(T0 + 30 * M - timedelta(seconds=1))
    assert not only(everything(vr), OpenAlert)
    vr.run_until(T0 + 30 * M)
    (opened,) = only(everything(vr), OpenAlert)
    assert (opened.kind, opened.stage, opened.reason) == (
        "water_running",
        "guardian",
        "water_running_after",
    )
    (note,) = only(everything(vr), Notify)
    assert (note.role, note.message, note.event_at) == ("guardian", "water_running", T0)
    # Still wet for hours: no second page; another sensor wet meanwhile: its timeline.
    for _ in range(24):
        vr.advance(5 * M)
        beat(vr, sink=T0, bath=T0 + 40 * M)
    assert len(only(everything(vr), Notify)) == 1
    (entry,) = only(everything(vr), RecordTimeline)
    assert (entry.alert_id, entry.what, entry.note) == (opened.alert_id, "water_running", "bath")
    vr.advance(5 * M)
    beat(vr, sink=None, bath=None)
    (ended,) = only(vr.history[-1].actions, ResolveAlert)
    assert (ended.alert_id, ended.reason) == (opened.alert_id, "water_stopped")
    # A new spell is a new alert.
    wet_again = vr.clock.now()
    beat(vr, sink=wet_again)
    vr.advance(31 * M)
    assert [a.kind for a in only(everything(vr), OpenAlert)] == ["water_running"] * 2


def test_water_closed_by_staff_while_still_wet_is_not_paged_again(
    make_resident: MakeResident,
) -> None:
    vr = make_resident(devices=GATEWAY)
    beat(vr, sink=T0)
    vr.run_until(T0 + 30 * M)
    (opened,) = only(everything(vr), OpenAlert)
    vr.send(Resolve(opened.alert_id, "관제 김", "other"))
    for _ in range(12):
        vr.advance(5 * M)
        beat(vr, sink=T0)
    assert len(only(everything(vr), OpenAlert)) == 1


def test_the_policy_routes_water_left_running(make_resident: MakeResident) -> None:
    late = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 23:00 KST: after working hours
    policy = DEFAULT_POLICY.with_overrides(
        {"water_running_to": ("control_center", "official"), "water_running_after": "PT10M"}
    )
    vr = make_resident(policy=policy, devices=GATEWAY, start=late)
    beat(vr, sink=late)
    vr.run_until(late + 10 * M)
    (opened,) = only(everything(vr), OpenAlert)
    assert opened.stage == "control_center"
    assert [n.role for n in only(everything(vr), Notify)] == ["control_center"]
    assert [q.role for q in only(everything(vr), QueueDigest)] == ["official"]
    quiet = make_resident(policy=Policy(water_running_to=()), devices=GATEWAY)
    beat(quiet, sink=T0)
    quiet.run_until(T0 + H)
    assert [a.kind for a in only(everything(quiet), OpenAlert)] == ["water_running"]
    assert not only(everything(quiet), Notify)
