"""Which Zigbee2MQTT properties mean what for Anbu: the one mapping table, pure data.

Derived by reading (not copying) the device definitions of Koenkk/zigbee-herdsman-converters
(:data:`CONVERTERS_VERSION`: ``src/lib/exposes.ts``, ``src/lib/modernExtend.ts`` and the
device files named below) and Koenkk/zigbee2mqtt (:data:`Z2M_VERSION`: ``lib/controller.ts``,
``lib/mqtt.ts``, ``lib/extension/availability.ts``, ``lib/extension/health.ts``). A device's
JSON state carries one key per *expose*; the keys below are the ones that witness the resident
(or a leak), each with the rule that turns it into activity. :mod:`edge.zigbee` applies them.

Exposes read (``exposes.ts``): ``occupancy``, ``presence``, ``vibration``, ``water_leak`` are
``Binary(…, true, false)``; ``contact`` is ``Binary(…, false, true)`` — *true = closed*; the
IAS zone extend (``modernExtend.iasZoneAlarm``) publishes the same keys for ``zoneType``
``occupancy`` / ``contact`` / ``water_leak`` / ``vibration``, with ``battery_low`` and
``tamper`` from the zone status bits. ``power`` (W) and ``energy`` (kWh) come from
``electricityMeter``; ``state`` ``"ON"``/``"OFF"`` from ``onOff``/``e.switch()``. ``action``
is an ``Enum`` of the device's own words (``WXKG11LM``: single … quadruple, hold, release;
``SNZB-01``: single, double, long; ``TS0041``: single, double, hold; ``HS1EB``: off, single,
double, hold; ``TS0601_sos``: emergency). Tuya's mmWave sensors (``devices/tuya.ts``,
``ZG-204ZM``) expose ``presence`` plus an enum ``motion_state`` none / large / small / static;
others ``presence_state`` none / presence (or none / motion / stationary, or none / presence /
peaceful / small_movement / large_movement) and ``human_motion_state`` none / small / large.
``linkquality`` (0-255) is added by Zigbee2MQTT itself to every device message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from protocol.models import ActivitySource

__all__ = [
    "CONVERTERS_VERSION",
    "EMERGENCY_TEXT",
    "RULES",
    "Z2M_VERSION",
    "Rule",
    "RuleKind",
    "emergency_text",
    "is_hold",
    "is_release",
    "main_signal",
]

CONVERTERS_VERSION: Final = "zigbee-herdsman-converters 26.99.0 (df72005, 2026-08-22)"
Z2M_VERSION: Final = "zigbee2mqtt 2.12.1 (6835cbf, 2026-07-21)"

RuleKind = Literal["rising", "change", "enter", "threshold", "switch_on", "wet", "action"]
"""How a key's values become activity (see :class:`Rule`)."""


@dataclass(frozen=True)
class Rule:
    """One state key and what it witnesses.

    ``kind``:
    * ``rising``: a bool going false → true (or unknown → true on a live message);
    * ``change``: every change of a bool; the first value only seeds (a door left open);
    * ``enter``: a string entering ``active`` from outside it (unknown counts as outside);
    * ``threshold``: a number going from ≤ the plug's threshold to above it;
    * ``switch_on``: ``"OFF"`` → ``"ON"`` on a device that meters power (a plug's button);
    * ``wet``: like ``rising``, and the sensor is *active* while true (``active_since``);
    * ``action``: every non-empty string (never cached by Zigbee2MQTT): a press.
    """

    key: str
    kind: RuleKind
    source: ActivitySource
    signal: str
    active: frozenset[str] = frozenset()


# mmWave words for someone moving. "static"/"stationary"/"peaceful" are left out on purpose:
# a radar keeps seeing a person who lies still, and one who has fallen lies still.
_MOVING: Final = frozenset({"large", "small", "medium", "far", "near"})
_PRESENT_MOVING: Final = frozenset({"presence", "motion", "small_movement", "large_movement"})

RULES: Final[tuple[Rule, ...]] = (
    Rule("occupancy", "rising", "motion", "occupancy"),
    Rule("presence", "rising", "motion", "presence"),
    Rule("motion_state", "enter", "motion", "motion_state", _MOVING),
    Rule("human_motion_state", "enter", "motion", "motion_state", _MOVING),
    Rule("presence_state", "enter", "motion", "presence_state", _PRESENT_MOVING),
    Rule("contact", "change", "door", "contact"),
    Rule("vibration", "rising", "other", "vibration"),
    Rule("water_leak", "wet", "other", "water_leak"),
    Rule("power", "threshold", "power", "power"),
    Rule("state", "switch_on", "power", "state"),
    Rule("action", "action", "other", "action"),
)
"""In the order one message's observations come out."""

METERING_KEYS: Final = frozenset({"power", "energy"})
"""A ``state`` toggle counts only on a device that also reports one of these (a plug): a
light or relay switched by an automation is not the resident."""

_SIGNAL_ORDER: Final = ("water_leak", "contact", "presence", "occupancy", "motion_state",
                        "presence_state", "human_motion_state", "vibration", "power",
                        "action", "state")  # fmt: skip

EMERGENCY_TEXT: Final = "비상 버튼 누름: {name}"
"""The emergency's text for a Zigbee button (the board shows which button)."""


def emergency_text(name: str) -> str:
    """The Korean emergency text naming the button, within the protocol's 500 characters."""
    return EMERGENCY_TEXT.format(name=name[:400])


def main_signal(keys: set[str] | frozenset[str]) -> str | None:
    """A sensor's main signal from the keys it reports (or exposes): a water sensor's
    ``water_leak`` before its ``battery``, a plug's ``power`` before its ``state``."""
    for key in _SIGNAL_ORDER:
        if key in keys:
            return "motion_state" if key == "human_motion_state" else key
    return None


def is_hold(action: str) -> bool:
    """A press held down (``hold``, ``long``, ``on_hold``, ``brightness_move_up`` …)."""
    return "hold" in action or "long" in action or "_move" in action


def is_release(action: str) -> bool:
    """The end of a held press (``release``, ``on_hold_release``, ``brightness_stop`` …)."""
    return action == "release" or action.endswith(("_release", "_stop"))
