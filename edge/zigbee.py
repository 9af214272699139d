"""Zigbee2MQTT messages as evidence of a resident's activity: a pure mapper, no I/O.

The gateway agent hands every message under Zigbee2MQTT's base topic to
:meth:`Zigbee2MqttMapper.feed`, which keeps each sensor's last values and returns what the
message tells us: the resident did something (:class:`SensorActivity`), pressed an emergency
button (:class:`ButtonPress`), a sensor's health changed (:class:`SensorHealth`), or the
bridge itself went on- or offline (:class:`BridgeState`). It never raises: a home gateway
must outlive any payload. Which keys mean what is :mod:`edge.z2m_catalogue`; the topic and
payload conventions, with their sources, are in ``edge/ZIGBEE.md``. In short:

* ``{base}/NAME`` is a device's JSON state (an object); names may hold ``/``, so topics are
  split from the right: ``…/availability`` is availability (JSON ``{"state": …}`` or the legacy
  plain word), ``…/set``, ``…/get``, ``…/action`` and ``{base}/bridge/…`` are not device state.
* ``cache_state`` repeats every cached key in every message, so each rule fires on a *change*.
* A retained message is a state of unknown age: it seeds, it never yields activity or a press.
* Safety first: false activity is worse than missed activity (it hides the inactivity that
  protects the resident). Values must have their JSON type; a malformed value is ignored alone.
* Emergency buttons are debounced: actions of one button closer than ``button_debounce_s`` to
  the previous one, and a release after a hold, are the same press (one emergency).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from edge.z2m_catalogue import METERING_KEYS, RULES, Rule, is_hold, is_release, main_signal
from edge.z2m_payload import (
    bounded_int,
    decode,
    exposed_properties,
    finite_number,
    parse_json,
    parse_state_word,
    parse_time,
    route,
    valid_name,
)
from protocol.models import ActivitySource

__all__ = [
    "ActivitySource",
    "BridgeState",
    "ButtonPress",
    "Observation",
    "SensorActivity",
    "SensorHealth",
    "Zigbee2MqttMapper",
    "ZigbeeConfig",
]

_BRIDGE: Final = "bridge"
_BATTERY_MAX: Final = 100
_LINKQUALITY_MAX: Final = 255
_HOLD_MAX: Final = timedelta(minutes=5)  # a release this long after its hold is still one press
_ACTIVE_SINCE: Final = "_active_since"

State = bool | str | float


@dataclass(frozen=True)
class SensorActivity:
    """Evidence the resident did something (walked past, opened a door, switched a kettle on)."""

    source: ActivitySource
    sensor: str  # friendly name
    signal: str | None = None  # the Zigbee2MQTT key that said so


@dataclass(frozen=True)
class ButtonPress:
    """A configured emergency button was pressed (once per press, see the debounce)."""

    sensor: str
    action: str


@dataclass(frozen=True)
class SensorHealth:
    """Battery / link / availability of one sensor (None: not reported yet)."""

    sensor: str
    battery_pct: int | None = None
    linkquality: int | None = None
    available: bool | None = None
    battery_low: bool | None = None
    active_since: datetime | None = None  # water_leak: wet since


@dataclass(frozen=True)
class BridgeState:
    """``{base}/bridge/state``: Zigbee2MQTT itself is running (True) or not."""

    online: bool
    retained: bool = False


Observation = SensorActivity | ButtonPress | SensorHealth | BridgeState


@dataclass(frozen=True)
class ZigbeeConfig:
    """Which topics to read and how to judge plugs and buttons (keys are friendly names)."""

    base_topic: str = "zigbee2mqtt"
    power_threshold_w: float = 30.0  # default for every plug
    power_thresholds_w: Mapping[str, float] = field(default_factory=dict)  # per friendly name
    emergency_buttons: frozenset[str] = frozenset()  # friendly names whose `action` means "help"
    ignore: frozenset[str] = frozenset()  # friendly names to ignore
    button_debounce_s: float = 10.0


@dataclass
class _Press:
    """An emergency button's current press: when its last action came, whether it is held."""

    last: datetime | None
    held: bool


