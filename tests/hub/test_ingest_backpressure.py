"""A bounded ingest queue: a QoS 0 flood is shed and counted, QoS 1 waits at the broker,
emergencies are never shed (they have a lane of their own).

The whole hub against a real Mosquitto and each database; the ingest worker is held inside an
operator's call, so nothing drains the queue until the test lets it go.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from hub.ingest_queue import URGENT_PER_DEVICE, IngestQueue
from hub.mqtt import Incoming
from hub.store.tables import alerts, events
from tests.hub.support import read_sms, wait_until

BOUND = 50
FLOOD = 2_000


def scraped(running: Any) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in running.http.get("/metrics").text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


class Held:
    """The ingest worker, kept busy in a call until :meth:`release`."""

    def __init__(self, running: Any) -> None:
        self._inside = threading.Event()
        self._gate = threading.Event()
        self._thread = threading.Thread(target=running.hub.call, args=(self._hold,), daemon=True)
        self._thread.start()
        assert self._inside.wait(10), "the worker did not take the call"

    def _hold(self, _now: Any) -> None:
        self._inside.set()
        self._gate.wait(14)  # below the call's own timeout of 15 s

    def release(self) -> None:
        self._gate.set()
        self._thread.join(10)


@pytest.fixture
def held_hub(start_hub: Any) -> Iterator[tuple[Any, Held]]:
    running = start_hub(ingest_queue=BOUND)
    running.resident("r1")
    held = Held(running)
    try:
        yield running, held
    finally:
        held.release()


def test_a_qos0_flood_is_shed_and_counted_while_qos1_and_emergencies_are_kept(
    held_hub: tuple[Any, Held],
) -> None:
    running, held = held_hub
    device = running.device("r1", "spk1")
    ts = device.ts()
    for index in range(FLOOD):
        body = {"v": 1, "id": f"flood-{index}", "ts": ts, "source": "motion"}
        device.client.publish("anbu/v1/r1/spk1/activity", json.dumps(body), qos=0)
    # All of the flood has reached the hub: what is not queued was shed.
    wait_until(
        lambda: sum(running.hub.worker.shed.values()) + running.hub.worker.backlog() >= FLOOD,
        timeout=20,
    )
    assert running.hub.worker.backlog() == BOUND
    assert running.hub.worker.shed == {"activity": FLOOD - BOUND}

    # An emergency sent with QoS 0 by a careless vendor: not shed, it has its own lane.
    emergency = {"v": 1, "id": "e-qos0", "ts": ts, "trigger": "button"}
    device.client.publish("anbu/v1/r1/spk1/emergency", json.dumps(emergency), qos=0)
    wait_until(lambda: running.hub.worker.backlog() == BOUND + 1, timeout=10)
    # QoS 1 finds the queue full: the bridge waits, reading nothing more; the broker keeps them.
    kept = [device.send("activity", wait=False, source="voice") for _ in range(20)]
    wait_until(lambda: running.hub.bridge.waits > 0, timeout=10)
    assert running.hub.worker.backlog() == BOUND + 1
    assert sum(running.hub.worker.shed.values()) == FLOOD - BOUND, "QoS 1 is never shed"

    held.release()
    running.taken(device, timeout=20)

    with running.hub.engine.connect() as conn:
        stored = set(conn.execute(select(events.c.event_id)).scalars())
        opened = list(conn.execute(select(alerts.c.kind)).scalars())
    assert set(kept) <= stored, "every QoS 1 message was stored once the worker drained"
    assert "e-qos0" in stored
    assert len({i for i in stored if i.startswith("flood-")}) == BOUND
    assert "emergency" in opened
    running.settle()
    assert "control_center" in {sms["role"] for sms in read_sms(running.sms_log)}
    metrics = scraped(running)
    assert metrics['anbu_ingest_shed_total{kind="activity"}'] == FLOOD - BOUND
    assert metrics['anbu_ingest_shed_total{kind="emergency"}'] == 0
    assert metrics["anbu_ingest_queue_max"] == BOUND
    assert metrics["anbu_mqtt_backpressure_waits_total"] > 0
    device.close()


def _message(topic: str, qos: int) -> Incoming:
    return Incoming(topic=topic, payload=b"{}", mid=1, qos=qos, retain=False, generation=1)


def test_the_queue_takes_calls_then_emergencies_then_the_rest() -> None:
    lanes: IngestQueue[str] = IngestQueue(2)
    first = _message("anbu/v1/r1/d/activity", 1)
    second = _message("anbu/v1/r1/d/heartbeat", 0)
    assert lanes.put_message(first)
    assert lanes.put_message(second)
    assert not lanes.put_message(_message("anbu/v1/r1/d/activity", 0)), "QoS 0 is shed"
    assert not lanes.put_message(_message("junk", 0))
    with pytest.raises(queue.Full):
        lanes.put_message(_message("anbu/v1/r1/d/activity", 1), timeout=0.01)
    alarm = _message("anbu/v1/r1/d/emergency", 0)
    assert lanes.put_message(alarm)
    lanes.put_control("call")

    assert [lanes.get(0.01) for _ in range(4)] == ["call", alarm, first, second]
    assert lanes.shed == {"activity": 1, "other": 1}
    with pytest.raises(queue.Empty):
        lanes.get_nowait()


def test_a_full_lane_takes_a_waiting_message_once_there_is_room() -> None:
    lanes: IngestQueue[str] = IngestQueue(1)
    lanes.put_message(_message("anbu/v1/r1/d/activity", 1))
    waiting = _message("anbu/v1/r1/d/activity", 1)
    taken = threading.Event()

    def offer() -> None:
        lanes.put_message(waiting, timeout=10)
        taken.set()

    threading.Thread(target=offer, daemon=True).start()
    assert not taken.wait(0.2), "no room: the offer waits"
    lanes.get(1)

    assert taken.wait(5)
    assert lanes.get(1) is waiting


def _numbered(topic: str, qos: int, n: int) -> Incoming:
    """Messages told apart by their payload (Incoming compares by value)."""
    return Incoming(topic=topic, payload=b"%d" % n, mid=1, qos=qos, retain=False, generation=1)


def test_a_device_flooding_its_emergency_topic_cannot_crowd_out_another_residents() -> None:
    """A broken or compromised device may publish thousands of emergencies on its own topic:
    another resident's call for help is taken next, not after them (they were one FIFO)."""
    lanes: IngestQueue[str] = IngestQueue(10_000)
    flood = [_numbered("anbu/v1/r1/bad/emergency", 0, n) for n in range(5 * URGENT_PER_DEVICE)]
    kept = sum(lanes.put_message(message) for message in flood)
    with pytest.raises(queue.Full):  # its QoS 1 ones wait at the broker instead
        lanes.put_message(_message("anbu/v1/r1/bad/emergency", 1), timeout=0.01)
    other = _numbered("anbu/v1/r2/spk/emergency", 1, -1)
    assert lanes.put_message(other, timeout=0.01), "another device's emergency finds room"

    taken = [lanes.get(0.01) for _ in range(3)]

    assert kept == URGENT_PER_DEVICE
    assert lanes.shed == {"emergency": 4 * URGENT_PER_DEVICE}
    assert taken[0] is flood[0] and taken[1] is other, "in turn, one device after another"
    assert taken[2] is flood[1]
    assert lanes.qsize() == URGENT_PER_DEVICE - 2


def test_emergencies_of_one_device_keep_their_order() -> None:
    lanes: IngestQueue[str] = IngestQueue(100)
    mine = [_numbered("anbu/v1/r1/spk/emergency", 1, n) for n in range(5)]
    theirs = [_numbered("anbu/v1/r2/btn/emergency", 1, n) for n in range(2)]
    for message in [*mine[:3], *theirs, *mine[3:]]:
        lanes.put_message(message)

    taken = [lanes.get(0.01) for _ in range(7)]

    assert [m for m in taken if m.topic == mine[0].topic] == mine
    assert [m for m in taken if m.topic == theirs[0].topic] == theirs
    assert taken[:4] == [mine[0], theirs[0], mine[1], theirs[1]]
