"""Store-and-forward against a real Mosquitto: a six-hour (virtual) outage loses nothing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts.clock import FakeClock
from edge.agent import Agent
from edge.speaker import SpeakerAdapter
from hub.broker import MosquittoBroker
from tests.edge.support import Recorder, Seen, edge_config, wait_until

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 09:00 in Seoul


def _ts(seen: Seen) -> datetime:
    return datetime.fromisoformat(seen.payload["ts"])


def test_six_hour_outage_replays_every_event_once_in_order(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    recorder = Recorder(mosquitto.host, mosquitto.port)
    clock = FakeClock(T0)
    config = edge_config(tmp_path, mosquitto.url, kind="speaker", device="spk1")
    adapter = SpeakerAdapter(config.speaker)
    agent = Agent(config, adapter, clock=clock)
    agent.start()
    try:
        wait_until(lambda: agent.link.connected)
        agent.tick()
        wait_until(lambda: recorder.messages("heartbeat"))
        mosquitto.stop()
        wait_until(lambda: not agent.link.connected)

        said: list[datetime] = []
        used: list[datetime] = []
        emergency_at = cancel_at = T0
        for step in range(1, 121):  # every 3 virtual minutes for 6 hours
            clock.advance(timedelta(minutes=3))
            adapter.utterance("아리아 오늘 날씨 어때", clock.now())
            said.append(clock.now())
            if step % 10 == 0:  # a burst: the radio, three button presses in 20 s
                for _ in range(3):
                    clock.advance(timedelta(seconds=5))
                    adapter.handle_feed({"type": "use"}, clock.now(), None)
                    used.append(clock.now())
            if step == 60:
                clock.advance(timedelta(seconds=30))
                adapter.utterance("아리아 살려줘", clock.now())
                emergency_at = clock.now()
                said.append(emergency_at)
                clock.advance(timedelta(seconds=40))
                adapter.utterance("아리아 괜찮아 취소해줘", clock.now())
                cancel_at = clock.now()
                said.append(cancel_at)
            agent.tick()
        clock.advance(timedelta(minutes=5))
        agent.tick()  # the last folding window closes
        queued = agent.outbox.depth()
        assert queued > 120
        order = [p.event_id for p in agent.outbox.take(10_000)]
        agent.outbox.release()  # only looked: the link sends them

        mosquitto.start()
        wait_until(lambda: agent.outbox.depth() == 0, timeout=40)
        wait_until(lambda: len(recorder.messages("activity")) >= queued - 2, timeout=10)
    finally:
        agent.stop()
        agent.close()
        recorder.close()

    events = [s for s in recorder.messages() if s.channel in {"activity", "emergency"}]
    ids = Counter(s.payload["id"] for s in events)
    assert max(ids.values()) == 1, "an event arrived twice"

    replay = [s for s in events if _ts(s) > T0]
    emergencies = [s for s in replay if s.channel == "emergency"]
    assert [_ts(s) for s in emergencies] == [emergency_at, cancel_at]
    assert emergencies[1].payload["cancel_of"] == emergencies[0].payload["id"]
    assert replay.index(emergencies[0]) == 0, "the call for help waited behind the backlog"

    assert [s.payload["id"] for s in replay] == order, "not replayed in queue order"
    activity = [s for s in replay if s.channel == "activity"]
    for source in ("voice", "speaker_use"):
        stamps = [_ts(s) for s in activity if s.payload["source"] == source]
        assert stamps == sorted(stamps), f"{source} activity replayed out of order"
    voice = [s for s in activity if s.payload["source"] == "voice"]
    radio = [s for s in activity if s.payload["source"] == "speaker_use"]
    assert sum(s.payload.get("count", 1) for s in voice) == len(said)
    assert sum(s.payload.get("count", 1) for s in radio) == len(used)
    assert _ts(voice[0]) == said[0], "original timestamps must be kept"
    assert any(s.payload.get("count", 1) > 1 for s in radio), "bursts should fold"

    outage_beats = [s for s in recorder.messages("heartbeat") if _ts(s) > T0]
    assert outage_beats == [] or all(_ts(s) > said[-1] for s in outage_beats)
