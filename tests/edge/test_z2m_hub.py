"""Acceptance: every Zigbee2MQTT fixture shape, from the message on a real Mosquitto through
the real sensors agent to the event the real hub stores (one broker, hub and agent for the
module, on one FakeClock stepped between messages so nothing folds by accident)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from alerts.clock import FakeClock
from edge.agent import Agent
from edge.sensors import SensorsAdapter
from hub.broker import Broker, MosquittoBroker
from hub.runtime import Hub
from hub.settings import Settings
from hub.store.tables import events
from tests.conftest import free_port
from tests.edge.support import edge_config, publish, wait_until
from tests.edge.z2m_support import (
    BASE,
    bridge_devices_payload,
    bridge_steps,
    device_fixtures,
)
from tests.hub.conftest import RunningHub
from tests.hub.support import ADMIN_TOKEN

T0 = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)  # 06:00 in Seoul
DEVICE = "zb1"
FIXTURES = device_fixtures()
MARKER = "끝 표시 센서"  # a motion sensor whose motion marks "all before me is stored"


@dataclass
class Gateway:
    broker: MosquittoBroker
    running: RunningHub
    agent: Agent
    adapter: SensorsAdapter
    clock: FakeClock

    def send(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish one Zigbee2MQTT message and wait until the agent has taken it."""
        seen = self.adapter.messages_seen
        publish(self.broker.host, self.broker.port, topic, payload, retain=retain)
        wait_until(lambda: self.adapter.messages_seen > seen)

    def stored(self, *kinds: str) -> list[dict[str, Any]]:
        """Payloads of the gateway's events the hub has stored, in the device's time order."""
        with self.running.hub.engine.connect() as conn:
            rows = conn.execute(
                select(events.c.payload)
                .where(events.c.device_id == DEVICE)
                .where(events.c.kind.in_(kinds))
                .order_by(events.c.ts, events.c.received_at)
            ).all()
        return [json.loads(row.payload) for row in rows]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("z2m_hub")
    broker = Broker.mosquitto(workdir=tmp / "mosquitto")
    clock = FakeClock(T0)
    settings = Settings(
        mqtt_url=broker.url,
        db_url=f"sqlite:///{tmp / 'anbu.db'}",
        http=f"127.0.0.1:{free_port()}",
        admin_token=SecretStr(ADMIN_TOKEN),
        sms=f"log:{tmp / 'sms.jsonl'}",
        control_center_phones=["+8220000000"],
        supervisor_phones=["+8220000001"],
        mqtt_client_id="anbu-hub-z2m",
        sido="대전광역시",
    )
    hub = Hub(settings, clock=clock).start()
    stop = threading.Event()
    ticker: threading.Thread | None = None
    agent: Agent | None = None
    running = RunningHub(hub, tmp / "sms.jsonl", broker.url)
    try:
        assert hub.wait_ready(15), "hub did not connect to the broker"
        running.resident("r1", devices={DEVICE: "sensors"})
        # What Zigbee2MQTT has retained when the agent starts: itself, its devices.
        publish(broker.host, broker.port, f"{BASE}/bridge/state", '{"state":"online"}', retain=True)
        publish(
            broker.host,
            broker.port,
            f"{BASE}/bridge/devices",
            bridge_devices_payload(FIXTURES),
            retain=True,
        )
        config = edge_config(
            tmp,
            broker.url,
            kind="sensors",
            device=DEVICE,
            fold_s=1,
            heartbeat_s=3600,
            sensors={
                "zigbee_url": broker.url,
                "emergency_buttons": [f.name for f in FIXTURES if f.emergency_button],
                "power_thresholds_w": {
                    f.name: f.power_threshold_w for f in FIXTURES if f.power_threshold_w
                },
            },
        )
        adapter = SensorsAdapter(config.sensors)
        agent = Agent(config, adapter, clock=clock)
        agent.start()
        ticking = agent
        # Ticks the agent as its own loop would: pacing, not a wait for a result.
        ticker = threading.Thread(
            target=lambda: [ticking.tick() for _ in iter(lambda: stop.wait(0.05), True)]
        )
        ticker.start()
        wait_until(lambda: adapter.messages_seen == 2 and agent.link.connected, timeout=10)
        yield Gateway(broker, running, agent, adapter, clock)
    finally:
        stop.set()
        if ticker is not None:
            ticker.join()
        if agent is not None:
            agent.close(announce_offline=False)
        running.http.close()
        hub.stop()
        broker.close()