class Zigbee2MqttMapper:
    """Turns Zigbee2MQTT messages into observations, remembering each sensor's last values.

    Not thread-safe: feed it from one thread (or under one lock).
    """

    def __init__(self, config: ZigbeeConfig = ZigbeeConfig()) -> None:
        self._config = config
        self._base = self._config.base_topic.rstrip("/")
        self._thresholds = dict(self._config.power_thresholds_w)
        self._debounce = timedelta(seconds=config.button_debounce_s)
        self._state: dict[str, dict[str, State]] = {}
        self._health: dict[str, SensorHealth] = {}
        self._keys: dict[str, set[str]] = {}  # keys each sensor reports or exposes
        self._last_seen: dict[str, datetime] = {}
        self._presses: dict[str, _Press] = {}
        self.changes = 0  # counts changes of remembered values (so callers know when to save)

    def subscriptions(self) -> list[str]:
        """Topic filters to subscribe to: everything under the base topic."""
        return [f"{self._base}/#"]

    def is_gateway_topic(self, topic: str) -> bool:
        """Whether Zigbee2MQTT published this (any topic under its base): it is alive."""
        return isinstance(topic, str) and topic.startswith(self._base + "/")

    def sensors(self) -> dict[str, SensorHealth]:
        """Last known health of every sensor that has sent a usable message (a copy)."""
        return dict(self._health)

    def known(self) -> list[str]:
        """Every sensor heard of (messages, availability, ``bridge/devices``), sorted."""
        return sorted(set(self._health) | set(self._keys) | set(self._last_seen))

    def signal_of(self, sensor: str) -> str | None:
        """The sensor's main signal (``contact``, ``water_leak`` …) from what it reports."""
        return main_signal(frozenset(self._keys.get(sensor, ())))

    def last_seen(self, sensor: str) -> datetime | None:
        """When the sensor itself last sent something (its availability is the bridge's)."""
        return self._last_seen.get(sensor)

    def export_state(self) -> dict[str, dict[str, State]]:
        """The remembered values, to save and :meth:`restore` after a restart."""
        return {name: dict(values) for name, values in self._state.items()}

    def restore(self, saved: Mapping[str, object]) -> None:
        """Take values saved by :meth:`export_state` as known; malformed entries are skipped."""
        for name, values in saved.items():
            if not isinstance(values, dict) or name in self._config.ignore:
                continue
            kept: dict[str, State] = {}
            for key, value in values.items():
                if isinstance(value, bool | str):
                    kept[key] = value
                elif (number := finite_number(value)) is not None:
                    kept[key] = number
            self._state[name] = kept
            since = parse_time(kept.get(_ACTIVE_SINCE))
            if since is not None:
                self._merge_health(name, active_since=(since,))

    def feed(
        self, topic: str, payload: bytes, *, retained: bool = False, at: datetime | None = None
    ) -> list[Observation]:
        """What one MQTT message (received ``at``) tells us; [] for anything irrelevant or
        malformed. Never raises."""
        text = decode(payload) if self.is_gateway_topic(topic) else None
        if text is None:
            return []
        segments = topic[len(self._base) + 1 :].split("/")
        if segments[0] == _BRIDGE:
            return self._bridge(segments[1:], text, retained=retained)
        found = route(segments)
        if found is None or found[0] in self._config.ignore:
            return []
        sensor, is_availability = found
        if is_availability:
            available = parse_state_word(text)
            return [] if available is None else self._update_health(sensor, available=available)
        message = parse_json(text)
        if not isinstance(message, dict):
            return []
        self._keys.setdefault(sensor, set()).update(k for k in message if isinstance(k, str))
        seen = at if not retained else parse_time(message.get("last_seen"))
        if seen is not None:
            self._last_seen[sensor] = seen
        return self._device_message(sensor, message, live=not retained, at=at)

    # -- bridge ---------------------------------------------------------------------------

    def _bridge(self, rest: list[str], text: str, *, retained: bool) -> list[Observation]:
        if rest == ["state"]:
            online = parse_state_word(text)
            return [] if online is None else [BridgeState(online, retained)]
        if rest == ["devices"]:
            self._learn_devices(parse_json(text))
        return []

    def _learn_devices(self, devices: object) -> None:
        """``bridge/devices``: every joined device's name and exposed keys (no state)."""
        if not isinstance(devices, list):
            return
        for device in devices:
            if not isinstance(device, dict) or device.get("type") == "Coordinator":
                continue
            name = device.get("friendly_name")
            definition = device.get("definition")
            if not isinstance(name, str) or not valid_name(name) or name in self._config.ignore:
                continue
            exposes = definition.get("exposes") if isinstance(definition, dict) else None
            self._keys.setdefault(name, set()).update(exposed_properties(exposes))

    # -- device messages ------------------------------------------------------------------

    def _device_message(
        self, sensor: str, message: Mapping[str, object], *, live: bool, at: datetime | None
    ) -> list[Observation]:
        state = self._state.setdefault(sensor, {})
        out: list[Observation] = []
        active_since: tuple[datetime | None] | None = None  # None: unchanged
        for rule in RULES:
            if rule.kind == "action":
                press = self._action(sensor, message.get(rule.key), live=live, at=at)
                out.extend(p for p in press if not _has(out, rule) or isinstance(p, ButtonPress))
                continue
            value = _typed(rule, message.get(rule.key))
            if value is None:
                continue
            previous = state.get(rule.key)
            if live and self._fires(rule, sensor, previous, value, state) and not _has(out, rule):
                out.append(SensorActivity(rule.source, sensor, rule.signal))
            if previous != value:
                state[rule.key] = value
                if rule.kind != "threshold" or self._above(sensor, previous) != self._above(
                    sensor, value
                ):  # a plug's every watt is not worth a write to the gateway's SD card
                    self.changes += 1
            if rule.kind == "wet" and (value is True) != (previous is True):
                seen = at if live else (parse_time(message.get("last_seen")) or at)
                active_since = (seen if value is True else None,)
                state.pop(_ACTIVE_SINCE, None)
                if active_since[0] is not None:
                    state[_ACTIVE_SINCE] = active_since[0].isoformat()
        battery = bounded_int(message.get("battery"), _BATTERY_MAX)
        linkquality = bounded_int(message.get("linkquality"), _LINKQUALITY_MAX)
        low = message.get("battery_low")
        out.extend(
            self._update_health(
                sensor,
                battery_pct=battery,
                linkquality=linkquality,
                battery_low=low if isinstance(low, bool) else None,
                active_since=active_since,
            )
        )
        return out

    def _fires(
        self, rule: Rule, sensor: str, previous: State | None, value: State, state: dict[str, State]
    ) -> bool:
        """Whether the key going from ``previous`` (None: unknown) to ``value`` is activity."""
        match rule.kind:
            case "rising" | "wet":
                return value is True and previous is not True
            case "change":
                return previous is not None and value != previous
            case "enter":
                return value in rule.active and previous not in rule.active
            case "threshold":
                return self._above(sensor, previous) is False and self._above(sensor, value) is True
            case "switch_on":
                metering = any(key in state for key in METERING_KEYS)
                return metering and previous == "OFF" and value == "ON"
        return False

    def _above(self, sensor: str, watts: State | None) -> bool | None:
        """Whether a plug's reading is above its threshold (None: no reading)."""
        if not isinstance(watts, float):
            return None
        return watts > self._thresholds.get(sensor, self._config.power_threshold_w)

    def _action(
        self, sensor: str, action: object, *, live: bool, at: datetime | None
    ) -> list[Observation]:
        if not live or not isinstance(action, str) or not action:
            return []  # "" and null are Zigbee2MQTT clearing the last action
        if sensor not in self._config.emergency_buttons:
            return [SensorActivity("other", sensor, "action")]
        press = self._presses.get(sensor)
        if press is not None and self._same_press(press, action, at):
            press.last = at
            press.held = is_hold(action) and not is_release(action)
            return []
        self._presses[sensor] = _Press(at, is_hold(action) and not is_release(action))
        return [ButtonPress(sensor, action)]

    def _same_press(self, press: _Press, action: str, at: datetime | None) -> bool:
        """A frightened person presses again, holds, lets go: one press, one emergency."""
        release = press.held and is_release(action)
        if at is None or press.last is None:
            return release  # untimed (a replay without times): only the release joins
        gap = at - press.last
        if gap < timedelta(0):
            return False  # the clock stepped back (NTP correcting it): a press of its own
        return gap <= self._debounce or (release and gap <= _HOLD_MAX)

    # -- health ---------------------------------------------------------------------------

    def _update_health(
        self,
        sensor: str,
        *,
        battery_pct: int | None = None,
        linkquality: int | None = None,
        available: bool | None = None,
        battery_low: bool | None = None,
        active_since: tuple[datetime | None] | None = None,
    ) -> list[Observation]:
        """Merge the reported fields (None: not reported); [the snapshot] if anything changed."""
        old = self._health.get(sensor)
        new = self._merge_health(
            sensor,
            battery_pct=battery_pct,
            linkquality=linkquality,
            available=available,
            battery_low=battery_low,
            active_since=active_since,
        )
        return [new] if new != (old if old is not None else SensorHealth(sensor)) else []

    def _merge_health(
        self,
        sensor: str,
        *,
        battery_pct: int | None = None,
        linkquality: int | None = None,
        available: bool | None = None,
        battery_low: bool | None = None,
        active_since: tuple[datetime | None] | None = None,
    ) -> SensorHealth:
        base = self._health.get(sensor) or SensorHealth(sensor)
        new = replace(
            base,
            battery_pct=base.battery_pct if battery_pct is None else battery_pct,
            linkquality=base.linkquality if linkquality is None else linkquality,
            available=base.available if available is None else available,
            battery_low=base.battery_low if battery_low is None else battery_low,
            active_since=base.active_since if active_since is None else active_since[0],
        )
        self._health[sensor] = new
        return new


# -- topics and payloads (pure) -----------------------------------------------------------


def _has(out: list[Observation], rule: Rule) -> bool:
    """One message is one piece of evidence per source: the first rule that fires names it."""
    return any(isinstance(o, SensorActivity) and o.source == rule.source for o in out)


def _typed(rule: Rule, value: object) -> State | None:
    """The value in the rule's JSON type, or None (a bool for binaries, a string for enums)."""
    if rule.kind in {"rising", "change", "wet"}:
        return value if isinstance(value, bool) else None
    if rule.kind == "enter":
        return value.lower() if isinstance(value, str) else None
    if rule.kind == "switch_on":
        return value.upper() if isinstance(value, str) and value.upper() in {"ON", "OFF"} else None
    return finite_number(value)
