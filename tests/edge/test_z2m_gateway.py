"""A sensors agent on a real broker: what its heartbeats say about the gateway and each sensor,
and the first door change after a restart (it was lost to seeding before)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.clock import FakeClock
from edge.agent import Agent
from edge.outbox import Outbox
from edge.sensors import STATE_KEY, SensorsAdapter
from hub.broker import MosquittoBroker
from tests.edge.support import Recorder, edge_config, publish, wait_until

T0 = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)
Z = "zigbee2mqtt"
DOOR = "현관 문"
LEAK = "욕실 누수 센서"


def _agent(tmp_path: Path, broker: MosquittoBroker, clock: FakeClock, **sensors: Any) -> Agent:
    config = edge_config(
        tmp_path,
        broker.url,
        kind="sensors",
        device="zb1",
        fold_s=1,
        heartbeat_s=3600,
        sensors={"zigbee_url": broker.url, "gateway_silent_s": 600, **sensors},
    )
    return Agent(config, SensorsAdapter(config.sensors), clock=clock)


def _adapter(agent: Agent) -> SensorsAdapter:
    assert isinstance(agent.adapter, SensorsAdapter)
    return agent.adapter


def _send(broker: MosquittoBroker, agent: Agent, topic: str, payload: object) -> None:
    """Publish one Zigbee2MQTT message and wait until the agent has taken it."""
    seen = _adapter(agent).messages_seen
    body = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    publish(broker.host, broker.port, topic, body)
    wait_until(lambda: _adapter(agent).messages_seen > seen)


def _beats(recorder: Recorder) -> list[dict[str, Any]]:
    return [s.payload for s in recorder.messages("heartbeat")]


def _next_beat(agent: Agent, recorder: Recorder, after: int) -> dict[str, Any]:
    """The first heartbeat after the ``after`` already seen, ticking the agent meanwhile."""
    wait_until(lambda: (agent.tick(), len(_beats(recorder)) > after)[1], timeout=10)
    return _beats(recorder)[after]


def test_heartbeats_say_what_the_gateway_can_see(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    h, p = mosquitto.host, mosquitto.port
    publish(h, p, f"{Z}/bridge/state", '{"state":"online"}', retain=True)
    publish(h, p, f"{Z}/{DOOR}/availability", '{"state":"offline"}', retain=True)
    recorder = Recorder(h, p)
    clock = FakeClock(T0)
    agent = _agent(tmp_path, mosquitto, clock)
    agent.start()
    try:
        wait_until(lambda: _adapter(agent).messages_seen == 2)  # the retained two
        first = _next_beat(agent, recorder, 0)
        assert first["sensing"] is True
        assert "sensing_problem" not in first
        assert first["sensors"] == [{"name": DOOR, "available": False}]

        # Zigbee2MQTT stops: its will says offline; a heartbeat goes at once, not in an hour.
        _send(mosquitto, agent, f"{Z}/bridge/state", '{"state":"offline"}')
        beat = _next_beat(agent, recorder, 1)
        assert (beat["sensing"], beat["sensing_problem"]) == (False, "gateway_offline")
        _send(mosquitto, agent, f"{Z}/bridge/state", "online")  # the legacy plain word
        assert _next_beat(agent, recorder, 2)["sensing"] is True

        # A water sensor gets wet, with a low battery: listed first, wet since then.
        clock.advance(timedelta(minutes=1))
        wet_at = clock.now()
        wet = {"water_leak": True, "battery": 9, "battery_low": True, "linkquality": 80}
        _send(mosquitto, agent, f"{Z}/{LEAK}", wet)
        beat = _next_beat(agent, recorder, 3)
        leak = beat["sensors"][0]
        assert leak["name"] == LEAK
        assert datetime.fromisoformat(leak["active_since"]) == wet_at
        assert datetime.fromisoformat(leak["last_seen"]) == wet_at
        assert (leak["battery_pct"], leak["battery_low"], leak["linkquality"]) == (9, True, 80)
        assert leak["signal"] == "water_leak"
        _send(mosquitto, agent, f"{Z}/{LEAK}", {"water_leak": False, "battery": 9})
        beat = _next_beat(agent, recorder, 4)
        assert "active_since" not in next(s for s in beat["sensors"] if s["name"] == LEAK)

        # Silent past gateway_silent_s, but Zigbee2MQTT never said it speaks on its own (no
        # bridge/health): event-only sensors are silent while the resident sleeps, so the
        # silence is not called the gateway's.
        clock.advance(timedelta(seconds=1201))
        agent.heartbeat_now()
        beat = _next_beat(agent, recorder, 5)
        assert beat["sensing"] is True
        # Once it has (2.x's periodic health check), nothing past the bound: it cannot see.
        _send(mosquitto, agent, f"{Z}/bridge/health", {"response_time": 1, "devices": {}})
        clock.advance(timedelta(seconds=601))
        beat = _next_beat(agent, recorder, 6)
        assert (beat["sensing"], beat["sensing_problem"]) == (False, "gateway_silent")
        _send(mosquitto, agent, f"{Z}/bridge/health", {"response_time": 1, "devices": {}})
        assert _next_beat(agent, recorder, 7)["sensing"] is True
    finally:
        agent.close(announce_offline=False)
        recorder.close()


def test_the_first_door_change_after_a_restart_is_activity(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    recorder = Recorder(mosquitto.host, mosquitto.port)
    clock = FakeClock(T0)
    first = _agent(tmp_path, mosquitto, clock)
    first.start()
    try:
        wait_until(_adapter(first).gateway_connected.is_set)
        _send(mosquitto, first, f"{Z}/{DOOR}", {"contact": True, "battery": 91})  # a seed
    finally:
        first.close(announce_offline=False)

    clock.advance(timedelta(minutes=2))  # a restart (an update, a power blip)
    second = _agent(tmp_path, mosquitto, clock)
    second.start()
    try:
        wait_until(_adapter(second).gateway_connected.is_set)
        _send(mosquitto, second, f"{Z}/{DOOR}", {"contact": False, "battery": 91})
        second.tick()
        wait_until(lambda: second.outbox.depth() == 0 and recorder.messages("activity"))
    finally:
        second.close(announce_offline=False)
        recorder.close()
    [activity] = [s.payload for s in recorder.messages("activity")]
    assert (activity["source"], activity["sensor"], activity["signal"]) == (
        "door",
        DOOR,
        "contact",
    )
    assert datetime.fromisoformat(activity["ts"]) == T0 + timedelta(minutes=2)


def test_values_saved_long_ago_only_seed(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    recorder = Recorder(mosquitto.host, mosquitto.port)
    clock = FakeClock(T0)
    agent = _agent(tmp_path, mosquitto, clock, resume_state_s=900)
    saved = {"heard": (T0 - timedelta(hours=3)).isoformat(), "sensors": {DOOR: {"contact": True}}}
    agent.outbox.put(STATE_KEY, json.dumps(saved))
    agent.start()
    try:
        wait_until(_adapter(agent).gateway_connected.is_set)
        # hours old: the door may have opened and closed since; the next value is a seed
        assert _adapter(agent).mapper.export_state() == {}
        _send(mosquitto, agent, f"{Z}/{DOOR}", {"contact": False})
        _send(mosquitto, agent, f"{Z}/hall", {"occupancy": True})  # the marker
        agent.tick()
        wait_until(lambda: recorder.messages("activity"))
    finally:
        agent.close(announce_offline=False)
        recorder.close()
    assert [s.payload["source"] for s in recorder.messages("activity")] == ["motion"]


def test_a_folded_activity_names_no_sensor(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "fold.db", fold_s=60)
    try:
        outbox.record_activity("motion", T0, T0, sensor="거실", signal="occupancy")
        later = T0 + timedelta(seconds=10)
        outbox.record_activity("motion", later, later, sensor="부엌", signal="presence")
        outbox.flush_folds(T0 + timedelta(seconds=61))
        sent = [json.loads(p.payload) for p in outbox.take(10)]
    finally:
        outbox.close()
    assert [(a.get("sensor"), a.get("signal"), a.get("count")) for a in sent] == [
        ("거실", "occupancy", None),
        (None, None, None),
    ]
