"""Zigbee2MQTT messages as evidence of a resident's activity: a pure mapper, no I/O.

The gateway agent subscribes to the local Zigbee2MQTT (Z2M) broker and hands every message to
:meth:`Zigbee2MqttMapper.feed`, which keeps the last value of each sensor and returns what the
message tells us: the resident did something (:class:`SensorActivity`), pressed an emergency
button (:class:`ButtonPress`), or a sensor's battery / link / availability changed
(:class:`SensorHealth`). It never raises: a home gateway must outlive any payload.

Z2M conventions followed (zigbee2mqtt.io, "MQTT Topics and Messages",
https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html, and the pages named below;
read from the Koenkk/zigbee2mqtt.io docs repository):

* ``{base}/FRIENDLY_NAME`` carries a device's state, "always in a JSON format" (an object), with
  the keys its *Exposes* list: ``occupancy`` (bool), ``contact`` (bool, true = closed),
  ``power`` (W), ``action`` (string), ``battery`` (%), ``linkquality`` (0-255). The base topic is
  configurable (``mqtt.base_topic``, default ``zigbee2mqtt``).
* A friendly name may contain ``/`` ("kitchen/floor_light"), but may not start or end with
  ``/`` nor end with ``/`` + an endpoint name or a number ("Devices and Groups" page). So a
  topic is split from the right: a last segment ``availability`` means the availability of the
  name before it; ``…/set``, ``…/set/<attr>``, ``…/get``, ``…/get/<attr>`` are commands *to*
  Z2M and are ignored.
* ``{base}/bridge/...`` (state, info, devices, groups, event, logging, request, response) is
  about Z2M itself, not the home: ignored.
* ``{base}/FRIENDLY_NAME/availability`` is retained and carries ``online``/``offline`` with
  ``advanced.legacy_availability_payload: true`` (the old default) or
  ``{"state":"online"}``/``{"state":"offline"}`` without it ("Device-Availability" page). Both
  are accepted.
* ``advanced.cache_state`` (default true): "MQTT message payload will contain all attributes,
  not only changed ones", so a battery report repeats the cached ``occupancy``/``contact``/
  ``power``. Hence every rule below fires on a *change* of the cached value, never on its
  mere presence. ``cache_state_send_on_startup`` re-sends the cache (not retained) when Z2M
  restarts; the change rules absorb it, except a cached ``occupancy: true`` reaching a mapper
  that has no state yet (both restarted together), which counts as motion once.
* ``action`` is one of Z2M's never-cached properties (``dontCacheProperties`` in Z2M's
  ``lib/state.ts``), so each non-empty ``action`` is a press. With
  ``homeassistant.legacy_action_sensor`` Z2M publishes ``action: ""`` right after, to clear
  it, and ``null`` can appear too: both are ignored.
* ``{base}/FRIENDLY_NAME/action`` (a plain-string copy of ``action`` that Z2M publishes when
  its Home Assistant integration is on) is ignored, so a press is never counted twice; the
  JSON state topic carries the same press. Only ``advanced.output: json`` (the default) is
  supported: the ``attribute`` output's per-key topics have non-object payloads, ignored.
* MQTT 3.1.1 §3.3.1.3 (MQTT-3.3.1-8/-9): a broker sets RETAIN only on messages sent because of
  a *new* subscription. A retained message is a stored state of unknown age (Z2M's ``retain``
  device option, availability), so it only seeds the mapper's state: it never yields
  :class:`SensorActivity` or :class:`ButtonPress`. It may yield :class:`SensorHealth`, since
  health is state, not an event (an ``offline`` retained before we started is worth knowing).

Decisions (safety first: false activity is worse than missed activity, because activity
suppresses the inactivity alerts that protect the resident):

* motion: ``occupancy`` false → true, or unknown → true on a non-retained message.
* door: every change of ``contact``; the first value seen for a sensor only seeds state, even
  on a live message: a heartbeat of a door left open would otherwise count as an opening.
* power: ``power`` going from ≤ threshold to > threshold (per-plug threshold, else the
  default); the first reading only seeds state, so a TV left on is not news at every restart.
* action: non-empty string; from an ``emergency_buttons`` sensor → :class:`ButtonPress` (any
  action: a frightened person may double-press or hold), else ``SensorActivity("other")``.
* Values must have their JSON type: a bool for ``occupancy``/``contact``, a finite number (not
  a bool, not a numeric string) for ``power``/``battery``/``linkquality``, as ``protocol``
  refuses to coerce. ``battery`` and ``linkquality`` are rounded to an int, then dropped when
  outside 0-100 and 0-255. A malformed value is ignored alone: the rest of the
  message still counts.
* One message's observations come in a fixed order: motion, door, power, action, health.
  :class:`SensorHealth` is emitted (with the sensor's full merged snapshot) whenever any of
  its three fields changed, including on the first report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final, Literal

__all__ = [
    "ActivitySource",
    "ButtonPress",
    "Observation",
    "SensorActivity",
    "SensorHealth",
    "Zigbee2MqttMapper",
    "ZigbeeConfig",
]

ActivitySource = Literal["motion", "door", "power", "other"]

_COMMAND_SEGMENTS: Final = frozenset({"set", "get"})
_AVAILABILITY: Final = "availability"
_ACTION_TOPIC: Final = "action"
_BRIDGE: Final = "bridge"
_AVAILABILITY_STATES: Final = {"online": True, "offline": False}
_BATTERY_MAX: Final = 100
_LINKQUALITY_MAX: Final = 255


@dataclass(frozen=True)
class SensorActivity:
    """Evidence the resident did something (walked past, opened a door, switched a kettle on)."""

    source: ActivitySource
    sensor: str  # friendly name


@dataclass(frozen=True)
class ButtonPress:
    """A configured emergency button was pressed."""

    sensor: str
    action: str


@dataclass(frozen=True)
class SensorHealth:
    """Battery / link / availability of one sensor (None: not reported yet)."""

    sensor: str
    battery_pct: int | None = None
    linkquality: int | None = None
    available: bool | None = None


Observation = SensorActivity | ButtonPress | SensorHealth


@dataclass(frozen=True)
class ZigbeeConfig:
    """Which topics to read and how to judge plugs and buttons (keys are friendly names)."""

    base_topic: str = "zigbee2mqtt"
    power_threshold_w: float = 30.0  # default for every plug
    power_thresholds_w: Mapping[str, float] = field(default_factory=dict)  # per friendly name
    emergency_buttons: frozenset[str] = frozenset()  # friendly names whose `action` means "help"
    ignore: frozenset[str] = frozenset()  # friendly names to ignore


@dataclass
class _SensorState:
    """Last values seen for one sensor (None: never seen)."""

    occupancy: bool | None = None
    contact: bool | None = None
    power_w: float | None = None


class Zigbee2MqttMapper:
    """Turns Zigbee2MQTT messages into observations, remembering each sensor's last values.

    Not thread-safe: feed it from one thread (the MQTT client's callback thread).
    """

    def __init__(self, config: ZigbeeConfig = ZigbeeConfig()) -> None:
        self._config = config
        self._base = self._config.base_topic.rstrip("/")
        self._thresholds = dict(self._config.power_thresholds_w)
        self._state: dict[str, _SensorState] = {}
        self._health: dict[str, SensorHealth] = {}

    def subscriptions(self) -> list[str]:
        """Topic filters to subscribe to: everything under the base topic."""
        return [f"{self._base}/#"]

    def sensors(self) -> dict[str, SensorHealth]:
        """Last known health of every sensor that has sent a usable message (a copy)."""
        return dict(self._health)

    def feed(self, topic: str, payload: bytes, *, retained: bool = False) -> list[Observation]:
        """What one MQTT message tells us; [] for anything irrelevant or malformed. Never raises."""
        route = self._route(topic) if isinstance(topic, str) else None
        text = _decode(payload) if route is not None else None
        if route is None or text is None or route[0] in self._config.ignore:
            return []
        sensor, is_availability = route
        if is_availability:
            available = _parse_availability(text)
            return [] if available is None else self._update_health(sensor, available=available)
        message = _parse_object(text)
        if message is None:
            return []
        return self._device_message(sensor, message, live=not retained)

    # -- topics ---------------------------------------------------------------------------

    def _route(self, topic: str) -> tuple[str, bool] | None:
        """(friendly name, is availability topic) for a device topic, else None."""
        prefix = self._base + "/"
        if not topic.startswith(prefix):
            return None
        segments = topic[len(prefix) :].split("/")
        if segments[0] == _BRIDGE:
            return None
        if len(segments) >= 2 and (
            segments[-1] in _COMMAND_SEGMENTS
            or segments[-1] == _ACTION_TOPIC
            or (len(segments) >= 3 and segments[-2] in _COMMAND_SEGMENTS)
        ):
            return None
        is_availability = len(segments) >= 2 and segments[-1] == _AVAILABILITY
        if is_availability:
            segments = segments[:-1]
        name = "/".join(segments)
        if not _valid_name(name):
            return None
        return name, is_availability

    # -- device messages ------------------------------------------------------------------

    def _device_message(
        self, sensor: str, message: Mapping[str, object], *, live: bool
    ) -> list[Observation]:
        state = self._state.setdefault(sensor, _SensorState())
        out: list[Observation] = []

        occupancy = message.get("occupancy")
        if isinstance(occupancy, bool):
            if live and occupancy and state.occupancy is not True:
                out.append(SensorActivity("motion", sensor))
            state.occupancy = occupancy

        contact = message.get("contact")
        if isinstance(contact, bool):
            if live and state.contact is not None and contact != state.contact:
                out.append(SensorActivity("door", sensor))
            state.contact = contact

        power = _finite_number(message.get("power"))
        if power is not None:
            threshold = self._thresholds.get(sensor, self._config.power_threshold_w)
            if live and state.power_w is not None and state.power_w <= threshold < power:
                out.append(SensorActivity("power", sensor))
            state.power_w = power

        action = message.get("action")
        if live and isinstance(action, str) and action:
            if sensor in self._config.emergency_buttons:
                out.append(ButtonPress(sensor, action))
            else:
                out.append(SensorActivity("other", sensor))

        battery = _bounded_int(message.get("battery"), _BATTERY_MAX)
        linkquality = _bounded_int(message.get("linkquality"), _LINKQUALITY_MAX)
        out.extend(self._update_health(sensor, battery_pct=battery, linkquality=linkquality))
        return out

    def _update_health(
        self,
        sensor: str,
        *,
        battery_pct: int | None = None,
        linkquality: int | None = None,
        available: bool | None = None,
    ) -> list[Observation]:
        """Merge the reported fields (None: not reported); [the snapshot] if anything changed."""
        old = self._health.get(sensor)
        base = old if old is not None else SensorHealth(sensor)
        new = replace(
            base,
            battery_pct=base.battery_pct if battery_pct is None else battery_pct,
            linkquality=base.linkquality if linkquality is None else linkquality,
            available=base.available if available is None else available,
        )
        self._health[sensor] = new
        return [new] if new != base else []


# -- payload helpers (pure) ---------------------------------------------------------------


def _valid_name(name: str) -> bool:
    """Z2M's own rule: non-empty, not starting or ending with '/' (no empty segment either)."""
    return bool(name) and "" not in name.split("/")


def _decode(payload: object) -> str | None:
    if isinstance(payload, str):
        return payload
    if not isinstance(payload, bytes | bytearray | memoryview):
        return None
    try:
        return bytes(payload).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _parse_json(text: str) -> object:
    """The JSON value of text, or None when it is not JSON (or absurdly deep or long)."""
    try:
        value: object = json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError, int too long, nesting too deep
        return None
    return value


def _parse_object(text: str) -> Mapping[str, object] | None:
    value = _parse_json(text)
    if isinstance(value, dict):
        return value
    return None


def _parse_availability(text: str) -> bool | None:
    """online → True, offline → False, in the legacy (plain) or JSON ({"state": …}) format."""
    plain = _AVAILABILITY_STATES.get(text.strip())
    if plain is not None:
        return plain
    value = _parse_json(text)
    if isinstance(value, dict):
        value = value.get("state")
    if isinstance(value, str):
        return _AVAILABILITY_STATES.get(value)
    return None


def _finite_number(value: object) -> float | None:
    """A JSON number as float; None for bools, strings, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) else None


def _bounded_int(value: object, maximum: int) -> int | None:
    """A finite JSON number rounded to an int in [0, maximum]; else None."""
    number = _finite_number(value)
    if number is None:
        return None
    rounded = round(number)
    return rounded if 0 <= rounded <= maximum else None
