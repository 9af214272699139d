"""The speaker's Wyoming voice against real Wyoming servers on loopback (no broker, no hub).

Where a command ends (pure), the configuration, a satellite's forwarded transcripts reaching
the adapter, speech a satellite streamed without its wake word, the satellite's audio going
to speech-to-text, and a prompt played through the local player when no satellite is served.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from wyoming.asr import Transcript
from wyoming.client import AsyncTcpClient
from wyoming.pipeline import PipelineStage
from wyoming.satellite import SatelliteConnected

from alerts.clock import FakeClock
from edge.agent import Agent
from edge.config import ConfigError, EdgeConfig, WyomingConfig, load_config
from edge.speaker import SpeakerAdapter
from edge.voice_segment import Cut, Segmenter
from edge.wyoming_speaker import WyomingVoice
from protocol.models import CheckinCommand
from tests.conftest import free_port
from tests.edge.support import edge_config, wait_until
from tests.edge.wyoming_standins import RATE, Loop, SatelliteServer, SttServer, TtsServer, tone

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


# -- where a command ends ----------------------------------------------------------------


def _feed(segmenter: Segmenter, chunks: list[bytes]) -> tuple[Cut | None, float]:
    for chunk in chunks:
        cut = segmenter.feed(chunk, RATE, 2, 1)
        if cut is not None:
            return cut, segmenter.heard_s
    return None, segmenter.heard_s


def test_a_command_ends_at_the_pause_after_speech() -> None:
    cut, at = _feed(Segmenter(), tone(0.3, 0) + tone(1.2, 5000) + tone(3.0, 60))
    assert cut is Cut.PAUSE
    assert at == pytest.approx(0.3 + 1.2 + 0.8)


def test_a_short_breath_does_not_end_a_command() -> None:
    cut, _ = _feed(Segmenter(), tone(0.5, 5000) + tone(0.5, 0) + tone(0.5, 5000))
    assert cut is None


def test_nothing_said_after_the_wake_word_gives_up() -> None:
    cut, at = _feed(Segmenter(), tone(8, 100))
    assert cut is Cut.NO_SPEECH
    assert at == pytest.approx(5.0)


def test_endless_talk_is_cut() -> None:
    cut, at = _feed(Segmenter(), tone(20, 5000))
    assert cut is Cut.TOO_LONG
    assert at == pytest.approx(12.0)


def test_audio_that_cannot_be_measured_ends_only_at_the_limit() -> None:
    segmenter = Segmenter()
    cuts = [segmenter.feed(bytes(1600), RATE, 1, 1) for _ in range(130)]
    assert cuts.index(Cut.TOO_LONG) == 119


# -- configuration ---------------------------------------------------------------------


def test_the_sample_config_names_a_wyoming_voice() -> None:
    config = load_config(REPO / "deploy" / "edge" / "speaker.toml", "speaker")
    wyoming = config.speaker.wyoming
    assert wyoming is not None
    assert (wyoming.satellite, wyoming.stt, wyoming.language) == (
        "tcp://127.0.0.1:10700",
        "tcp://127.0.0.1:10300",
        "ko",
    )


@pytest.mark.parametrize(
    ("section", "error"),
    [
        ({"satellite": "tcp://127.0.0.1:10700"}, "satellite needs stt"),
        ({"tts": "http://127.0.0.1:10200"}, "tcp://host:port"),
        ({"events": "tcp://127.0.0.1"}, "tcp://host:port"),
    ],
)
def test_a_wrong_wyoming_section_is_refused(
    tmp_path: Path, section: dict[str, str], error: str
) -> None:
    path = tmp_path / "speaker.toml"
    lines = [f'{key} = "{value}"' for key, value in section.items()]
    path.write_text(
        'resident = "r1"\ndevice = "s1"\nmqtt_url = "mqtt://127.0.0.1:1883"\n'
        "[speaker.wyoming]\n" + "\n".join(lines) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=error):
        load_config(path, "speaker")


# -- through real Wyoming servers ------------------------------------------------------


@pytest.fixture
def loop() -> Iterator[Loop]:
    running = Loop()
    yield running
    running.close()


def _agent(tmp_path: Path, wyoming: dict[str, Any]) -> tuple[Agent, SpeakerAdapter]:
    config: EdgeConfig = edge_config(
        tmp_path, "mqtt://127.0.0.1:9", kind="speaker", speaker={"wyoming": wyoming}
    )
    adapter = SpeakerAdapter(config.speaker)
    agent = Agent(config, adapter, clock=FakeClock(T0))
    adapter.start(agent)  # the adapter alone: no broker to reach
    return agent, adapter


def _queued(agent: Agent) -> list[dict[str, Any]]:
    sent = agent.outbox.take(1000)
    agent.outbox.release()
    return [{"channel": p.channel, **json.loads(p.payload)} for p in sent]


def test_a_satellites_forwarded_transcript_is_heard(tmp_path: Path, loop: Loop) -> None:
    port = free_port()
    agent, adapter = _agent(tmp_path, {"events": f"tcp://127.0.0.1:{port}"})
    try:

        async def forward() -> None:
            async with AsyncTcpClient("127.0.0.1", port) as client:
                await client.write_event(SatelliteConnected().event())
                await client.write_event(Transcript(text="아리아 살려줘").event())
                await client.write_event(Transcript(text="라디오 틀어줘").event())

        loop.call(forward())
        # The second utterance's activity waits in the fold (one message per minute).
        wait_until(lambda: agent.outbox.next_fold_due() is not None, timeout=5)
        queued = _queued(agent)
        assert [q["channel"] for q in queued] == ["emergency", "activity"]
        assert (queued[0]["trigger"], queued[0]["text"]) == ("voice", "아리아 살려줘")
    finally:
        adapter.stop()


def test_speech_without_the_wake_word_is_ignored_unless_it_names_the_speaker(
    tmp_path: Path,
) -> None:
    # Answering a spoken check-in without it is covered through the satellite below.
    agent, adapter = _agent(tmp_path, {})
    assert adapter.heard("살려줘", addressed=False).outcome == "ignored"  # the television
    assert agent.outbox.depth() == 0
    assert adapter.heard("아리아 살려줘", addressed=False).detail == "emergency"
    assert adapter.heard("살려줘", addressed=True).detail == "emergency"
    # Urgent lane first; the second activity waits in the fold.
    assert [q["channel"] for q in _queued(agent)] == ["emergency", "emergency", "activity"]


def test_satellite_audio_goes_to_speech_to_text_and_the_text_comes_back(
    tmp_path: Path, loop: Loop
) -> None:
    stt, satellite, tts = SttServer(loop), SatelliteServer(loop), TtsServer(loop, seconds=2.0)
    agent, adapter = _agent(
        tmp_path, {"satellite": satellite.uri, "stt": stt.uri, "tts": tts.uri, "voice": "v1"}
    )
    try:
        assert satellite.running.wait(5), "the agent did not serve the satellite"
        # A voice-detector satellite: no wake word, nothing pending, so only ignored.
        stt.texts.put("응 괜찮아")
        satellite.speak(PipelineStage.WAKE)
        wait_until(lambda: len(satellite.of_type("transcript")) == 1, timeout=5)
        assert agent.outbox.depth() == 0
        # A check-in is spoken through the satellite; the next speech answers it.
        adapter.on_checkin(
            CheckinCommand(
                v=1,
                type="checkin",
                id="c1",
                ts=T0,
                prompt="괜찮으세요?",
                expires_ts=T0.replace(hour=2),
            )
        )
        wait_until(lambda: satellite.played == 1, timeout=5)
        assert (tts.said, tts.voices) == (["괜찮으세요?"], [{"name": "v1"}])
        # The satellite hears its own prompt (2 s of audio, relayed at once): not an answer.
        satellite.speak(PipelineStage.WAKE)
        wait_until(lambda: satellite.of_type("error"), timeout=5)
        assert satellite.of_type("error")[0].data["code"] == "speaking"
        assert len(stt.emitted) == 1
        stt.texts.put("응 괜찮아")
        satellite.speak_until_heard(PipelineStage.WAKE)
        wait_until(lambda: agent.outbox.depth() == 2, timeout=5)
        answer = next(q for q in _queued(agent) if q["channel"] == "checkin")
        assert (answer["request_id"], answer["answered"], answer["text"]) == (
            "c1",
            True,
            "응 괜찮아",
        )
        assert [e.data["text"] for e in satellite.of_type("transcript")] == ["응 괜찮아"] * 2
        assert stt.languages == ["ko", "ko"]
        # Cut at the pause: 0.5 s of speech and 0.8 s of quiet, not the 1.5 s sent.
        assert stt.audio_bytes == [2 * round(RATE * 1.3)] * 2
    finally:
        adapter.stop()


def test_speech_to_text_down_sends_the_satellite_back_to_its_wake_word(
    tmp_path: Path, loop: Loop
) -> None:
    satellite = SatelliteServer(loop)
    agent, adapter = _agent(
        tmp_path, {"satellite": satellite.uri, "stt": f"tcp://127.0.0.1:{free_port()}"}
    )
    try:
        assert satellite.running.wait(5)
        satellite.speak()
        wait_until(lambda: satellite.of_type("error"), timeout=5)
        assert satellite.of_type("error")[0].data["code"] == "stt-failed"
        assert agent.outbox.depth() == 0
    finally:
        adapter.stop()


def test_without_a_satellite_the_prompt_goes_to_the_player(tmp_path: Path, loop: Loop) -> None:
    tts = TtsServer(loop, rate=16_000)
    out = tmp_path / "played.raw"
    player = [
        sys.executable,
        "-c",
        "import sys; open(sys.argv[1], 'wb').write(sys.stdin.buffer.read())",
        f"{out}.{{rate}}",
    ]
    voice = WyomingVoice(WyomingConfig(tts=tts.uri, play_command=tuple(player)))
    voice.start(lambda text, addressed: None)
    try:
        future = voice.say("약 드실 시간이에요")
        assert future is not None
        assert future.result(10) is True
    finally:
        voice.stop()
    assert tts.said == ["약 드실 시간이에요"]
    assert tts.voices == [{"language": "ko"}]
    assert Path(f"{out}.16000").stat().st_size == 2 * 16_000 // 10


def test_the_edge_agent_imports_without_the_voice_extra() -> None:
    # pip install 'anbu[edge]' has no wyoming: a speaker without [speaker.wyoming] still runs,
    # and one with it is refused with the extra to install.
    code = (
        "import sys; sys.modules['wyoming'] = None\n"
        "from edge.cli import make_adapter\n"
        "from edge.config import EdgeConfig\n"
        "base = {'resident': 'r1', 'device': 'd1', 'mqtt_url': 'mqtt://h', 'kind': 'speaker'}\n"
        "make_adapter(EdgeConfig.model_validate(base))\n"
        "wy = {'speaker': {'wyoming': {'events': 'tcp://127.0.0.1:10500'}}}\n"
        "try:\n"
        "    make_adapter(EdgeConfig.model_validate({**base, **wy}))\n"
        "except RuntimeError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert "pip install 'anbu[edge,voice]'" in done.stdout
