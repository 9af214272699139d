"""What a sensor gateway's heartbeat says beyond "alive": whether it can see, and water.

Owns two rules of the default escalation policy, fired from :mod:`alerts.engine`:

- **A blind device** (a heartbeat with ``sensing=False``: the agent runs, its Zigbee
  gateway does not) is a device problem, never a quiet resident. It counts as offline at
  once (:func:`gone_blind`), so the device-health rules take it from there as for any
  device gone offline: ``monitoring_lost`` reaches the centre when the home has nothing
  else that sees. Its heartbeats keep it known alive but do not bring it back; a heartbeat
  that sees again does (:func:`sees_again`), like a device coming back online, and the
  monitoring_lost alert resolves. While every device is offline and one of them is blind,
  the fixed rule's silence reaches no guardian (:func:`blind_home`): the hub knows the
  silence is the gateway's. Once it sees again, a silence held meanwhile waits
  :data:`REPLAY_GRACE` for the agent's outbox before it is judged (:func:`replay_settled`).
- **Water left running**: a ``water_leak`` sensor whose signal has been on for the policy's
  ``water_running_after`` opens a ``water_running`` alert, told to the roles of the policy's
  ``water_running_to`` (:func:`water_running`). One spell pages once however long it stays
  wet; another sensor wet while the alert is open goes on its timeline; the alert resolves
  itself when every water sensor is dry (:func:`water_report`).

Pure, like the engine: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from alerts.actions import MarkDevice, RecordTimeline, ResolveAlert
from alerts.emergency import Turn
from alerts.inputs import Heartbeat
from alerts.state import AlertState, DeviceState, ResidentState
from protocol.vocab import Stage

__all__ = [
    "REPLAY_GRACE",
    "WATER_SIGNAL",
    "blind_home",
    "gone_blind",
    "replay_settled",
    "sees_again",
    "water_report",
    "water_running",
    "water_running_at",
]

REPLAY_GRACE = timedelta(minutes=10)
"""How long after a device comes back its outbox may still be replaying old signals."""

WATER_SIGNAL = "water_leak"
"""The gateway's word (Zigbee2MQTT's) for a water sensor's signal."""

# Wet spells remembered as already alerted on; a spell lasts hours, not weeks.
_WATER_TOLD_KEPT = 20

# Roles paged only in working hours, else in their next working-day digest.
_WORKING_HOURS_ROLES = frozenset({"official", "health_center"})


# --- a device that cannot see ----------------------------------------------------------


def gone_blind(turn: Turn, device_id: str, device: DeviceState) -> None:
    """A heartbeat says the device cannot observe the home: offline from now, at once."""
    device.sensing = False
    if device.online:
        device.online = False
        device.offline_since = turn.now
        turn.emit(MarkDevice(device_id, online=False, since=turn.now))


def sees_again(turn: Turn, device: DeviceState) -> None:
    """A heartbeat that sees: the device may come back (the engine's ``device_seen``).

    Remembered when it ends a blind home, for :func:`replay_settled`.
    """
    if device.sensing:
        return
    if blind_home(turn.state):
        turn.state.sight_back_at = turn.now
    device.sensing = True


def blind_home(state: ResidentState) -> bool:
    """Every device offline and one of them says it is blind: the silence is the gateway's."""
    devices = state.devices.values()
    return (
        bool(state.devices)
        and not any(d.online for d in devices)
        and not all(d.sensing for d in devices)
    )


def replay_settled(state: ResidentState, due: datetime) -> datetime:
    """``due``, or later while a device that saw again may still be replaying its outbox."""
    back = state.sight_back_at
    if back is None:
        return due
    return max(due, _utc(back) + REPLAY_GRACE)


# --- water left running ----------------------------------------------------------------


def water_report(turn: Turn, event: Heartbeat) -> None:
    """Which of the device's water sensors are wet, and since when, as its heartbeat says.

    A sensor no longer listed is forgotten (it was taken out of the gateway). Once every
    water sensor is dry, an open ``water_running`` alert resolves itself.
    """
    if event.sensors is None:
        return
    state = turn.state
    prefix = f"{event.device}/"
    wet = {k: v for k, v in state.wet.items() if not k.startswith(prefix)}
    for sensor in event.sensors:
        if sensor.signal == WATER_SIGNAL and sensor.active_since is not None:
            wet[prefix + sensor.name] = _device_time(sensor.active_since, turn.now)
    state.wet = wet
    alert = _open_water_alert(state)
    if alert is not None and not wet:
        turn.emit(ResolveAlert(alert.alert_id, alert.kind, reason="water_stopped"))
        del state.alerts[alert.alert_id]


def water_running_at(state: ResidentState) -> tuple[datetime, str] | None:
    """When the earliest wet spell not yet alerted on becomes water left running, and its
    key; None when there is none."""
    spells = [
        (_utc(since), key)
        for key, since in state.wet.items()
        if _spell(key, since) not in state.water_told
    ]
    if not spells:
        return None
    since, key = min(spells)
    return since + state.policy.water_running_after, key


def water_running(turn: Turn, key: str, alert_id: Callable[[str], str]) -> None:
    """A water sensor wet for ``water_running_after``: the alert opens and the policy's
    roles are told, or, with one open already, the spell goes on its timeline (no page).

    ``alert_id`` makes the alert's id from the spell (the engine's ``make_alert_id``).
    """
    state = turn.state
    since = _utc(state.wet[key])
    spell = _spell(key, since)
    state.water_told = [*state.water_told, spell][-_WATER_TOLD_KEPT:]
    device, _, sensor = key.partition("/")
    open_alert = _open_water_alert(state)
    if open_alert is not None:
        turn.emit(RecordTimeline(open_alert.alert_id, "water_running", by=device, note=sensor))
        return
    roles = state.policy.water_running_to
    stage: Stage = "guardian" if "guardian" in roles else "control_center"
    alert = turn.open_alert(alert_id(spell), "water_running", stage, since, "water_running_after")
    for role in roles:
        if role in _WORKING_HOURS_ROLES:
            turn.route(alert, role, "water_running", "open", since)
        else:
            turn.tell(alert, role, "water_running", "open", since)


def _open_water_alert(state: ResidentState) -> AlertState | None:
    return next((a for a in state.alerts.values() if a.kind == "water_running"), None)


def _spell(key: str, since: datetime) -> str:
    return f"{key}|{_utc(since).isoformat()}"


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


def _device_time(at: datetime, now: datetime) -> datetime:
    """A device's time, never after ``now`` (device clocks drift; naive: taken as now)."""
    if at.utcoffset() is None:
        return now
    return min(at.astimezone(UTC), now)