def _beat_says(gateway: Gateway, name: str, health: dict[str, Any]) -> bool:
    beats = gateway.stored("heartbeat")
    if not beats:
        return False
    [row] = [s for s in beats[-1].get("sensors", []) if s["name"] == name] or [{}]
    if "available" in health and row.get("available") is not health["available"]:
        return False
    return "active" not in health or ("active_since" in row) is health["active"]


def _event(payload: dict[str, Any]) -> tuple[str, ...]:
    if "trigger" in payload:
        return ("emergency", payload["trigger"], payload.get("text", ""))
    return ("activity", payload["source"], payload.get("sensor", ""), payload.get("signal", ""))


def test_every_fixture_shape_reaches_the_hub_as_its_event(gateway: Gateway) -> None:
    expected: list[tuple[str, ...]] = []
    for fixture in FIXTURES:
        for step in fixture.steps:
            gateway.clock.advance(timedelta(seconds=step.after_s))
            gateway.send(step.topic, step.payload, retain=step.retained)
            for kind, *rest in step.expect:
                if kind == "emergency":
                    expected.append(("emergency", "button", f"비상 버튼 누름: {fixture.name}"))
                else:
                    expected.append(("activity", rest[0], fixture.name, rest[1]))
            if step.expect:
                count = len(expected)
                wait_until(
                    lambda count=count: len(gateway.stored("activity", "emergency")) >= count,
                    timeout=10,
                )
            if "available" in step.health or "active" in step.health:
                # a change the hub must hear at once: the newest heartbeat at the hub says it
                wait_until(lambda f=fixture, s=step: _beat_says(gateway, f.name, s.health))
    gateway.clock.advance(timedelta(minutes=2))
    gateway.send(f"{BASE}/{MARKER}", b'{"occupancy": true}')
    expected.append(("activity", "motion", MARKER, "occupancy"))
    wait_until(lambda: len(gateway.stored("activity", "emergency")) >= len(expected), timeout=10)

    assert [_event(p) for p in gateway.stored("activity", "emergency")] == expected
    # The water sensor's wet spell reached the hub in a heartbeat, sent when it began.
    wet = [
        s
        for beat in gateway.stored("heartbeat")
        for s in beat.get("sensors", [])
        if s["name"] == "욕실 누수 센서" and "active_since" in s
    ]
    assert wet, "no heartbeat said the bathroom sensor was wet"
    assert {s["signal"] for s in wet} == {"water_leak"}


def test_the_bridge_going_offline_is_a_heartbeat_that_cannot_see(gateway: Gateway) -> None:
    for topic, payload, _retained, problem in bridge_steps():
        before = len(gateway.stored("heartbeat"))
        changes = gateway.adapter.sensing_problem() != problem
        gateway.clock.advance(timedelta(seconds=30))
        gateway.send(topic, payload)
        assert gateway.adapter.sensing_problem() == problem
        if not changes:
            continue  # no change, no extra heartbeat
        wait_until(lambda before=before: len(gateway.stored("heartbeat")) > before, timeout=10)
        beat = gateway.stored("heartbeat")[-1]
        assert beat["sensing"] is (problem is None), (payload, beat)
        assert beat.get("sensing_problem") == problem
        assert {s["name"] for s in beat["sensors"]} >= {f.name for f in FIXTURES}
