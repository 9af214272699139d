"""The speaker adapter: utterances become activity, emergencies, cancels and check-in answers."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.clock import FakeClock
from edge.agent import Agent
from edge.speaker import SpeakerAdapter
from hub.broker import MosquittoBroker
from protocol.models import CheckinCommand, ConfigCommand, to_json
from protocol.topics import cmd_topic
from tests.edge.support import Recorder, edge_config, publish, wait_until

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@pytest.fixture
def speaker(tmp_path: Path) -> tuple[Agent, SpeakerAdapter, FakeClock]:
    clock = FakeClock(T0)
    config = edge_config(tmp_path, "mqtt://127.0.0.1:9", kind="speaker")
    adapter = SpeakerAdapter(config.speaker)
    agent = Agent(config, adapter, clock=clock)
    adapter.start(agent)
    return agent, adapter, clock


def _queued(agent: Agent) -> list[dict[str, object]]:
    sent = agent.outbox.take(1000)
    agent.outbox.release()
    return [{"channel": p.channel, **json.loads(p.payload)} for p in sent]


def test_every_utterance_is_voice_activity(
    speaker: tuple[Agent, SpeakerAdapter, FakeClock],
) -> None:
    agent, adapter, clock = speaker
    assert adapter.utterance("지니야 트로트 틀어줘", clock.now()).outcome == "accepted"
    assert [(q["channel"], q.get("source")) for q in _queued(agent)] == [("activity", "voice")]


def test_an_emergency_phrase_raises_an_emergency_with_the_words(
    speaker: tuple[Agent, SpeakerAdapter, FakeClock],
) -> None:
    agent, adapter, clock = speaker
    result = adapter.utterance("아리아, 살려 줘요!", clock.now())
    assert result.detail == "emergency"
    queued = _queued(agent)
    assert queued[0]["channel"] == "emergency"
    assert queued[0]["trigger"] == "voice"
    assert queued[0]["text"] == "아리아, 살려 줘요!"
    assert queued[1]["source"] == "voice"


def test_cancel_within_the_window_takes_the_emergency_back_once(
    speaker: tuple[Agent, SpeakerAdapter, FakeClock],
) -> None:
    agent, adapter, clock = speaker
    adapter.utterance("아리아 도와줘", clock.now())
    clock.advance(timedelta(minutes=2))
    assert adapter.utterance("아리아 괜찮아", clock.now()).detail == "cancel"
    clock.advance(timedelta(minutes=1))
    assert adapter.utterance("취소", clock.now()).detail == ""  # already taken back
    emergencies = [q for q in _queued(agent) if q["channel"] == "emergency"]
    assert len(emergencies) == 2
    assert emergencies[1]["cancel_of"] == emergencies[0]["id"]


def test_cancel_after_the_window_is_only_talk(
    speaker: tuple[Agent, SpeakerAdapter, FakeClock],
) -> None:
    agent, adapter, clock = speaker
    adapter.utterance("살려주세요", clock.now())
    clock.advance(timedelta(minutes=11))
    assert adapter.utterance("괜찮아", clock.now()).detail == ""
    assert len([q for q in _queued(agent) if q["channel"] == "emergency"]) == 1


def test_cancel_without_an_emergency_sends_nothing_urgent(
    speaker: tuple[Agent, SpeakerAdapter, FakeClock],
) -> None:
    agent, adapter, clock = speaker
    adapter.utterance("괜찮아", clock.now())
    assert [q["channel"] for q in _queued(agent)] == ["activity"]


def test_a_retried_feed_event_is_taken_once(
    speaker: tuple[Agent, SpeakerAdapter, FakeClock],
) -> None:
    agent, adapter, clock = speaker
    first = adapter.handle_feed({"type": "utterance", "text": "살려줘"}, clock.now(), "s-1")
    again = adapter.handle_feed({"type": "utterance", "text": "살려줘"}, clock.now(), "s-1")
    assert (first.outcome, again.outcome) == ("accepted", "duplicate")
    assert [q["channel"] for q in _queued(agent)] == ["emergency", "activity"]


def test_speaker_sos_button(speaker: tuple[Agent, SpeakerAdapter, FakeClock]) -> None:
    agent, adapter, clock = speaker
    adapter.handle_feed({"type": "sos"}, clock.now(), None)
    queued = _queued(agent)
    assert queued[0]["channel"] == "emergency"
    assert queued[0]["trigger"] == "button"


def _spoken_line(path: Path) -> str:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return text.strip() if text.endswith("\n") else ""


def test_checkin_is_spoken_and_answered_over_mqtt(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    spoken = tmp_path / "spoken.txt"
    tts = [sys.executable, "-c", f"open({str(spoken)!r}, 'a').write(input() + '\\n')"]
    recorder = Recorder(mosquitto.host, mosquitto.port)
    clock = FakeClock(T0)
    config = edge_config(tmp_path, mosquitto.url, kind="speaker", speaker={"tts_command": tts})
    adapter = SpeakerAdapter(config.speaker)
    agent = Agent(config, adapter, clock=clock)
    agent.start()
    topic = cmd_topic("r1", "dev1")
    try:
        wait_until(lambda: agent.link.connected)
        prompt = "어르신, 괜찮으세요? 괜찮으시면 '괜찮아'라고 말씀해 주세요."
        ask = CheckinCommand(
            v=1,
            id="cmd-1",
            ts=T0,
            type="checkin",
            prompt=prompt,
            expires_ts=T0 + timedelta(minutes=10),
        )
        publish(mosquitto.host, mosquitto.port, topic, to_json(ask))
        # The text-to-speech stand-in creates the file before it writes the line. A deadline,
        # not a pace: a Python child starting on a loaded 2-core runner took over 10 s once.
        wait_until(lambda: (agent.tick() or True) and _spoken_line(spoken), timeout=30)
        assert _spoken_line(spoken) == prompt

        clock.advance(timedelta(minutes=2))
        adapter.utterance("응 괜찮아", clock.now())
        wait_until(lambda: recorder.messages("checkin"))
        answer = recorder.messages("checkin")[0].payload
        assert (answer["request_id"], answer["answered"], answer["text"]) == (
            "cmd-1",
            True,
            "응 괜찮아",
        )

        unanswered = ask.model_copy(
            update={"id": "cmd-2", "expires_ts": clock.now() + timedelta(minutes=10)}
        )
        publish(mosquitto.host, mosquitto.port, topic, to_json(unanswered))
        wait_until(lambda: (agent.tick() or True) and agent.get_state("speaker.checkin"))
        clock.advance(timedelta(minutes=11))
        agent.tick()
        wait_until(lambda: len(recorder.messages("checkin")) == 2)
        silence = recorder.messages("checkin")[1].payload
        assert (silence["request_id"], silence["answered"]) == ("cmd-2", False)

        change = ConfigCommand(v=1, id="cmd-3", ts=clock.now(), type="config", heartbeat_s=600)
        publish(mosquitto.host, mosquitto.port, topic, to_json(change))
        wait_until(lambda: (agent.tick() or True) and agent.heartbeat_s == 600)
        assert agent.get_state("heartbeat_s") == "600"  # kept across restarts
        publish(mosquitto.host, mosquitto.port, topic, b"{not a command")
        agent.tick()
        assert agent.link.connected
    finally:
        agent.close(announce_offline=False)
        recorder.close()
