"""Device health: heartbeats, Last Will, offline devices and monitoring lost / restored."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from alerts.actions import Action, MarkDevice, Notify, OpenAlert, ResolveAlert
from alerts.engine import make_alert_id
from alerts.inputs import Activity, DeviceStatus, Heartbeat, RegisterDevice, Resolve, Tick
from alerts.policy import Policy
from alerts.testing import VirtualResident

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Monday 09:00 KST, where the fixtures start
S = timedelta(seconds=1)
H = timedelta(hours=1)
A = TypeVar("A")
MakeResident = Callable[..., VirtualResident]


def only(actions: Sequence[Action], kind: type[A]) -> list[A]:
    return [a for a in actions if isinstance(a, kind)]


def test_register_adds_and_updates_devices(resident: VirtualResident) -> None:
    assert set(resident.state.devices) == {"spk-1", "pir-1"}
    assert resident.send(RegisterDevice("pir-1", "phone")) == ()
    assert resident.state.devices["pir-1"].kind == "phone"
    assert resident.state.devices["pir-1"].online


def test_heartbeat_records_receipt_and_interval_but_is_not_activity(
    resident: VirtualResident,
) -> None:
    resident.advance(10 * S)
    # The device clock lags by 7 s; the hub's receipt time is what counts.
    assert resident.send(Heartbeat("spk-1", T0 + 3 * S, interval_s=60)) == ()
    device = resident.state.devices["spk-1"]
    assert (device.last_seen_at, device.interval_s) == (T0 + 10 * S, 60)
    assert resident.state.last_activity_at is None
    assert resident.next_due == T0 + 10 * S + 180 * S


def test_missing_heartbeats_mark_the_device_offline(resident: VirtualResident) -> None:
    resident.send(Heartbeat("spk-1", T0, interval_s=60))

    actions = resident.advance(10 * 60 * S)

    assert actions == (MarkDevice("spk-1", online=False, since=T0 + 180 * S),)
    device = resident.state.devices["spk-1"]
    assert (device.online, device.offline_since) == (False, T0 + 180 * S)
    assert only(actions, Notify) == []  # one device offline pages nobody


def test_heartbeat_count_comes_from_the_policy(make_resident: MakeResident) -> None:
    vr = make_resident(policy=Policy(device_offline_after_heartbeats=1))
    vr.send(Heartbeat("spk-1", T0, interval_s=30))
    assert vr.advance(31 * S) == (MarkDevice("spk-1", online=False, since=T0 + 30 * S),)


def test_last_will_means_offline_now(resident: VirtualResident) -> None:
    resident.advance(5 * S)
    # The Last Will was composed at connect time; its own `at` is old.
    actions = resident.send(DeviceStatus("spk-1", T0 - H, online=False))
    assert actions == (MarkDevice("spk-1", online=False, since=T0 + 5 * S),)
    assert resident.send(DeviceStatus("spk-1", T0 - H, online=False)) == ()


def test_any_message_brings_an_offline_device_back(resident: VirtualResident) -> None:
    resident.send(DeviceStatus("pir-1", T0, online=False))
    resident.advance(H)

    actions = resident.send(Activity("pir-1", T0 + H, "motion"))

    assert actions == (MarkDevice("pir-1", online=True, since=T0 + H),)
    assert resident.state.devices["pir-1"].online
    assert resident.state.last_activity_at == T0 + H


def test_stale_retained_online_status_is_ignored(resident: VirtualResident) -> None:
    resident.advance(H)
    resident.send(DeviceStatus("pir-1", T0 + H, online=False))
    resident.advance(H)
    # The broker replays the retained "online" from the old connection to a restarted hub.
    assert resident.send(DeviceStatus("pir-1", T0 - H, online=True)) == ()
    assert not resident.state.devices["pir-1"].online
    # A real reconnect publishes a fresh one.
    fresh = resident.send(DeviceStatus("pir-1", T0 + 2 * H, online=True))
    assert fresh == (MarkDevice("pir-1", online=True, since=T0 + 2 * H),)


def test_messages_from_unknown_devices_change_no_device(resident: VirtualResident) -> None:
    assert resident.send(Heartbeat("ghost", T0, interval_s=60)) == ()
    assert resident.send(DeviceStatus("ghost", T0, online=False)) == ()
    assert "ghost" not in resident.state.devices


def all_offline(vr: VirtualResident) -> None:
    vr.send(Heartbeat("spk-1", T0, interval_s=60))
    vr.send(DeviceStatus("pir-1", T0, online=False))


def test_monitoring_lost_when_every_device_is_offline(resident: VirtualResident) -> None:
    all_offline(resident)
    last_offline = T0 + 180 * S  # the speaker's heartbeat timed out after the sensor's LWT

    actions = resident.advance(3 * H)

    alert_id = make_alert_id("r-1", "monitoring_lost", last_offline.isoformat())
    assert only(actions, OpenAlert) == [
        OpenAlert(alert_id, "monitoring_lost", "control_center", reason="all_offline")
    ]
    assert only(actions, Notify) == [
        Notify(
            alert_id=alert_id,
            kind="monitoring_lost",
            stage="control_center",
            role="control_center",
            message="monitoring_lost",
            step="open",
            event_at=last_offline,
        )
    ]
    opened_at = [s.at for s in resident.history if only(s.actions, OpenAlert)]
    assert opened_at == [last_offline + 2 * H]


def test_one_device_online_is_enough(resident: VirtualResident) -> None:
    resident.send(DeviceStatus("pir-1", T0, online=False))
    assert only(resident.advance(5 * H), OpenAlert) == []


def test_a_device_coming_back_restores_monitoring(resident: VirtualResident) -> None:
    all_offline(resident)
    resident.advance(3 * H)
    (alert_id,) = resident.state.alerts

    actions = resident.send(Heartbeat("spk-1", T0 + 3 * H, interval_s=60))

    assert actions == (
        MarkDevice("spk-1", online=True, since=T0 + 3 * H),
        ResolveAlert(alert_id, "monitoring_lost", reason="monitoring_restored"),
        Notify(
            alert_id=alert_id,
            kind="monitoring_lost",
            stage="control_center",
            role="control_center",
            message="monitoring_restored",
            step="resumed",
            event_at=T0 + 3 * H,
        ),
    )
    assert resident.state.alerts == {}


def test_closing_monitoring_lost_by_hand_does_not_reopen_it(resident: VirtualResident) -> None:
    all_offline(resident)
    resident.advance(3 * H)
    (alert_id,) = resident.state.alerts

    resident.send(Resolve(alert_id, by="operator-7", outcome="resident_in_hospital"))

    assert resident.send(Tick()) == ()
    later = resident.advance(10 * H)
    assert [a.kind for a in only(later, OpenAlert)] == ["inactivity"]  # T0+12h, as usual
