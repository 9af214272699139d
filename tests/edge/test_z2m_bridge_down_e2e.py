"""Acceptance (issue 16): Zigbee2MQTT's bridge stopping is a device problem at the hub, never
an inactivity SMS to the guardian.

A real Mosquitto, the real sensors agent and the real hub (``log:`` SMS provider) on one
FakeClock; Zigbee2MQTT is simulated by publishing its messages to the broker the agent
subscribes to. The resident's only device is that agent. Two ways the bridge stops: its
``bridge/state`` says offline (its MQTT will), or it goes silent past ``gateway_silent_s``
while the agent stays connected. Either way the hub takes the device offline within the
policy's heartbeat bound, tells the centre monitoring_lost, and pages no guardian once the
resident's inactivity stages have all passed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alerts.clock import FakeClock
from edge.agent import Agent
from edge.sensors import SensorsAdapter
from hub.broker import MosquittoBroker
from hub.store.tables import events
from tests.edge.support import edge_config, publish, wait_until
from tests.hub.conftest import RunningHub, start_hub  # noqa: F401 - the fixture
from tests.hub.support import DEFAULT_TEST_START, read_sms

Z = "zigbee2mqtt"
DEVICE = "zb1"
HEARTBEAT_S = 60
SILENT_S = 120  # gateway_silent_s: inside the heartbeat bound, as a real config must be
# The policy's heartbeat bound: device_offline_after_heartbeats (3, the default) intervals.
BOUND = timedelta(seconds=3 * HEARTBEAT_S)
LOST_AFTER = timedelta(minutes=1)
# Short inactivity stages: a silence the hub took for the resident's would page the guardian
# at 5 min, well inside the 12 virtual minutes the hub is stepped through.
POLICY = {
    "checkin_after": "PT3M",
    "guardian_after": "PT5M",
    "control_center_after": "PT10M",
    "monitoring_lost_after": "PT1M",
}
PAST_EVERY_STAGE = timedelta(minutes=12)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only (the backends' sensing storage is covered in tests/hub)."""
    return f"sqlite:///{tmp_path / 'anbu.db'}"


def _kinds(running: RunningHub, kind: str) -> list[dict[str, Any]]:
    with running.hub.engine.connect() as conn:
        rows = conn.execute(
            select(events.c.payload)
            .where(events.c.device_id == DEVICE)
            .where(events.c.kind == kind)
            .order_by(events.c.received_at)
        ).all()
    return [json.loads(row.payload) for row in rows]


def _online(running: RunningHub) -> bool:
    [device] = running.http.get("/api/v1/residents/r1").json()["devices"]
    return bool(device["online"])


def _blind(running: RunningHub) -> list[dict[str, Any]]:
    blind: list[dict[str, Any]] = running.http.get("/api/v1/sensors").json()["blind"]
    return blind


@pytest.fixture
def agent(
    start_hub: Any,  # noqa: F811 - pytest fixture
    mosquitto: MosquittoBroker,
    tmp_path: Path,
) -> Iterator[tuple[RunningHub, Agent, SensorsAdapter]]:
    """The hub with resident r1 (only device: the sensors agent) and the agent, both on one
    FakeClock, the agent ticked as its own loop would; Zigbee2MQTT's retained "online"."""
    clock = FakeClock(DEFAULT_TEST_START)
    running = start_hub(clock=clock)
    running.resident("r1", devices={DEVICE: "sensors"}, policy=POLICY)
    publish(mosquitto.host, mosquitto.port, f"{Z}/bridge/state", '{"state":"online"}', retain=True)
    config = edge_config(
        tmp_path,
        mosquitto.url,
        kind="sensors",
        device=DEVICE,
        fold_s=1,
        heartbeat_s=HEARTBEAT_S,
        sensors={"zigbee_url": mosquitto.url, "gateway_silent_s": SILENT_S},
    )
    adapter = SensorsAdapter(config.sensors)
    made = Agent(config, adapter, clock=clock)
    made.start()
    stop = threading.Event()
    # Pacing, not a wait for a result: the agent's loop ticks like this.
    ticker = threading.Thread(
        target=lambda: [made.tick() for _ in iter(lambda: stop.wait(0.05), True)]
    )
    ticker.start()
    try:
        yield running, made, adapter
    finally:
        stop.set()
        ticker.join()
        made.close(announce_offline=False)


