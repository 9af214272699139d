"""Presence over a real Mosquitto: a Wi-Fi hiccup is not an outage, a long drop is.

Both agents run the default configuration (will delay 120 s). Their cables are pulled at
the same moment: one comes back after 20 s, the other stays cut. The first must never be
reported offline, even after its will delay has passed; the second is, and only once the
will delay has passed, which is well before a 5-minute outage ends.
"""

from __future__ import annotations

import time
from pathlib import Path

from edge.agent import Agent
from edge.config import EdgeConfig
from edge.phone import PhoneAdapter
from hub.broker import MosquittoBroker
from tests.edge.support import NetCut, Recorder, Seen, edge_config, wait_until


def _offline(recorder: Recorder, device: str) -> list[Seen]:
    return [
        s
        for s in recorder.messages("status")
        if f"/{device}/" in s.topic and s.payload.get("state") == "offline"
    ]


def _agent(tmp_path: Path, url: str, device: str) -> Agent:
    config = edge_config(tmp_path / device, url, kind="phone", device=device)
    assert config.will_delay_s == EdgeConfig.model_fields["will_delay_s"].default == 120
    return Agent(config, PhoneAdapter(config.phone))


def test_twenty_second_drop_is_not_offline_and_a_long_one_is(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    recorder = Recorder(mosquitto.host, mosquitto.port, topic="anbu/v1/+/+/status")
    short_link, long_link = NetCut(mosquitto.port), NetCut(mosquitto.port)
    short = _agent(tmp_path, f"mqtt://127.0.0.1:{short_link.port}", "hiccup")
    long = _agent(tmp_path, f"mqtt://127.0.0.1:{long_link.port}", "outage")
    for agent in (short, long):
        agent.start()
    try:
        wait_until(lambda: short.link.connected and long.link.connected)
        wait_until(lambda: len(recorder.messages("status")) >= 2)

        cut_at = time.monotonic()
        short_link.cut()
        long_link.cut()
        time.sleep(20)
        short_link.restore()
        wait_until(lambda: short.link.connected, timeout=30)

        offline_after = None
        while time.monotonic() - cut_at < 135:
            if _offline(recorder, "outage") and offline_after is None:
                offline_after = time.monotonic() - cut_at
            if offline_after is not None and time.monotonic() - cut_at > 125:
                break
            time.sleep(0.5)
        assert offline_after is not None, "a long drop never published offline"
        assert 110 <= offline_after <= 130, f"offline after {offline_after:.0f} s, not ~120 s"
        assert _offline(recorder, "hiccup") == [], "a 20-second drop published offline"

        long_link.restore()
        wait_until(lambda: long.link.connected, timeout=30)
        wait_until(lambda: recorder.messages("status")[-1].payload["state"] == "online", timeout=10)
    finally:
        for agent in (short, long):
            agent.close(announce_offline=False)
        short_link.close()
        long_link.close()
        recorder.close()


def test_a_stopped_agent_is_announced_offline_after_the_will_delay(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    """A graceful stop keeps the (delayed) will: a reboot within the delay is silent."""
    recorder = Recorder(mosquitto.host, mosquitto.port, topic="anbu/v1/+/+/status")
    config = edge_config(tmp_path, mosquitto.url, kind="phone", device="gone", will_delay_s=1)
    agent = Agent(config, PhoneAdapter(config.phone))
    agent.start()
    try:
        wait_until(lambda: agent.link.connected)
        wait_until(lambda: recorder.messages("status"))
    finally:
        agent.close()
    wait_until(lambda: _offline(recorder, "gone"), timeout=5)
    recorder.close()
