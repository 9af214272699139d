"""A sensor gateway end to end: Zigbee2MQTT messages on a real broker become Anbu activity."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts.clock import FakeClock
from edge.agent import Agent
from edge.sensors import SensorsAdapter
from hub.broker import MosquittoBroker
from tests.edge.support import Recorder, edge_config, publish, wait_until

T0 = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)  # 06:00 in Seoul: the resident gets up

# (minutes after T0, friendly name, payload): a morning as Zigbee2MQTT reports it
MORNING: list[tuple[int, str, dict[str, object]]] = [
    (0, "bedroom/motion", {"occupancy": False, "battery": 91, "linkquality": 120}),
    (1, "bedroom/motion", {"occupancy": True, "battery": 91, "linkquality": 118}),
    (2, "bedroom/motion", {"occupancy": True, "battery": 90, "linkquality": 118}),  # cached
    (4, "kitchen plug", {"power": 0.4, "state": "ON"}),
    (6, "kitchen plug", {"power": 1850.0, "state": "ON"}),  # the kettle
    (7, "kitchen plug", {"power": 1900.0, "state": "ON"}),
    (9, "kitchen plug", {"power": 0.3, "state": "ON"}),
    (12, "front door", {"contact": True, "battery": 77}),
    (40, "front door", {"contact": False, "battery": 77}),  # goes out
    (42, "front door", {"contact": True, "battery": 77}),
    (50, "sos button", {"action": "single", "battery": 55}),
    (51, "sos button", {"action": "", "battery": 55}),
]


def test_zigbee2mqtt_stream_becomes_activity(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    publish(
        mosquitto.host,
        mosquitto.port,
        "zigbee2mqtt/bedroom/motion",
        json.dumps({"occupancy": True}),
        retain=True,
    )  # hours old: must not count
    recorder = Recorder(mosquitto.host, mosquitto.port)
    clock = FakeClock(T0)
    config = edge_config(
        tmp_path,
        mosquitto.url,
        kind="sensors",
        device="zb1",
        fold_s=1,
        sensors={"zigbee_url": mosquitto.url, "emergency_buttons": ["sos button"]},
    )
    adapter = SensorsAdapter(config.sensors)
    agent = Agent(config, adapter, clock=clock)
    agent.start()
    try:
        wait_until(lambda: agent.link.connected and adapter.gateway_connected.is_set())
        wait_until(lambda: adapter.messages_seen == 1)  # the retained one
        for n, (minute, name, payload) in enumerate(MORNING, start=2):
            clock.set(T0 + timedelta(minutes=minute))
            publish(mosquitto.host, mosquitto.port, f"zigbee2mqtt/{name}", json.dumps(payload))
            wait_until(lambda n=n: adapter.messages_seen == n)
            agent.tick()
        publish(mosquitto.host, mosquitto.port, "zigbee2mqtt/bridge/state", '{"state":"online"}')
        publish(mosquitto.host, mosquitto.port, "zigbee2mqtt/front door", b"\xff garbage")
        expected = 5  # motion, power, door x2, emergency
        wait_until(lambda: len(_events(recorder)) >= expected, timeout=10)
        clock.advance(timedelta(minutes=5))
        agent.tick()
        wait_until(lambda: agent.outbox.depth() == 0)
    finally:
        agent.close(announce_offline=False)
        recorder.close()

    got = [
        (s.payload.get("source") or s.payload["trigger"], datetime.fromisoformat(s.payload["ts"]))
        for s in _events(recorder)
    ]
    assert sorted(got, key=lambda g: g[1]) == [
        ("motion", T0 + timedelta(minutes=1)),
        ("power", T0 + timedelta(minutes=6)),
        ("door", T0 + timedelta(minutes=40)),
        ("door", T0 + timedelta(minutes=42)),
        ("button", T0 + timedelta(minutes=50)),
    ]
    assert adapter.battery_pct() == 55


def _events(recorder: Recorder) -> list:  # type: ignore[type-arg]
    return [s for s in recorder.messages() if s.channel in {"activity", "emergency"}]