def _send(broker: MosquittoBroker, adapter: SensorsAdapter, topic: str, body: str) -> None:
    """Publish one Zigbee2MQTT message and wait until the agent has taken it."""
    seen = adapter.messages_seen
    publish(broker.host, broker.port, topic, body, retain=topic.endswith("bridge/state"))
    wait_until(lambda: adapter.messages_seen > seen)


@pytest.mark.parametrize("stop", ["bridge_offline", "bridge_silent"])
def test_a_stopped_bridge_is_a_device_problem_and_no_guardian_sms(
    stop: str,
    agent: tuple[RunningHub, Agent, SensorsAdapter],
    mosquitto: MosquittoBroker,
) -> None:
    running, edge, adapter = agent
    clock = running.clock
    assert isinstance(clock, FakeClock)
    start = clock.now()
    # The gateway sees: its heartbeat is in, then the resident walks past a motion sensor
    # (Zigbee2MQTT's last live message before it stops).
    wait_until(lambda: any(b.get("sensing") is True for b in _kinds(running, "heartbeat")))
    assert edge.link.connected and _online(running)
    _send(mosquitto, adapter, f"{Z}/bridge/health", '{"response_time": 1, "devices": {}}')
    _send(mosquitto, adapter, f"{Z}/거실 동작 센서", '{"occupancy": true}')
    wait_until(lambda: _kinds(running, "activity"))
    last_heard = clock.now()

    if stop == "bridge_offline":
        clock.advance(timedelta(seconds=5))
        stopped = clock.now()
        _send(mosquitto, adapter, f"{Z}/bridge/state", '{"state":"offline"}')
        problem = "gateway_offline"
    else:
        # Nothing more from Zigbee2MQTT; the agent stays connected and ticking.
        stopped = last_heard
        clock.advance(timedelta(seconds=SILENT_S + 1))
        problem = "gateway_silent"

    # The hub takes the device offline on the agent's heartbeat, the clock standing still:
    # within the heartbeat bound of the moment the bridge stopped.
    wait_until(lambda: not _online(running), timeout=10)
    offline_at = clock.now()
    assert offline_at - stopped <= BOUND, (offline_at, stopped)
    beat = _kinds(running, "heartbeat")[-1]
    assert (beat["sensing"], beat["sensing_problem"]) == (False, problem)
    assert edge.link.connected  # the agent itself never went away
    assert [(b["device"], b["problem"]) for b in _blind(running)] == [(DEVICE, problem)]

    # Every inactivity stage (check-in, guardian, control centre) passes, in virtual time.
    running.run_until(start + PAST_EVERY_STAGE)

    sms = read_sms(running.sms_log)
    sent = [(m["role"], m["kind"], m["ts"]) for m in sms]
    # The positive marker first: the centre heard that monitoring was lost, and when.
    lost = [m for m in sms if m["kind"] == "monitoring_lost"]
    assert [m["role"] for m in lost] == ["control_center"], sent
    lost_since = datetime.fromisoformat(lost[0]["ts"]) - LOST_AFTER
    assert lost_since - stopped <= BOUND, (lost_since, stopped)
    assert clock.now() - start >= timedelta(minutes=10)  # past the guardian's due time
    # And no guardian was told the resident was quiet.
    guardian = [m for m in sms if m["role"] == "guardian"]
    assert not [m for m in guardian if m["kind"].startswith("inactivity")], sent
    assert not _online(running)
