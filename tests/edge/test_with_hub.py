"""A real speaker agent and a real hub on one broker: check-in, an outage, a call for help.

The hub sends its check-in over MQTT; the agent speaks it (a text-to-speech stand-in that
writes a file) and the resident's next words answer it. Then the broker goes down while the
resident talks and calls for help; once it is back, the hub has every event exactly once,
in the outbox's order, and pages the emergency once.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from alerts.clock import FakeClock
from edge.agent import Agent
from edge.speaker import SpeakerAdapter
from hub.broker import MosquittoBroker
from hub.store.tables import events
from tests.edge.support import edge_config, wait_until
from tests.hub.conftest import start_hub  # noqa: F401 - the fixture
from tests.hub.support import DEFAULT_TEST_START, KST, OffsetClock, read_sms

POLICY = {"checkin_after": "PT2S", "guardian_after": "PT60S", "control_center_after": "PT120S"}
# Outside working hours, so the official's page waits for the digest and only the centre and
# the guardian are texted at once; hub and agent share this clock.
SATURDAY_NIGHT = datetime(2026, 11, 28, 23, 0, tzinfo=KST)


def _stored(running: Any) -> list[tuple[str, str]]:
    with running.hub.engine.connect() as conn:
        rows = conn.execute(
            select(events.c.kind, events.c.event_id)
            .where(events.c.device_id == "spk1")
            .order_by(events.c.received_at)
        ).all()
    return [(row.kind, row.event_id) for row in rows]


def _kinds(running: Any) -> set[tuple[str, str]]:
    """(kind, device) of every event the hub has stored."""
    with running.hub.engine.connect() as conn:
        rows = conn.execute(select(events.c.kind, events.c.device_id)).all()
    return {(row.kind, row.device_id) for row in rows}


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def test_speaker_agent_with_the_hub(
    start_hub: Any,  # noqa: F811 - pytest fixture
    mosquitto: MosquittoBroker,
    tmp_path: Path,
) -> None:
    running = start_hub(clock=OffsetClock(SATURDAY_NIGHT))
    running.resident("r1", devices={"spk1": "speaker"}, policy=POLICY)
    spoken = tmp_path / "spoken.txt"
    tts = [sys.executable, "-c", f"open({str(spoken)!r}, 'a').write(input() + '\\n')"]
    config = edge_config(
        tmp_path,
        mosquitto.url,
        kind="speaker",
        device="spk1",
        fold_s=0.5,
        speaker={"tts_command": tts},
    )
    adapter = SpeakerAdapter(config.speaker)
    agent = Agent(config, adapter, clock=running.clock)
    agent.start()
    try:
        # The text-to-speech stand-in creates the file before it writes the line.
        wait_until(lambda: (agent.tick() or True) and "괜찮으세요" in _read(spoken), timeout=10)
        adapter.utterance("응 나 괜찮아", agent.now())
        agent.tick()
        wait_until(lambda: ("checkin",) in {(k,) for k, _ in _stored(running)}, timeout=5)

        mosquitto.stop()
        wait_until(lambda: not agent.link.connected)
        for n in range(20):
            adapter.utterance(f"라디오 {n}번 틀어줘", agent.now())
        adapter.utterance("아리아 살려줘", agent.now())
        # The folding window (0.5 s, on the shared clock) closes: ticked until it has.
        wait_until(lambda: (agent.tick(), agent.outbox.next_fold_due() is None)[1], timeout=5)
        backlog = agent.outbox.take(1000)
        agent.outbox.release()
        order = [p.event_id for p in backlog]
        folded = [json.loads(p.payload) for p in backlog if p.channel == "activity"]
        assert sum(a.get("count", 1) for a in folded) == 21

        mosquitto.start()
        wait_until(lambda: agent.outbox.depth() == 0, timeout=30)
        wait_until(lambda: {e for _, e in _stored(running)} >= set(order), timeout=10)
        wait_until(
            lambda: (
                {"control_center", "guardian"}
                <= {
                    line["role"]
                    for line in read_sms(running.sms_log)
                    if line["kind"] == "emergency"
                }
            ),
            timeout=5,
        )
    finally:
        agent.close(announce_offline=False)

    stored = _stored(running)
    assert max(Counter(e for _, e in stored).values()) == 1
    replayed = [e for _, e in stored if e in set(order)]
    assert replayed == order, "the hub stored the backlog out of order"
    pages = [line for line in read_sms(running.sms_log) if line["kind"] == "emergency"]
    assert Counter(line["role"] for line in pages) == {"control_center": 1, "guardian": 1}
    assert all("살려" not in line["body"] for line in pages), "the SMS repeated the words"


def test_a_phone_app_put_to_sleep_is_a_device_problem_at_the_hub(
    start_hub: Any,  # noqa: F811 - pytest fixture
    mosquitto: MosquittoBroker,
    tmp_path: Path,
) -> None:
    from edge.phone import PhoneAdapter

    # Hub and agent share a FakeClock, stepped past the app's alive timeout (5 s) and the
    # hub's monitoring_lost_after (3 s); the broker, the status and the SMS are real. Both
    # rules are covered on their own in virtual time (tests/edge/test_phone.py,
    # tests/alerts/test_alert_devices.py).
    clock = FakeClock(DEFAULT_TEST_START)
    running = start_hub(clock=clock)
    running.resident(
        "r2",
        devices={"ph1": "phone"},
        policy={
            "checkin_after": "PT30S",
            "guardian_after": "PT60S",
            "control_center_after": "PT120S",
            "monitoring_lost_after": "PT3S",
        },
    )
    config = edge_config(
        tmp_path,
        mosquitto.url,
        resident="r2",
        kind="phone",
        device="ph1",
        phone={"alive_timeout_s": 5},
    )
    adapter = PhoneAdapter(config.phone)
    agent = Agent(config, adapter, clock=running.clock)
    agent.start()
    stop = threading.Event()
    # Ticks the agent as its own loop would, every 0.2 s: pacing, not a wait for a result.
    ticker = threading.Thread(
        target=lambda: [agent.tick() for _ in iter(lambda: stop.wait(0.2), True)]
    )
    ticker.start()
    try:
        # The agent's "online" and the resident's unlock are in before the clock moves, as
        # they would be in the 5 s of real time this skips: a status at the same instant as
        # the "offline" below would not be newer than it, and an activity arriving after
        # the "offline" shows the device alive again.
        wait_until(lambda: ("status", "ph1") in _kinds(running), timeout=10)
        adapter.handle_feed({"type": "screen_unlock"}, agent.now(), None)
        wait_until(lambda: ("activity", "ph1") in _kinds(running), timeout=10)
        clock.advance(timedelta(seconds=6))  # no alive ping for longer than alive_timeout_s
        wait_until(
            lambda: not running.http.get("/api/v1/residents/r2").json()["devices"][0]["online"],
            timeout=10,
        )
        running.run_until(clock.now() + timedelta(seconds=4))
        wait_until(
            lambda: any(line["kind"] == "monitoring_lost" for line in read_sms(running.sms_log)),
            timeout=20,
        )
        device = running.http.get("/api/v1/residents/r2").json()["devices"][0]
        assert device["online"] is False
        adapter.handle_feed({"type": "alive"}, agent.now(), None)
        wait_until(
            lambda: running.http.get("/api/v1/residents/r2").json()["devices"][0]["online"],
            timeout=10,
        )
    finally:
        stop.set()
        ticker.join()
        agent.close(announce_offline=False)
    kinds = {line["kind"] for line in read_sms(running.sms_log)}
    assert "inactivity" not in kinds
