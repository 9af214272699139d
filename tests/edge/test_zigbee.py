"""Tests for edge.zigbee: Zigbee2MQTT messages → activity, emergency buttons and sensor health.

Payloads are shaped like what Zigbee2MQTT publishes for real devices (Aqara RTCGQ11LM motion,
MCCGQ11LM door/window, WXKG11LM button, a metering smart plug), with ``cache_state: true`` so
every message repeats the cached attributes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.zigbee import (
    BridgeState,
    ButtonPress,
    Observation,
    SensorActivity,
    SensorHealth,
    Zigbee2MqttMapper,
    ZigbeeConfig,
)

MOTION = "hallway/motion"
DOOR = "front door"
KETTLE = "kitchen/kettle plug"
TV = "living room/tv plug"
REMOTE = "living room/remote"
HELP = "bedroom/help button"
FREEZER = "garage/freezer plug"

CONFIG = ZigbeeConfig(
    power_thresholds_w={TV: 60.0},
    emergency_buttons=frozenset({HELP}),
    ignore=frozenset({FREEZER}),
)


def j(**fields: Any) -> bytes:
    """A JSON object payload, as Z2M publishes it."""
    return json.dumps(fields).encode()


def motion_msg(occupancy: bool, *, battery: int = 100, linkquality: int = 120) -> bytes:
    return j(
        battery=battery,
        device_temperature=24,
        illuminance=31,
        illuminance_lux=31,
        linkquality=linkquality,
        occupancy=occupancy,
        power_outage_count=3,
        voltage=3005,
    )


def door_msg(contact: bool, *, battery: int = 91, linkquality: int = 87) -> bytes:
    return j(
        battery=battery,
        contact=contact,
        device_temperature=22,
        linkquality=linkquality,
        power_outage_count=1,
        voltage=2985,
    )


def plug_msg(power: float, *, linkquality: int = 150) -> bytes:
    return j(
        current=round(power / 230, 2),
        energy=12.34,
        linkquality=linkquality,
        power=power,
        state="ON",
        voltage=230,
    )


def button_msg(action: str | None, *, battery: int = 87, linkquality: int = 90) -> bytes:
    return j(action=action, battery=battery, linkquality=linkquality, voltage=3015)


BRIDGE_DEVICES = json.dumps(
    [
        {
            "ieee_address": "0x00124b00120144ae",
            "type": "Coordinator",
            "friendly_name": "Coordinator",
            "definition": None,
        },
        {
            "ieee_address": "0x00158d0001d82999",
            "type": "EndDevice",
            "friendly_name": MOTION,
            "definition": {"model": "RTCGQ11LM", "vendor": "Aqara", "exposes": []},
            "power_source": "Battery",
        },
    ]
).encode()

Z = "zigbee2mqtt"

# (topic, payload, retained, expected observations), in the order a gateway would see them.
STREAM: list[tuple[str, bytes, bool, list[Observation]]] = [
    # --- startup: the broker hands us its retained messages ---
    (f"{Z}/bridge/state", j(state="online"), True, [BridgeState(online=True, retained=True)]),
    (f"{Z}/bridge/info", j(version="1.40.2", permit_join=False), True, []),
    (f"{Z}/bridge/devices", BRIDGE_DEVICES, True, []),
    (f"{Z}/bridge/groups", b"[]", True, []),
    (f"{Z}/{MOTION}/availability", j(state="online"), True,
     [SensorHealth(MOTION, None, None, True)]),
    (f"{Z}/{DOOR}/availability", b"online", True, [SensorHealth(DOOR, None, None, True)]),
    # A retained occupancy=true may be hours old: it seeds, it is not motion.
    (f"{Z}/{MOTION}", motion_msg(True), True, [SensorHealth(MOTION, 100, 120, True)]),
    (f"{Z}/{DOOR}", door_msg(True), True, [SensorHealth(DOOR, 91, 87, True)]),
    (f"{Z}/{KETTLE}", plug_msg(0.4), True, [SensorHealth(KETTLE, None, 150, None)]),
    # A retained press is an old press, never an emergency now.
    (f"{Z}/{HELP}", button_msg("single", battery=100, linkquality=60), True,
     [SensorHealth(HELP, 100, 60, None)]),
    (f"{Z}/{FREEZER}", plug_msg(85.0), True, []),
    # --- live ---
    # cache_state repeats the cached occupancy=true: no false in between, no new motion.
    (f"{Z}/{MOTION}", motion_msg(True), False, []),
    (f"{Z}/{MOTION}", motion_msg(False), False, []),
    (f"{Z}/{MOTION}", motion_msg(True, linkquality=117), False,
     [SensorActivity("motion", MOTION, "occupancy"), SensorHealth(MOTION, 100, 117, True)]),
    # Battery report while occupied: health changes, occupancy is only the cached repeat.
    (f"{Z}/{MOTION}", motion_msg(True, battery=99, linkquality=117), False,
     [SensorHealth(MOTION, 99, 117, True)]),
    (f"{Z}/{MOTION}", motion_msg(False, battery=99, linkquality=117), False, []),
    (f"{Z}/{MOTION}", motion_msg(True, battery=99, linkquality=117), False,
     [SensorActivity("motion", MOTION, "occupancy")]),
    # The door opens (contact false), a heartbeat repeats it, then it closes.
    (f"{Z}/{DOOR}", door_msg(False), False, [SensorActivity("door", DOOR, "contact")]),
    (f"{Z}/{DOOR}", door_msg(False), False, []),
    (f"{Z}/{DOOR}", door_msg(True), False, [SensorActivity("door", DOOR, "contact")]),
    # The kettle: standby, boiling, still boiling, standby again.
    (f"{Z}/{KETTLE}", plug_msg(0.4), False, []),
    (f"{Z}/{KETTLE}", plug_msg(1850.0), False, [SensorActivity("power", KETTLE, "power")]),
    (f"{Z}/{KETTLE}", plug_msg(1900.0), False, []),
    (f"{Z}/{KETTLE}", plug_msg(0.3), False, []),
    # The TV plug has its own 60 W threshold: 45 W is not "on" for it, 95 W is.
    (f"{Z}/{TV}", plug_msg(2.5, linkquality=140), False, [SensorHealth(TV, None, 140, None)]),
    (f"{Z}/{TV}", plug_msg(45.0, linkquality=140), False, []),
    (f"{Z}/{TV}", plug_msg(95.0, linkquality=140), False, [SensorActivity("power", TV, "power")]),
    (f"{Z}/{TV}", plug_msg(98.0, linkquality=140), False, []),
    # A remote: a press, then Z2M clears the action with "" (and null).
    (f"{Z}/{REMOTE}", button_msg("single"), False,
     [SensorActivity("other", REMOTE, "action"), SensorHealth(REMOTE, 87, 90, None)]),
    (f"{Z}/{REMOTE}", button_msg(""), False, []),
    (f"{Z}/{REMOTE}", button_msg(None), False, []),
    # The Home Assistant copy of the action on .../action is not a second press.
    (f"{Z}/{REMOTE}/action", b"single", False, []),
    (f"{Z}/{REMOTE}", button_msg("double"), False, [SensorActivity("other", REMOTE, "action")]),
    # The emergency button.
    (f"{Z}/{HELP}", button_msg("single", battery=100, linkquality=60), False,
     [ButtonPress(HELP, "single")]),
    (f"{Z}/{HELP}", button_msg("", battery=100, linkquality=60), False, []),
    (f"{Z}/{HELP}", button_msg("hold", battery=100, linkquality=60), False,
     [ButtonPress(HELP, "hold")]),
    # Availability, both payload formats; a repeat is not a change.
    (f"{Z}/{MOTION}/availability", j(state="offline"), False,
     [SensorHealth(MOTION, 99, 117, False)]),
    (f"{Z}/{DOOR}/availability", b"offline", False, [SensorHealth(DOOR, 91, 87, False)]),
    (f"{Z}/{DOOR}/availability", b"offline", False, []),
    (f"{Z}/{DOOR}/availability", b"online", False, [SensorHealth(DOOR, 91, 87, True)]),
    # Commands to Z2M and bridge chatter.
    (f"{Z}/{KETTLE}/set", j(state="OFF"), False, []),
    (f"{Z}/{KETTLE}/set/state", b"OFF", False, []),
    (f"{Z}/{KETTLE}/get", j(state=""), False, []),
    (f"{Z}/bridge/event",
     j(type="device_announce", data={"friendly_name": MOTION, "ieee_address": "0x00158d000"}),
     False, []),
    (f"{Z}/bridge/logging", j(level="info", message="MQTT publish"), False, []),
    (f"{Z}/bridge/request/permit_join", j(value=True), False, []),
    (f"{Z}/bridge/response/permit_join", j(data={"value": True}, status="ok"), False, []),
    # Garbage and foreign topics.
    (f"{Z}/{MOTION}", b"\xff\xfe\x00garbage", False, []),
    (f"{Z}/{MOTION}", b"not json", False, []),
    (f"{Z}/{MOTION}", b"[1, 2, 3]", False, []),
    (f"{Z}/{MOTION}", b"", False, []),
    (f"{Z}/{KETTLE}", j(power="abc", linkquality=150), False, []),
    (f"{Z}/{MOTION}/availability", b"maybe", False, []),
    ("homeassistant/binary_sensor/0x00158d0001d82999/occupancy/config", j(name=None), True, []),
    ("zigbee2mqtt2/other bridge", motion_msg(True), False, []),
    # The ignored freezer cycles on and off: not the resident's doing.
    (f"{Z}/{FREEZER}", plug_msg(0.5), False, []),
    (f"{Z}/{FREEZER}", plug_msg(90.0), False, []),
    (f"{Z}/{FREEZER}/availability", b"offline", False, []),
    # The kettle again: "abc" above did not disturb the remembered 0.3 W.
    (f"{Z}/{KETTLE}", plug_msg(2000.0), False, [SensorActivity("power", KETTLE, "power")]),
]  # fmt: skip


def test_realistic_stream_gives_exactly_the_expected_observations() -> None:
    mapper = Zigbee2MqttMapper(CONFIG)
    for index, (topic, payload, retained, expected) in enumerate(STREAM):
        got = mapper.feed(topic, payload, retained=retained)
        assert got == expected, f"message {index}: {topic} {payload!r} retained={retained}"

    assert mapper.sensors() == {
        MOTION: SensorHealth(MOTION, 99, 117, False),
        DOOR: SensorHealth(DOOR, 91, 87, True),
        KETTLE: SensorHealth(KETTLE, None, 150, None),
        TV: SensorHealth(TV, None, 140, None),
        REMOTE: SensorHealth(REMOTE, 87, 90, None),
        HELP: SensorHealth(HELP, 100, 60, None),
    }


# --- subscriptions and topics ------------------------------------------------------------


def test_subscriptions_cover_the_base_topic() -> None:
    assert Zigbee2MqttMapper().subscriptions() == ["zigbee2mqtt/#"]
    assert Zigbee2MqttMapper(ZigbeeConfig(base_topic="home/z2m/")).subscriptions() == ["home/z2m/#"]


def test_custom_base_topic() -> None:
    mapper = Zigbee2MqttMapper(ZigbeeConfig(base_topic="home/z2m"))
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=True)) == []
    assert mapper.feed("home/z2m/pir", j(occupancy=True)) == [
        SensorActivity("motion", "pir", "occupancy")
    ]
    assert mapper.feed("home/z2m/bridge/state", b"online") == [BridgeState(online=True)]


def test_friendly_names_with_slashes() -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/living room/motion", j(occupancy=True)) == [
        SensorActivity("motion", "living room/motion", "occupancy")
    ]
    assert mapper.feed("zigbee2mqtt/living room/motion/availability", b"offline") == [
        SensorHealth("living room/motion", available=False)
    ]
    assert mapper.feed("zigbee2mqtt/a/b/c/d", j(linkquality=5)) == [
        SensorHealth("a/b/c/d", linkquality=5)
    ]
    assert set(mapper.sensors()) == {"living room/motion", "a/b/c/d"}


@pytest.mark.parametrize(
    "topic",
    [
        "zigbee2mqtt/bridge/devices",
        "zigbee2mqtt/bridge/request/device/rename",
        "zigbee2mqtt/pir/set",
        "zigbee2mqtt/room/pir/set",
        "zigbee2mqtt/pir/set/occupancy",
        "zigbee2mqtt/pir/get",
        "zigbee2mqtt/pir/get/occupancy",
        "zigbee2mqtt/pir/availability/set",
        "zigbee2mqtt/pir/action",
        "zigbee2mqtt",
        "zigbee2mqtt/",
        "zigbee2mqtt//pir",
        "zigbee2mqtt/pir/",
        "zigbee2mqtt/room//pir",
        "zigbee2mqtt/availability/",
        "zigbee2mqttx/pir",
        "other/zigbee2mqtt/pir",
        "pir",
        "",
    ],
)
def test_ignored_topics(topic: str) -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed(topic, j(occupancy=True, linkquality=10, state="online")) == []
    assert mapper.sensors() == {}


# --- motion ------------------------------------------------------------------------------


def test_motion_unknown_to_true_live_is_motion() -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=True)) == [
        SensorActivity("motion", "pir", "occupancy")
    ]


def test_motion_needs_a_false_between_two_trues() -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=True)) == [
        SensorActivity("motion", "pir", "occupancy")
    ]
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=True)) == []
    assert mapper.feed("zigbee2mqtt/pir", j(illuminance=5)) == []  # no occupancy key
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=True)) == []
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=False)) == []
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=False)) == []
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=True)) == [
        SensorActivity("motion", "pir", "occupancy")
    ]


def test_motion_from_a_retained_message_only_seeds() -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=True), retained=True) == []
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=True)) == []
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=False), retained=True) == []
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=True)) == [
        SensorActivity("motion", "pir", "occupancy")
    ]


def test_retained_false_resets_motion_state_without_an_event() -> None:
    mapper = Zigbee2MqttMapper()
    mapper.feed("zigbee2mqtt/pir", j(occupancy=True))
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=False), retained=True) == []
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=True)) == [
        SensorActivity("motion", "pir", "occupancy")
    ]


@pytest.mark.parametrize("bad", ["true", 1, 0, None, [True], {"v": True}])
def test_malformed_occupancy_is_ignored(bad: object) -> None:
    mapper = Zigbee2MqttMapper()
    mapper.feed("zigbee2mqtt/pir", j(occupancy=False))
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=bad)) == []
    assert mapper.feed("zigbee2mqtt/pir", j(occupancy=True)) == [
        SensorActivity("motion", "pir", "occupancy")
    ]


# --- door --------------------------------------------------------------------------------


def test_door_first_value_only_seeds_then_every_change_counts() -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/door", j(contact=False)) == []  # first value: seed
    assert mapper.feed("zigbee2mqtt/door", j(contact=False)) == []
    assert mapper.feed("zigbee2mqtt/door", j(contact=True)) == [
        SensorActivity("door", "door", "contact")
    ]
    assert mapper.feed("zigbee2mqtt/door", j(contact=True)) == []
    assert mapper.feed("zigbee2mqtt/door", j(contact=False)) == [
        SensorActivity("door", "door", "contact")
    ]


def test_door_retained_change_updates_state_silently() -> None:
    mapper = Zigbee2MqttMapper()
    mapper.feed("zigbee2mqtt/door", j(contact=True))
    assert mapper.feed("zigbee2mqtt/door", j(contact=False), retained=True) == []
    assert mapper.feed("zigbee2mqtt/door", j(contact=False)) == []
    assert mapper.feed("zigbee2mqtt/door", j(contact=True)) == [
        SensorActivity("door", "door", "contact")
    ]


@pytest.mark.parametrize("bad", ["open", 0, 1, None, []])
def test_malformed_contact_is_ignored(bad: object) -> None:
    mapper = Zigbee2MqttMapper()
    mapper.feed("zigbee2mqtt/door", j(contact=True))
    assert mapper.feed("zigbee2mqtt/door", j(contact=bad)) == []
    assert mapper.feed("zigbee2mqtt/door", j(contact=True)) == []
    assert mapper.feed("zigbee2mqtt/door", j(contact=False)) == [
        SensorActivity("door", "door", "contact")
    ]


# --- power -------------------------------------------------------------------------------


def test_power_crossing_the_default_threshold() -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/plug", j(power=0.4)) == []
    assert mapper.feed("zigbee2mqtt/plug", j(power=30.0)) == []  # equal is not above
    assert mapper.feed("zigbee2mqtt/plug", j(power=30.5)) == [
        SensorActivity("power", "plug", "power")
    ]
    assert mapper.feed("zigbee2mqtt/plug", j(power=1200)) == []  # stays above
    assert mapper.feed("zigbee2mqtt/plug", j(power=12)) == []  # goes down: nothing
    assert mapper.feed("zigbee2mqtt/plug", j(power=29.9)) == []  # standby wobble
    assert mapper.feed("zigbee2mqtt/plug", j(power=31)) == [
        SensorActivity("power", "plug", "power")
    ]


def test_power_first_reading_only_seeds() -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/plug", j(power=1850)) == []
    assert mapper.feed("zigbee2mqtt/plug", j(power=1900)) == []


def test_power_per_plug_threshold_and_default() -> None:
    config = ZigbeeConfig(power_threshold_w=10.0, power_thresholds_w={"tv": 60.0})
    mapper = Zigbee2MqttMapper(config)
    for name in ("tv", "lamp"):
        mapper.feed(f"zigbee2mqtt/{name}", j(power=1.0))
    assert mapper.feed("zigbee2mqtt/tv", j(power=45)) == []
    assert mapper.feed("zigbee2mqtt/lamp", j(power=45)) == [
        SensorActivity("power", "lamp", "power")
    ]
    assert mapper.feed("zigbee2mqtt/tv", j(power=61)) == [SensorActivity("power", "tv", "power")]


def test_power_retained_crossing_only_seeds() -> None:
    mapper = Zigbee2MqttMapper()
    mapper.feed("zigbee2mqtt/plug", j(power=0.5))
    assert mapper.feed("zigbee2mqtt/plug", j(power=1850), retained=True) == []
    assert mapper.feed("zigbee2mqtt/plug", j(power=1850)) == []


@pytest.mark.parametrize(
    "bad_payload",
    [
        b'{"power": "abc"}',
        b'{"power": "1850"}',
        b'{"power": true}',
        b'{"power": null}',
        b'{"power": [1850]}',
        b'{"power": NaN}',
        b'{"power": Infinity}',
        b'{"power": 1e400}',
        b'{"power": ' + b"9" * 400 + b"}",
        b'{"power": ' + b"9" * 5000 + b"}",
    ],
)
def test_malformed_power_is_ignored(bad_payload: bytes) -> None:
    mapper = Zigbee2MqttMapper()
    mapper.feed("zigbee2mqtt/plug", j(power=0.4))
    assert mapper.feed("zigbee2mqtt/plug", bad_payload) == []
    assert mapper.feed("zigbee2mqtt/plug", j(power=1850)) == [
        SensorActivity("power", "plug", "power")
    ]


# --- action ------------------------------------------------------------------------------


def test_action_is_other_activity_each_press() -> None:
    mapper = Zigbee2MqttMapper()
    press = [SensorActivity("other", "remote", "action")]
    assert mapper.feed("zigbee2mqtt/remote", j(action="single")) == press
    assert mapper.feed("zigbee2mqtt/remote", j(action="")) == []
    assert mapper.feed("zigbee2mqtt/remote", j(action=None)) == []
    # action is never cached by Z2M, so the same action twice is two presses
    assert mapper.feed("zigbee2mqtt/remote", j(action="single")) == press
    assert mapper.feed("zigbee2mqtt/remote", j(action="single")) == press
    assert mapper.feed("zigbee2mqtt/remote", j(action="brightness_move_up")) == press


def test_emergency_button_press() -> None:
    mapper = Zigbee2MqttMapper(ZigbeeConfig(emergency_buttons=frozenset({"sos"})))
    assert mapper.feed("zigbee2mqtt/sos", j(action="single")) == [ButtonPress("sos", "single")]
    assert mapper.feed("zigbee2mqtt/sos", j(action="")) == []
    assert mapper.feed("zigbee2mqtt/sos", j(action="double")) == [ButtonPress("sos", "double")]
    assert mapper.feed("zigbee2mqtt/sos", j(action="long")) == [ButtonPress("sos", "long")]
    assert mapper.feed("zigbee2mqtt/sos", j(action="single"), retained=True) == []
    assert mapper.feed("zigbee2mqtt/other", j(action="single")) == [
        SensorActivity("other", "other", "action")
    ]


@pytest.mark.parametrize("bad", [1, True, ["single"], {"a": 1}])
def test_malformed_action_is_ignored(bad: object) -> None:
    mapper = Zigbee2MqttMapper(ZigbeeConfig(emergency_buttons=frozenset({"sos"})))
    assert mapper.feed("zigbee2mqtt/sos", j(action=bad)) == []
    assert mapper.feed("zigbee2mqtt/remote", j(action=bad)) == []


def test_retained_action_is_not_a_press() -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/remote", j(action="single"), retained=True) == []


# --- health ------------------------------------------------------------------------------


def test_health_merges_and_is_emitted_only_on_change() -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/pir", j(battery=100)) == [SensorHealth("pir", 100)]
    assert mapper.feed("zigbee2mqtt/pir", j(battery=100)) == []
    assert mapper.feed("zigbee2mqtt/pir", j(linkquality=70)) == [SensorHealth("pir", 100, 70)]
    assert mapper.feed("zigbee2mqtt/pir", j(battery=100, linkquality=70)) == []
    assert mapper.feed("zigbee2mqtt/pir/availability", b"online") == [
        SensorHealth("pir", 100, 70, True)
    ]
    assert mapper.feed("zigbee2mqtt/pir", j(battery=98, linkquality=72)) == [
        SensorHealth("pir", 98, 72, True)
    ]
    assert mapper.feed("zigbee2mqtt/pir", j(temperature=21.5)) == []
    assert mapper.sensors() == {"pir": SensorHealth("pir", 98, 72, True)}


def test_health_from_retained_messages_is_emitted() -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/pir/availability", b"offline", retained=True) == [
        SensorHealth("pir", available=False)
    ]
    assert mapper.feed("zigbee2mqtt/pir", j(battery=12), retained=True) == [
        SensorHealth("pir", 12, None, False)
    ]


@pytest.mark.parametrize(
    ("battery", "expected"),
    [(55, 55), (97.6, 98), (0, 0), (-0.4, 0), (100, 100), (100.4, 100)],
)
def test_battery_values(battery: float, expected: int) -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/pir", j(battery=battery)) == [SensorHealth("pir", expected)]


@pytest.mark.parametrize("bad", [-1, 101, 250, "100.00", True, None, "low"])
def test_malformed_battery_is_ignored(bad: object) -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/pir", j(battery=bad)) == []
    assert mapper.sensors() == {"pir": SensorHealth("pir")}


@pytest.mark.parametrize("bad", [-3, 256, "87", False, 1e400])
def test_malformed_linkquality_is_ignored(bad: object) -> None:
    mapper = Zigbee2MqttMapper()
    mapper.feed("zigbee2mqtt/pir", j(linkquality=80))
    assert mapper.feed("zigbee2mqtt/pir", j(linkquality=bad)) == []
    assert mapper.sensors()["pir"].linkquality == 80


@pytest.mark.parametrize(
    ("payload", "available"),
    [
        (b"online", True),
        (b"offline", False),
        (b"online\n", True),
        (b'{"state":"online"}', True),
        (b'{"state": "offline"}', False),
        (b'"online"', True),
        ("offline", False),  # a str instead of bytes is tolerated
    ],
)
def test_availability_payload_formats(payload: bytes, available: bool) -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/pir/availability", payload) == [
        SensorHealth("pir", available=available)
    ]


@pytest.mark.parametrize(
    "payload",
    [b"ONLINE", b"up", b"", b"{}", b'{"state":"unknown"}', b'{"state":1}', b"1", b"null", b"\xff"],
)
def test_bad_availability_payloads_are_ignored(payload: bytes) -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/pir/availability", payload) == []
    assert mapper.sensors() == {}


def test_sensors_returns_a_copy() -> None:
    mapper = Zigbee2MqttMapper()
    mapper.feed("zigbee2mqtt/pir", j(battery=50))
    snapshot = mapper.sensors()
    snapshot.clear()
    assert mapper.sensors() == {"pir": SensorHealth("pir", 50)}


# --- several facts in one message, ignored sensors, garbage ----------------------------------


def test_one_message_several_observations_in_fixed_order() -> None:
    mapper = Zigbee2MqttMapper()
    mapper.feed("zigbee2mqtt/combo", j(occupancy=False, contact=True, power=1), retained=True)
    got = mapper.feed(
        "zigbee2mqtt/combo",
        j(linkquality=9, action="on", power=500, contact=False, occupancy=True, battery=40),
    )
    assert got == [
        SensorActivity("motion", "combo", "occupancy"),
        SensorActivity("door", "combo", "contact"),
        SensorActivity("power", "combo", "power"),
        SensorActivity("other", "combo", "action"),
        SensorHealth("combo", 40, 9, None),
    ]


def test_ignored_sensor_produces_nothing_and_is_not_tracked() -> None:
    mapper = Zigbee2MqttMapper(ZigbeeConfig(ignore=frozenset({"pet/pir"})))
    assert mapper.feed("zigbee2mqtt/pet/pir", j(occupancy=True, battery=80)) == []
    assert mapper.feed("zigbee2mqtt/pet/pir/availability", b"offline") == []
    assert mapper.sensors() == {}


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"   ",
        b"null",
        b"true",
        b"42",
        b'"occupancy"',
        b"[]",
        b"{",
        b'{"occupancy": tru}',
        b"\x80\x81",
        b"[" * 100_000,
        b'{"a":' * 50_000,
        b"\x00" * 10,
    ],
)
def test_garbage_payloads_give_nothing(payload: bytes) -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/pir", payload) == []
    assert mapper.sensors() == {}


def test_non_bytes_payload_and_non_str_topic_give_nothing() -> None:
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/pir", None) == []  # type: ignore[arg-type]
    assert mapper.feed("zigbee2mqtt/pir", 42) == []  # type: ignore[arg-type]
    assert mapper.feed(None, b"{}") == []  # type: ignore[arg-type]
    assert mapper.feed(b"zigbee2mqtt/pir", b"{}") == []  # type: ignore[arg-type]
    raw = bytearray(b'{"occupancy": true}')  # what some MQTT clients hand over
    assert mapper.feed("zigbee2mqtt/pir", raw) == [  # type: ignore[arg-type]
        SensorActivity("motion", "pir", "occupancy")
    ]


# --- properties ----------------------------------------------------------------------------

_OBSERVATION_TYPES = (SensorActivity, ButtonPress, SensorHealth, BridgeState)

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_keys = st.sampled_from(
    [
        "occupancy",
        "contact",
        "power",
        "action",
        "battery",
        "linkquality",
        "state",
        "voltage",
        "presence",
        "motion_state",
        "presence_state",
        "water_leak",
        "vibration",
        "battery_low",
        "last_seen",
    ]
)
_device_payloads = st.dictionaries(_keys, _json_values, max_size=6).map(
    lambda d: json.dumps(d).encode()
)
_segments = st.sampled_from(
    ["bridge", "set", "get", "availability", "action", "pir", "living room", "", "#", "+", "é"]
)
_topics = st.lists(_segments, max_size=5).map(lambda parts: "/".join(["zigbee2mqtt", *parts]))
_payloads = (
    st.binary(max_size=64)
    | _device_payloads
    | st.sampled_from([b"online", b"offline", b'{"state":"online"}', b'{"state":"offline"}'])
)

_CONFIG_FOR_PROPERTIES = ZigbeeConfig(
    emergency_buttons=frozenset({"pir"}), ignore=frozenset({"living room"})
)


@settings(max_examples=300, deadline=None)
@given(topic=st.text(max_size=40), payload=st.binary(max_size=200), retained=st.booleans())
def test_feed_never_raises_on_arbitrary_topic_and_bytes(
    topic: str, payload: bytes, retained: bool
) -> None:
    got = Zigbee2MqttMapper().feed(topic, payload, retained=retained)
    assert isinstance(got, list)


@settings(max_examples=400, deadline=None)
@given(
    messages=st.lists(
        st.tuples(_topics | st.text(max_size=30), _payloads, st.booleans()), max_size=25
    )
)
def test_feed_never_raises_on_z2m_shaped_streams(
    messages: list[tuple[str, bytes, bool]],
) -> None:
    mapper = Zigbee2MqttMapper(_CONFIG_FOR_PROPERTIES)
    for topic, payload, retained in messages:
        got = mapper.feed(topic, payload, retained=retained)
        assert all(isinstance(o, _OBSERVATION_TYPES) for o in got)
        if retained:  # retained messages only seed state
            assert all(isinstance(o, SensorHealth | BridgeState) for o in got)
        assert "living room" not in {getattr(o, "sensor", None) for o in got}
    for name, health in mapper.sensors().items():
        assert health.sensor == name
        assert health.battery_pct is None or 0 <= health.battery_pct <= 100
        assert health.linkquality is None or 0 <= health.linkquality <= 255
