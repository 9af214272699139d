"""What the broker drops is visible: a hub away longer than its queue at the broker holds.

Mosquitto keeps at most ``max_queued_messages`` for a persistent session that is away and
drops the rest without telling the client. The bridge follows Mosquitto's own count and
warns; ``/health`` and ``/metrics`` carry it (tests/hub/test_metrics*.py read the names).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from structlog.testing import capture_logs

from hub.broker import MosquittoBroker
from hub.mqtt import BrokerAddress, Incoming, MqttBridge
from tests.hub.support import wait_until

QUEUED = 5
SENT = 30


@pytest.fixture
def small_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    broker = MosquittoBroker(
        workdir=tmp_path / "mosquitto",
        settings=[f"max_queued_messages {QUEUED}", "sys_interval 1"],
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


def test_messages_the_broker_drops_for_an_absent_hub_are_counted_and_warned_about(
    small_broker: MosquittoBroker,
) -> None:
    received: list[Incoming] = []
    bridge = MqttBridge(small_broker.url, "anbu-hub", received.append)
    bridge.start()
    wait_until(bridge.connected.is_set, timeout=10)
    wait_until(lambda: bridge.broker_dropped is not None, timeout=10)
    assert bridge.broker_dropped == 0
    bridge.stop()  # away: its persistent session keeps QUEUED messages at most

    address = BrokerAddress.parse(small_broker.url)
    device = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="r1.spk", protocol=mqtt.MQTTv5)
    device.connect(address.host, address.port)
    device.loop_start()
    try:
        for n in range(SENT):
            body = {"v": 1, "id": f"a-{n}", "ts": "2026-09-21T09:00:00+09:00", "source": "voice"}
            device.publish("anbu/v1/r1/spk/activity", json.dumps(body), qos=1).wait_for_publish(5)
    finally:
        device.loop_stop()
        device.disconnect()

    with capture_logs() as logs:
        again = MqttBridge(small_broker.url, "anbu-hub", received.append)
        again.start()
        try:
            wait_until(lambda: (again.broker_dropped or 0) >= SENT - QUEUED, timeout=15)
        finally:
            again.stop()

    assert again.broker_dropped == SENT - QUEUED
    warned = [entry for entry in logs if entry["event"] == "mqtt.broker_dropped"]
    assert warned and sum(entry["dropped"] for entry in warned) == SENT - QUEUED
    assert len([m for m in received if m.topic.endswith("/activity")]) <= QUEUED
    assert not [m for m in received if m.topic.startswith("$SYS")], "never taken for an event"


def test_a_running_hub_reports_the_brokers_count(start_hub: Any) -> None:
    running = start_hub()

    wait_until(lambda: running.http.get("/health").json()["broker_dropped"] == 0, timeout=15)
    metrics = running.http.get("/metrics").text
    assert "anbu_broker_dropped_messages 0.0" in metrics, metrics[-2000:]
