"""The Zigbee2MQTT mapping table, pure: every fixture's messages give exactly its expected
signals, plus the rules the fixtures only touch (debounce, restore, bridge/devices, times)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from edge.sensors import wire_name
from edge.z2m_catalogue import (
    CONVERTERS_VERSION,
    RULES,
    emergency_text,
    is_hold,
    is_release,
    main_signal,
)
from edge.zigbee import (
    BridgeState,
    ButtonPress,
    Observation,
    SensorActivity,
    SensorHealth,
    Zigbee2MqttMapper,
    ZigbeeConfig,
)
from tests.edge.z2m_support import DeviceFixture, bridge_steps, device_fixtures

T0 = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)
FIXTURES = device_fixtures()


def _config(fixtures: list[DeviceFixture]) -> ZigbeeConfig:
    return ZigbeeConfig(
        emergency_buttons=frozenset(f.name for f in fixtures if f.emergency_button),
        power_thresholds_w={
            f.name: f.power_threshold_w for f in fixtures if f.power_threshold_w is not None
        },
    )


def _signals(observations: list[Observation]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for o in observations:
        if isinstance(o, SensorActivity):
            out.append(("activity", o.source, o.signal or ""))
        elif isinstance(o, ButtonPress):
            out.append(("emergency", "button"))
    return out


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.file for f in FIXTURES])
def test_fixture_messages_give_their_signals(fixture: DeviceFixture) -> None:
    mapper = Zigbee2MqttMapper(_config([fixture]))
    at = T0
    for n, step in enumerate(fixture.steps):
        at += timedelta(seconds=step.after_s)
        got = mapper.feed(step.topic, step.payload, retained=step.retained, at=at)
        assert _signals(got) == step.expect, f"step {n} ({step.note}): {step.payload!r}"
        health = mapper.sensors().get(fixture.name, SensorHealth(fixture.name))
        for key, want in step.health.items():
            value = (health.active_since is not None) if key == "active" else getattr(health, key)
            assert value == want, f"step {n}: {key}"


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.file for f in FIXTURES])
def test_fixtures_are_built_from_the_exposes_they_name(fixture: DeviceFixture) -> None:
    assert CONVERTERS_VERSION in fixture.source
    assert fixture.steps
    for step in fixture.steps:
        if step.topic.endswith("/availability"):
            continue
        keys = set(json.loads(step.payload))
        assert keys <= set(fixture.exposes), keys - set(fixture.exposes)
        for _, _, signal in (e for e in step.expect if e[0] == "activity"):
            assert re.fullmatch(r"[a-z][a-z0-9_]{0,31}", signal)
    assert main_signal(frozenset(fixture.exposes)) is not None


def test_every_rule_is_witnessed_by_a_fixture() -> None:
    signals = {e[2] for f in FIXTURES for s in f.steps for e in s.expect if e[0] == "activity"}
    assert {rule.signal for rule in RULES} <= signals
    assert any(e == ("emergency", "button") for f in FIXTURES for s in f.steps for e in s.expect)


def test_bridge_state_in_both_formats() -> None:
    mapper = Zigbee2MqttMapper()
    for topic, payload, retained, problem in bridge_steps():
        got = mapper.feed(topic, payload, retained=retained, at=T0)
        assert got == [BridgeState(online=problem is None, retained=retained)]
    for junk in (b"", b"up", b'{"state":"unknown"}', b"[]"):
        assert mapper.feed("zigbee2mqtt/bridge/state", junk) == []


def test_all_fixtures_on_one_gateway_give_the_same_signals() -> None:
    """What the end-to-end test walks: every device on one mapper, interleaved."""
    mapper = Zigbee2MqttMapper(_config(FIXTURES))
    at = T0
    for fixture in FIXTURES:
        for step in fixture.steps:
            at += timedelta(seconds=step.after_s)
            got = mapper.feed(step.topic, step.payload, retained=step.retained, at=at)
            assert _signals(got) == step.expect, (fixture.file, step.note)


# --- emergency buttons -------------------------------------------------------------------

SOS = ZigbeeConfig(emergency_buttons=frozenset({"sos"}), button_debounce_s=10)


def _press(mapper: Zigbee2MqttMapper, action: str, at: datetime) -> list[Observation]:
    return mapper.feed("zigbee2mqtt/sos", json.dumps({"action": action}).encode(), at=at)


def test_a_burst_of_presses_is_one_emergency_a_later_press_another() -> None:
    mapper = Zigbee2MqttMapper(SOS)
    assert _press(mapper, "single", T0) == [ButtonPress("sos", "single")]
    # pressed again and again, each within 10 s of the last: the same call for help
    for n in range(1, 6):
        assert _press(mapper, "single", T0 + timedelta(seconds=8 * n)) == []
    assert _press(mapper, "double", T0 + timedelta(seconds=40 + 11)) == [
        ButtonPress("sos", "double")
    ]


def test_a_press_after_the_clock_stepped_back_is_its_own_emergency() -> None:
    # NTP sets a gateway's clock 10 min back between two calls for help: not one burst.
    mapper = Zigbee2MqttMapper(SOS)
    assert _press(mapper, "single", T0) == [ButtonPress("sos", "single")]
    assert _press(mapper, "single", T0 - timedelta(minutes=10)) == [ButtonPress("sos", "single")]


def test_hold_then_release_is_one_press_even_when_held_long() -> None:
    mapper = Zigbee2MqttMapper(SOS)
    assert _press(mapper, "hold", T0) == [ButtonPress("sos", "hold")]
    assert _press(mapper, "release", T0 + timedelta(seconds=90)) == []
    # a release with no hold before it is a press of its own (the hold was lost)
    assert _press(mapper, "release", T0 + timedelta(seconds=200)) == [ButtonPress("sos", "release")]


def test_untimed_presses_join_only_a_release() -> None:
    mapper = Zigbee2MqttMapper(SOS)
    assert _press_untimed(mapper, "hold") == [ButtonPress("sos", "hold")]
    assert _press_untimed(mapper, "release") == []
    assert _press_untimed(mapper, "single") == [ButtonPress("sos", "single")]


def _press_untimed(mapper: Zigbee2MqttMapper, action: str) -> list[Observation]:
    return mapper.feed("zigbee2mqtt/sos", json.dumps({"action": action}).encode())


@pytest.mark.parametrize(
    ("action", "hold", "release"),
    [
        ("hold", True, False),
        ("long", True, False),
        ("on_hold", True, False),
        ("brightness_move_up", True, False),
        ("release", False, True),
        ("on_hold_release", True, True),
        ("brightness_stop", False, True),
        ("single", False, False),
        ("emergency", False, False),
    ],
)
def test_hold_and_release_words(action: str, hold: bool, release: bool) -> None:
    assert (is_hold(action), is_release(action)) == (hold, release)


def test_emergency_text_names_the_button_in_korean() -> None:
    assert emergency_text("안방 비상 버튼") == "비상 버튼 누름: 안방 비상 버튼"
    assert len(emergency_text("x" * 1000)) <= 500


# --- state kept across a restart -----------------------------------------------------------


def test_restored_values_make_the_first_change_news() -> None:
    first = Zigbee2MqttMapper()
    first.feed("zigbee2mqtt/door", b'{"contact": true}', at=T0)
    first.feed("zigbee2mqtt/plug", b'{"power": 0.5, "state": "ON"}', at=T0)
    saved = json.loads(json.dumps(first.export_state()))

    fresh = Zigbee2MqttMapper()
    assert fresh.feed("zigbee2mqtt/door", b'{"contact": false}', at=T0) == []  # a seed only

    restored = Zigbee2MqttMapper()
    restored.restore(saved)
    assert restored.feed("zigbee2mqtt/door", b'{"contact": false}', at=T0) == [
        SensorActivity("door", "door", "contact")
    ]
    assert restored.feed("zigbee2mqtt/plug", b'{"power": 1850}', at=T0) == [
        SensorActivity("power", "plug", "power")
    ]


def test_restore_skips_what_it_cannot_use() -> None:
    mapper = Zigbee2MqttMapper(ZigbeeConfig(ignore=frozenset({"pet"})))
    mapper.restore({"a": [1], "pet": {"contact": True}, "b": {"contact": True, "x": [1]}})
    assert mapper.export_state() == {"b": {"contact": True}}


def test_wet_since_survives_a_restore() -> None:
    mapper = Zigbee2MqttMapper()
    mapper.feed("zigbee2mqtt/leak", b'{"water_leak": true}', at=T0)
    again = Zigbee2MqttMapper()
    again.restore(json.loads(json.dumps(mapper.export_state())))
    assert again.sensors()["leak"].active_since == T0
    assert again.feed("zigbee2mqtt/leak", b'{"water_leak": true}', at=T0 + timedelta(1)) == []
    dry = again.feed("zigbee2mqtt/leak", b'{"water_leak": false}', at=T0 + timedelta(2))
    assert dry == [SensorHealth("leak", active_since=None)]


def test_retained_wet_is_active_since_its_last_seen_never_activity() -> None:
    mapper = Zigbee2MqttMapper()
    payload = b'{"water_leak": true, "last_seen": "2026-11-23T20:10:00+00:00"}'
    got = mapper.feed("zigbee2mqtt/leak", payload, retained=True, at=T0)
    assert got == [SensorHealth("leak", active_since=datetime(2026, 11, 23, 20, 10, tzinfo=UTC))]


# --- devices, signals, last seen -------------------------------------------------------------


def test_bridge_devices_names_every_sensor_with_its_main_signal() -> None:
    devices = [
        {"type": "Coordinator", "friendly_name": "Coordinator"},
        {
            "type": "EndDevice",
            "friendly_name": "욕실 누수 센서",
            "definition": {
                "exposes": [
                    {"type": "binary", "property": "battery_low"},
                    {"type": "binary", "property": "water_leak"},
                ]
            },
        },
        {
            "type": "Router",
            "friendly_name": "주방 플러그",
            "definition": {
                "exposes": [
                    {"type": "switch", "features": [{"type": "binary", "property": "state"}]},
                    {"type": "numeric", "property": "power"},
                ]
            },
        },
        {"type": "EndDevice", "friendly_name": "/bad"},
        "junk",
    ]
    mapper = Zigbee2MqttMapper()
    assert mapper.feed("zigbee2mqtt/bridge/devices", json.dumps(devices).encode()) == []
    assert mapper.known() == ["욕실 누수 센서", "주방 플러그"]
    assert mapper.signal_of("욕실 누수 센서") == "water_leak"
    assert mapper.signal_of("주방 플러그") == "power"
    assert mapper.last_seen("주방 플러그") is None


def test_last_seen_is_our_receipt_live_and_zigbee2mqtts_when_retained() -> None:
    mapper = Zigbee2MqttMapper()
    mapper.feed("zigbee2mqtt/pir", b'{"occupancy": false, "last_seen": 1}', at=T0)
    assert mapper.last_seen("pir") == T0
    mapper.feed("zigbee2mqtt/door", b'{"contact": true, "last_seen": 1795464000000}', retained=True)
    assert mapper.last_seen("door") == datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    mapper.feed(
        "zigbee2mqtt/x", b'{"contact": true, "last_seen": "2026-11-23T20:00:00"}', retained=True
    )
    assert mapper.last_seen("x") is None  # no offset: not a time we can place
    mapper.feed("zigbee2mqtt/pir/availability", b"offline", at=T0 + timedelta(hours=1))
    assert mapper.last_seen("pir") == T0  # availability is the bridge talking, not the sensor


def test_a_switch_without_metering_is_not_a_touch() -> None:
    mapper = Zigbee2MqttMapper()
    mapper.feed("zigbee2mqtt/lamp", b'{"state": "OFF", "brightness": 0}', at=T0)
    assert mapper.feed("zigbee2mqtt/lamp", b'{"state": "ON", "brightness": 254}', at=T0) == []


def test_a_radar_seeing_someone_lie_still_is_never_activity() -> None:
    mapper = Zigbee2MqttMapper()
    for state in ("static", "none", "static"):
        payload = json.dumps({"presence": True, "motion_state": state}).encode()
        got = mapper.feed("zigbee2mqtt/radar", payload, retained=state == "static", at=T0)
        assert [o for o in got if isinstance(o, SensorActivity)] == []


@pytest.mark.parametrize(
    ("name", "shown"),
    [("현관 문", "현관 문"), ("a" * 80, "a" * 64), ("bad\x01name", None), ("tab\tok", "tab\tok")],
)
def test_wire_names(name: str, shown: str | None) -> None:
    assert wire_name(name) == shown


def test_only_changes_that_matter_ask_for_a_save() -> None:
    mapper = Zigbee2MqttMapper()
    mapper.feed("zigbee2mqtt/plug", b'{"power": 0.4}', at=T0)
    saved = mapper.changes
    for watts in (0.5, 0.3, 12.0):  # standby wobble: below the 30 W either way
        mapper.feed("zigbee2mqtt/plug", json.dumps({"power": watts}).encode(), at=T0)
    assert mapper.changes == saved
    mapper.feed("zigbee2mqtt/plug", b'{"power": 1850}', at=T0)
    mapper.feed("zigbee2mqtt/door", b'{"contact": true}', at=T0)
    assert mapper.changes == saved + 2
