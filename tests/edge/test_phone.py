"""The phone adapter: the resident's own actions count, the phone's do not; a sleeping app is a
device problem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.clock import FakeClock
from edge.adapter import FeedError
from edge.agent import Agent
from edge.phone import PhoneAdapter
from hub.broker import MosquittoBroker
from tests.edge.support import Recorder, edge_config, wait_until

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


@pytest.fixture
def phone(tmp_path: Path) -> tuple[Agent, PhoneAdapter, FakeClock]:
    clock = FakeClock(T0)
    # An unreachable broker: these tests look at the outbox, not at the wire.
    config = edge_config(tmp_path, "mqtt://127.0.0.1:9", kind="phone", fold_s=1)
    adapter = PhoneAdapter(config.phone)
    agent = Agent(config, adapter, clock=clock)
    adapter.start(agent)
    return agent, adapter, clock


def _sources(agent: Agent) -> list[str]:
    import json

    return [json.loads(p.payload).get("source", p.channel) for p in agent.outbox.take(1000)]


@pytest.mark.parametrize(
    ("kind", "source"),
    [
        ("screen_unlock", "screen"),
        ("screen_on", "screen"),
        ("call_outgoing", "call"),
        ("call_answered", "call"),
        ("charging_connected", "other"),
        ("app_opened", "app"),
        ("sos", "emergency"),
    ],
)
def test_actions_of_the_resident_count(
    phone: tuple[Agent, PhoneAdapter, FakeClock], kind: str, source: str
) -> None:
    agent, adapter, clock = phone
    adapter.handle_feed({"type": kind}, clock.now(), None)
    assert _sources(agent) == [source]


@pytest.mark.parametrize(
    "kind", ["notification", "push", "sms_received", "call_incoming", "call_missed", "alive"]
)
def test_what_happens_to_the_phone_does_not_count(
    phone: tuple[Agent, PhoneAdapter, FakeClock], kind: str
) -> None:
    agent, adapter, clock = phone
    adapter.handle_feed({"type": kind}, clock.now(), None)
    assert _sources(agent) == []


def test_a_screen_lit_by_a_notification_is_not_the_resident(
    phone: tuple[Agent, PhoneAdapter, FakeClock],
) -> None:
    agent, adapter, clock = phone
    adapter.handle_feed({"type": "notification"}, clock.now(), None)
    clock.advance(timedelta(seconds=2))
    adapter.handle_feed({"type": "screen_on"}, clock.now(), None)
    assert _sources(agent) == []
    clock.advance(timedelta(seconds=30))
    adapter.handle_feed({"type": "screen_on"}, clock.now(), None)
    assert _sources(agent) == ["screen"]


def test_unknown_event_types_are_refused_with_the_list(
    phone: tuple[Agent, PhoneAdapter, FakeClock],
) -> None:
    _, adapter, clock = phone
    with pytest.raises(FeedError, match="screen_unlock"):
        adapter.handle_feed({"type": "shake"}, clock.now(), None)


def test_an_app_put_to_sleep_is_a_device_problem(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    recorder = Recorder(mosquitto.host, mosquitto.port)
    clock = FakeClock(T0)
    config = edge_config(tmp_path, mosquitto.url, kind="phone", heartbeat_s=300)
    adapter = PhoneAdapter(config.phone)
    agent = Agent(config, adapter, clock=clock)
    agent.start()
    try:
        wait_until(lambda: agent.link.connected)
        agent.tick()
        wait_until(lambda: len(recorder.messages("heartbeat")) == 1)
        # 45 minutes of silence from the automation app (the default timeout)
        for _ in range(9):
            clock.advance(timedelta(minutes=5, seconds=1))
            agent.tick()
        wait_until(lambda: recorder.messages("status")[-1].payload["state"] == "offline")
        beats = 9  # one at the start, then every 5 min until the app was declared asleep
        wait_until(lambda: len(recorder.messages("heartbeat")) == beats)
        for _ in range(6):
            clock.advance(timedelta(minutes=5))
            agent.tick()

        # The app wakes: its heartbeat (on the same connection and topic, so behind anything
        # sent while it was asleep) marks the end of the sleep; what came before it is decided.
        adapter.handle_feed({"type": "alive", "battery_pct": 64}, clock.now(), None)
        agent.tick()
        wait_until(lambda: recorder.messages("status")[-1].payload["state"] == "online")
        wait_until(
            lambda: any(h.payload.get("battery_pct") == 64 for h in recorder.messages("heartbeat"))
        )
        heartbeats = recorder.messages("heartbeat")
        awake = next(i for i, h in enumerate(heartbeats) if h.payload.get("battery_pct") == 64)
        assert len(heartbeats[:awake]) == beats, "heartbeats went on while asleep"
        assert recorder.messages("activity") == []

        wait_until(lambda: len(recorder.messages("heartbeat")) == beats + 1)
        assert recorder.messages("heartbeat")[-1].payload["battery_pct"] == 64
    finally:
        agent.close(announce_offline=False)
        recorder.close()
