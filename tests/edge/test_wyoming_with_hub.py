"""A speaker on the Wyoming voice stack, end to end: satellite, STT, TTS, agent, broker, hub.

The voice services are stand-ins built on the wyoming package's own server (the real ones
need microphones and models); the agent, Mosquitto and the hub are the real ones. The hub's
check-in is spoken through the TTS server and the satellite, the resident's answer (no wake
word) comes back through speech-to-text and is the answered check-in at the hub; then a call
for help after the wake word is an emergency at the hub within a second of the
speech-to-text server's answer.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from wyoming.pipeline import PipelineStage

from edge.agent import Agent
from edge.speaker import SpeakerAdapter
from hub.broker import MosquittoBroker
from hub.store.tables import events
from tests.edge.support import edge_config, wait_until
from tests.edge.wyoming_standins import Loop, SatelliteServer, SttServer, TtsServer
from tests.hub.conftest import start_hub  # noqa: F401 - the fixture
from tests.hub.support import KST, OffsetClock

POLICY = {"checkin_after": "PT2S", "guardian_after": "PT60S", "control_center_after": "PT120S"}
SATURDAY_NIGHT = datetime(2026, 11, 28, 23, 0, tzinfo=KST)
EMERGENCY_BOUND_S = 1.0  # STT answer -> stored at the hub; measured ~0.2-0.3 s on loopback


def _stored(running: Any, kind: str) -> list[dict[str, Any]]:
    with running.hub.engine.connect() as conn:
        rows = conn.execute(
            select(events.c.payload).where(events.c.device_id == "spk1", events.c.kind == kind)
        ).all()
    return [json.loads(row.payload) for row in rows]


@pytest.mark.serial  # the emergency's latency bound is part of it: runs alone (scripts/test.sh)
def test_a_wyoming_speaker_with_the_hub(
    start_hub: Any,  # noqa: F811 - pytest fixture
    mosquitto: MosquittoBroker,
    tmp_path: Path,
) -> None:
    running = start_hub(clock=OffsetClock(SATURDAY_NIGHT))
    running.resident("r1", devices={"spk1": "speaker"}, policy=POLICY)
    loop = Loop()
    stt, tts, satellite = SttServer(loop), TtsServer(loop), SatelliteServer(loop)
    config = edge_config(
        tmp_path,
        mosquitto.url,
        kind="speaker",
        device="spk1",
        speaker={"wyoming": {"satellite": satellite.uri, "stt": stt.uri, "tts": tts.uri}},
    )
    agent = Agent(config, SpeakerAdapter(config.speaker), clock=running.clock)
    agent.start()
    runner = threading.Thread(target=agent.run, name="agent")
    runner.start()
    try:
        assert satellite.running.wait(10), "the agent did not serve the satellite"
        # Two seconds of silence: the hub asks; the prompt is synthesized and played.
        wait_until(lambda: any("괜찮으세요" in said for said in tts.said), timeout=15)
        wait_until(lambda: satellite.played == 1, timeout=5)
        # The resident answers without the wake word (a --vad satellite): it is the answer.
        stt.texts.put("응 괜찮아")
        satellite.speak_until_heard(PipelineStage.WAKE)
        answers = wait_until(lambda: _stored(running, "checkin"), timeout=10)
        assert (answers[0]["answered"], answers[0]["text"]) == (True, "응 괜찮아")

        stt.texts.put("아리아 살려줘")
        satellite.speak(PipelineStage.ASR)
        emergency = wait_until(lambda: _stored(running, "emergency"), timeout=10, interval=0.01)
        seen = time.monotonic()
        text, emitted = stt.emitted[-1]
        latency = seen - emitted
        print(f"STT transcript -> emergency stored at the hub: {latency * 1000:.0f} ms")  # noqa: T201
        assert text == "아리아 살려줘"
        assert (emergency[0]["trigger"], emergency[0]["text"]) == ("voice", "아리아 살려줘")
        assert latency < EMERGENCY_BOUND_S
        # The satellite got both texts back, so it went back to listening for its wake word.
        transcripts = [e.data["text"] for e in satellite.of_type("transcript")]
        assert transcripts == ["응 괜찮아", "아리아 살려줘"]
    finally:
        agent.stop()
        runner.join(10)
        agent.close(announce_offline=False)
        loop.close()
