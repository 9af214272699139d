"""SimulatedHousehold against a real Mosquitto: what it publishes parses as protocol v1."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.broker import MosquittoBroker
from protocol import (
    Activity,
    CheckinAnswer,
    CheckinCommand,
    ConfigCommand,
    Emergency,
    Event,
    Heartbeat,
    Status,
    cmd_topic,
    parse,
    to_json,
)
from simulators.household import KST, SimulatedHousehold, kst_now, run_script

TIMEOUT_S = 5.0


class Recorder:
    """A paho client subscribed to every anbu topic, queueing what it receives."""

    def __init__(self, broker: MosquittoBroker, topic: str = "anbu/v1/#") -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.skipped: list[mqtt.MQTTMessage] = []
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"rec-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        subscribed = threading.Event()
        self.client.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.on_connect = lambda c, *_args: c.subscribe(topic, qos=1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert subscribed.wait(TIMEOUT_S), "recorder did not subscribe"

    def next(self, kind: str | None = None, timeout: float = TIMEOUT_S) -> mqtt.MQTTMessage:
        """The oldest message not yet taken (on a topic ending in ``kind``, if given).

        Messages of other kinds are kept for later calls: devices are separate connections,
        so their messages may interleave in any order.
        """

        def wanted(message: mqtt.MQTTMessage) -> bool:
            return kind is None or message.topic.endswith("/" + kind)

        for i, message in enumerate(self.skipped):
            if wanted(message):
                return self.skipped.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            if wanted(message):
                return message
            self.skipped.append(message)

    def event(self, kind: str) -> Event:
        message = self.next(kind)
        parsed = parse(message.topic, bytes(message.payload), now=kst_now())
        assert isinstance(parsed, Event), parsed
        return parsed

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(TIMEOUT_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def recorder(mosquitto: MosquittoBroker) -> Iterator[Recorder]:
    rec = Recorder(mosquitto)
    yield rec
    rec.close()


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_every_message_kind_parses(
    mosquitto: MosquittoBroker, recorder: Recorder, protocol: str
) -> None:
    devices = {"spk1": "speaker", "phone1": "phone"}
    with SimulatedHousehold("r-kim", devices, mosquitto.url, protocol) as home:  # type: ignore[arg-type]
        online = [recorder.event("status") for _ in devices]
        assert {e.device for e in online} == set(devices)
        assert all(isinstance(e.message, Status) and e.message.state == "online" for e in online)

        ids = [
            home.activity("voice"),
            home.activity("screen", "phone1", count=3),
            home.heartbeat("spk1", 60, battery_pct=90),
            home.emergency(),
            home.checkin_answer("cmd-1", answered=False),
        ]
        ids.append(home.cancel(ids[3]))
        assert home.flush(TIMEOUT_S)
        assert len(set(ids)) == len(ids)

        # Devices are separate connections: order is kept per device only.
        by_device = {e.device: e for e in (recorder.event("activity") for _ in range(2))}
        first = by_device["spk1"]
        assert (first.resident, first.kind) == ("r-kim", "activity")
        assert isinstance(first.message, Activity) and first.message.source == "voice"
        assert first.message.ts.utcoffset() == timedelta(hours=9)
        assert first.message.id == ids[0]

        phone = by_device["phone1"]
        assert isinstance(phone.message, Activity) and phone.message.count == 3

        beat = recorder.event("heartbeat")
        assert isinstance(beat.message, Heartbeat)
        assert (beat.message.interval_s, beat.message.battery_pct) == (60, 90)

        help_call = recorder.event("emergency")
        assert isinstance(help_call.message, Emergency)
        assert (help_call.message.trigger, help_call.message.text) == ("voice", "아리아 살려줘")
        assert help_call.message.cancel_of is None

        answer = recorder.event("checkin")
        assert isinstance(answer.message, CheckinAnswer)
        assert (answer.message.request_id, answer.message.answered) == ("cmd-1", False)

        cancel = recorder.event("emergency")
        assert isinstance(cancel.message, Emergency)
        assert cancel.message.cancel_of == ids[3]

        home.status("phone1", online=False)
        offline = recorder.event("status")
        assert offline.device == "phone1"
        assert isinstance(offline.message, Status) and offline.message.state == "offline"

    # Leaving the context publishes offline for the devices still connected.
    assert recorder.event("status").message.state == "offline"  # type: ignore[union-attr]


def test_raw_payload_is_compact_korean_json(mosquitto: MosquittoBroker, recorder: Recorder) -> None:
    with SimulatedHousehold("r1", ["spk"], mosquitto.url) as home:
        home.emergency("살려줘", trigger="button")
        message = recorder.next("emergency")
    assert message.topic == "anbu/v1/r1/spk/emergency"
    assert message.qos == 1
    text = bytes(message.payload).decode()
    assert '"text":"살려줘"' in text
    assert '"trigger":"button"' in text
    assert "+09:00" in text


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_speaker_answers_checkin_and_phone_does_not(
    mosquitto: MosquittoBroker, recorder: Recorder, protocol: str
) -> None:
    devices = {"spk1": "speaker", "phone1": "phone"}
    home = SimulatedHousehold(
        "r-park",
        devices,  # type: ignore[arg-type]
        mosquitto.url,
        protocol,
        answers_checkin=True,
    )
    with home:
        now = kst_now()
        for device in devices:
            command = CheckinCommand(
                v=1,
                id=f"cmd-{device}",
                ts=now,
                type="checkin",
                prompt="어르신, 괜찮으세요?",
                expires_ts=now + timedelta(minutes=5),
            )
            recorder.publish(cmd_topic("r-park", device), to_json(command))
        config = ConfigCommand(v=1, id="cmd-cfg", ts=now, type="config", heartbeat_s=30)
        recorder.publish(cmd_topic("r-park", "spk1"), to_json(config))
        recorder.publish(cmd_topic("r-park", "spk1"), b"not json")

        answer = recorder.event("checkin")
        assert answer.device == "spk1"
        assert isinstance(answer.message, CheckinAnswer)
        assert answer.message.request_id == "cmd-spk1"
        assert answer.message.answered is True
        assert answer.message.text == "괜찮아"

        deadline = time.monotonic() + TIMEOUT_S
        while len(home.commands) < 3:
            assert time.monotonic() < deadline, home.commands
            time.sleep(0.02)
        received = sorted((c.device, c.command.id) for c in home.commands)
        assert received == [("phone1", "cmd-phone1"), ("spk1", "cmd-cfg"), ("spk1", "cmd-spk1")]
        # Decide "nobody else answered" without waiting: one more command to each device
        # (a device handles its commands one after another, so its check-in is dealt with by
        # the time the next is in), then a message from each, which arrives behind anything
        # the device answered on the same connection.
        for device in devices:
            later = ConfigCommand(
                v=1, id=f"cmd-later-{device}", ts=now, type="config", heartbeat_s=30
            )
            recorder.publish(cmd_topic("r-park", device), to_json(later))
        deadline = time.monotonic() + TIMEOUT_S
        while len(home.commands) < 5:
            assert time.monotonic() < deadline, home.commands
            time.sleep(0.02)
        markers = {device: home.activity("voice", device) for device in devices}
        arrived = {recorder.event("activity").message.id for _ in devices}  # type: ignore[union-attr]
        assert arrived == set(markers.values())
        with pytest.raises(queue.Empty):
            recorder.next("checkin", timeout=0)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_lost_connection_publishes_retained_offline_will(
    mosquitto: MosquittoBroker, recorder: Recorder, protocol: str
) -> None:
    with SimulatedHousehold("r-lee", ["spk1", "spk2"], mosquitto.url, protocol) as home:
        online = {e.device: e.message for e in (recorder.event("status") for _ in range(2))}
        home.lose_connection("spk2")
        will = recorder.event("status")
        assert will.device == "spk2"
        assert isinstance(will.message, Status) and will.message.state == "offline"
        # The hub keeps only a status newer than the last: the Will must be newer than online.
        assert will.message.ts > online["spk2"].ts

    late = Recorder(mosquitto, "anbu/v1/r-lee/spk2/status")
    try:
        retained = late.next("status")
        assert retained.retain
        parsed = parse(retained.topic, bytes(retained.payload))
        assert isinstance(parsed, Event) and parsed.message.state == "offline"  # type: ignore[union-attr]
    finally:
        late.close()


def test_ids_unique_across_households_of_same_resident(mosquitto: MosquittoBroker) -> None:
    first = SimulatedHousehold("r1", ["spk"], mosquitto.url)
    second = SimulatedHousehold("r1", ["spk"], mosquitto.url)
    with first, second:
        ids = {first.activity("voice"), second.activity("voice")}
    assert len(ids) == 2


def test_bad_identifiers_and_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="resident"):
        SimulatedHousehold("r 1", ["spk"], "mqtt://127.0.0.1:1883")
    with pytest.raises(ValueError, match="broker_url"):
        SimulatedHousehold("r1", ["spk"], "http://127.0.0.1:1883")
    with pytest.raises(ValueError, match="device"):
        SimulatedHousehold("r1", [], "mqtt://127.0.0.1:1883")


def test_timestamps_are_kst() -> None:
    assert kst_now().utcoffset() == timedelta(hours=9)
    assert kst_now().tzinfo is KST


def test_script_runs_steps_in_order_and_stops_promptly(
    mosquitto: MosquittoBroker, recorder: Recorder
) -> None:
    with SimulatedHousehold("r-script", ["spk"], mosquitto.url) as home:
        run = run_script(
            home,
            [
                (0.0, lambda h: h.activity("voice")),
                (0.1, lambda h: h.activity("power")),
                (0.1, lambda h: h.emergency()),
                (60.0, lambda h: h.activity("door")),
            ],
        )
        sources = [recorder.event("activity").message.source for _ in range(2)]  # type: ignore[union-attr]
        assert sources == ["voice", "power"]
        assert recorder.event("emergency").kind == "emergency"
        started = time.monotonic()
        run.stop()
        assert time.monotonic() - started < 2.0
        assert not run.running
        assert run.completed == 3
        assert run.errors == []


def test_repeating_script_loops_and_records_errors(mosquitto: MosquittoBroker) -> None:
    calls: list[int] = []

    def boom(_h: SimulatedHousehold) -> None:
        calls.append(1)
        raise RuntimeError("step failed")

    with SimulatedHousehold("r-loop", ["spk"], mosquitto.url) as home:
        run = run_script(home, [(0.01, boom)], repeat=True)
        deadline = time.monotonic() + TIMEOUT_S
        while len(calls) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        run.stop()
    assert run.completed >= 3
    assert all(isinstance(e, RuntimeError) for e in run.errors)
