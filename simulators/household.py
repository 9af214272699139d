"""One simulated resident's devices as real MQTT clients, and a tiny scripted runner.

:class:`SimulatedHousehold` owns one paho-mqtt client per device. Each publishes protocol v1
messages (QoS 1) under its own ``anbu/v1/{resident}/{device}/…`` topics, keeps a retained
``status`` with ``offline`` as its Last Will, and listens on its ``cmd`` topic; speakers can
answer check-in commands by themselves (``answers_checkin=True``).

:func:`run_script` plays ``(delay_s, action)`` steps against a household on a thread that
can be stopped at any time, which is how ``anbu demo`` gives each resident a routine.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Literal, Self
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import TypeAdapter, ValidationError

from protocol import (
    Activity,
    ActivitySource,
    CheckinAnswer,
    CheckinCommand,
    Command,
    ConfigCommand,
    Emergency,
    EmergencyTrigger,
    Heartbeat,
    Status,
    cmd_topic,
    device_topic,
    to_json,
)
from protocol.topics import EventKind
from protocol.vocab import KST, DeviceKind

__all__ = [
    "KST",
    "DeviceKind",
    "ReceivedCommand",
    "ScriptRun",
    "SimulatedHousehold",
    "Step",
    "kst_now",
    "run_script",
]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
CHECKIN_ANSWER = "괜찮아"
_COMMANDS: TypeAdapter[CheckinCommand | ConfigCommand] = TypeAdapter(Command)


def kst_now() -> datetime:
    """The current time in Korea (UTC+09:00), the offset the simulated devices stamp."""
    return datetime.now(KST)


@dataclass(frozen=True, slots=True)
class ReceivedCommand:
    """A command the hub sent to one of the household's devices."""

    device: str
    command: CheckinCommand | ConfigCommand
    received_at: datetime


@dataclass
class _Device:
    """One device's MQTT client and its message id source."""

    id: str
    kind: DeviceKind
    client: mqtt.Client
    prefix: str
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    connected: threading.Event = field(default_factory=threading.Event)
    online_ts: datetime | None = None

    def next_id(self, letter: str) -> str:
        return f"{letter}-{self.prefix}-{next(self.counter)}"


class SimulatedHousehold:
    """A resident's devices (speaker, phone, sensors) publishing protocol v1 over MQTT.

    ``devices`` maps device id to kind, or lists device ids (all speakers). The first device
    is the default sender. Every publishing method returns the message ``id`` it used.
    ``now`` supplies timestamps (default: the wall clock in KST).
    """

    def __init__(
        self,
        resident: str,
        devices: Mapping[str, DeviceKind] | Sequence[str],
        broker_url: str,
        protocol: str = "5",
        *,
        answers_checkin: bool = False,
        checkin_text: str = CHECKIN_ANSWER,
        now: Callable[[], datetime] = kst_now,
        on_command: Callable[[ReceivedCommand], None] | None = None,
    ) -> None:
        kinds: dict[str, DeviceKind] = (
            dict(devices) if isinstance(devices, Mapping) else dict.fromkeys(devices, "speaker")
        )
        if not kinds:
            raise ValueError("a household needs at least one device")
        for device in kinds:
            device_topic(resident, device, "status")  # validates the identifiers early
        self.resident = resident
        self.answers_checkin = answers_checkin
        self.checkin_text = checkin_text
        self._now = now
        self._on_command = on_command
        self._v5 = protocol.startswith("5")
        self._url = urlsplit(broker_url)
        if self._url.scheme not in {"mqtt", "mqtts"} or not self._url.hostname:
            raise ValueError(f"broker_url must look like mqtt://host:port, got {broker_url!r}")
        self._lock = threading.Lock()
        self._pending: list[mqtt.MQTTMessageInfo] = []
        self.commands: list[ReceivedCommand] = []
        self._devices = {device: self._make_device(device, kind) for device, kind in kinds.items()}
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    @property
    def devices(self) -> list[str]:
        return list(self._devices)

    def start(self, timeout: float = CONNECT_TIMEOUT_S) -> Self:
        """Connect every device; returns once all are connected (raises TimeoutError if not)."""
        if self._started:
            return self
        self._started = True
        host = self._url.hostname or "127.0.0.1"
        port = self._url.port or (8883 if self._url.scheme == "mqtts" else 1883)
        for device in self._devices.values():
            properties = None
            if self._v5:
                properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                properties.SessionExpiryInterval = 0
            device.client.connect_async(
                host, port, keepalive=30, clean_start=True, properties=properties
            )
            device.client.loop_start()
        if not self.wait_connected(timeout):
            self.stop()
            raise TimeoutError(f"{self.resident}: devices did not connect to {host}:{port}")
        return self

    def wait_connected(self, timeout: float = CONNECT_TIMEOUT_S) -> bool:
        deadline = threading.Event()
        for _ in range(max(1, int(timeout * 20))):
            if all(d.connected.is_set() for d in self._devices.values()):
                return True
            deadline.wait(0.05)
        return all(d.connected.is_set() for d in self._devices.values())

    def stop(self, *, offline: bool = True, timeout: float = 2.0) -> None:
        """Disconnect every device, first publishing ``offline`` unless told not to."""
        if not self._started:
            return
        self._started = False
        for device in self._devices.values():
            if offline and device.connected.is_set():
                info = self._publish(device, "status", self._status_payload("offline"), True)
                _wait(info, timeout)
            device.client.disconnect()
            device.client.loop_stop()
            device.connected.clear()

    def lose_connection(self, device: str) -> None:
        """Drop ``device``'s connection abruptly, so the broker publishes its Last Will.

        The device stays down (no reconnect) until :meth:`start` is called on a new household.
        """
        link = self._device(device)
        if self._v5:
            link.client.disconnect(
                ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message")
            )
            link.client.loop_stop()
        else:
            link.client.loop_stop()
            sock = link.client.socket()
            if sock is not None:
                sock.close()
        link.connected.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every message published so far has been acknowledged by the broker."""
        with self._lock:
            pending, self._pending = self._pending, []
        return all(_wait(info, timeout) for info in pending)

    # ------------------------------------------------------------------ messages

    def activity(
        self, source: ActivitySource, device: str | None = None, *, count: int | None = None
    ) -> str:
        """The resident did something the device noticed (spoke, switched on the kettle…)."""
        link = self._device(device)
        message = Activity(v=1, id=link.next_id("a"), ts=self._now(), source=source, count=count)
        self._publish(link, "activity", to_json(message))
        return message.id

    def heartbeat(
        self,
        device: str | None = None,
        interval_s: int = 300,
        *,
        battery_pct: int | None = None,
        fw: str | None = "anbu-simulator",
    ) -> str:
        """The device is alive; the next heartbeat follows within ``interval_s``."""
        link = self._device(device)
        message = Heartbeat(
            v=1,
            id=link.next_id("h"),
            ts=self._now(),
            interval_s=interval_s,
            battery_pct=battery_pct,
            fw=fw,
        )
        self._publish(link, "heartbeat", to_json(message))
        return message.id

    def emergency(
        self,
        text: str | None = "아리아 살려줘",
        trigger: EmergencyTrigger = "voice",
        device: str | None = None,
    ) -> str:
        """The resident calls for help (or the device detected a fall)."""
        link = self._device(device)
        message = Emergency(v=1, id=link.next_id("e"), ts=self._now(), trigger=trigger, text=text)
        self._publish(link, "emergency", to_json(message))
        return message.id

    def cancel(
        self, event_id: str, device: str | None = None, trigger: EmergencyTrigger = "voice"
    ) -> str:
        """The resident takes back the emergency ``event_id``."""
        link = self._device(device)
        message = Emergency(
            v=1, id=link.next_id("e"), ts=self._now(), trigger=trigger, cancel_of=event_id
        )
        self._publish(link, "emergency", to_json(message))
        return message.id

    def checkin_answer(
        self,
        request_id: str,
        answered: bool,
        device: str | None = None,
        text: str | None = None,
    ) -> str:
        """Answer the check-in command ``request_id`` (``answered=False``: nobody answered)."""
        link = self._device(device)
        message = CheckinAnswer(
            v=1,
            id=link.next_id("c"),
            ts=self._now(),
            request_id=request_id,
            answered=answered,
            text=text if text is not None else (self.checkin_text if answered else None),
        )
        self._publish(link, "checkin", to_json(message))
        return message.id

    def status(self, device: str | None = None, online: bool = True) -> None:
        """Publish the device's retained presence."""
        link = self._device(device)
        self._publish(link, "status", self._status_payload("online" if online else "offline"), True)

    # ------------------------------------------------------------------ internals

    def _device(self, device: str | None) -> _Device:
        if device is None:
            return next(iter(self._devices.values()))
        try:
            return self._devices[device]
        except KeyError:
            raise KeyError(f"{self.resident} has no device {device!r}") from None

    def _status_payload(
        self, state: Literal["online", "offline"], ts: datetime | None = None
    ) -> bytes:
        return to_json(Status(state=state, ts=ts or self._now()))

    def _publish(
        self, link: _Device, kind: EventKind, payload: bytes, retain: bool = False
    ) -> mqtt.MQTTMessageInfo:
        info = link.client.publish(
            device_topic(self.resident, link.id, kind), payload, qos=1, retain=retain
        )
        with self._lock:
            self._pending = [p for p in self._pending if not p.is_published()]
            self._pending.append(info)
        return info

    def _make_device(self, device: str, kind: DeviceKind) -> _Device:
        prefix = secrets.token_hex(3)
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"sim-{self.resident}-{device}-{prefix}"[:64],
            protocol=mqtt.MQTTv5 if self._v5 else mqtt.MQTTv311,
            clean_session=None if self._v5 else True,
        )
        if self._url.username:
            client.username_pw_set(
                unquote(self._url.username),
                unquote(self._url.password) if self._url.password else None,
            )
        if self._url.scheme == "mqtts":
            client.tls_set()
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        link = _Device(id=device, kind=kind, client=client, prefix=prefix)
        client.on_pre_connect = lambda c, _u: self._arm_will(link)
        client.on_connect = lambda c, _u, _f, reason, _p: self._connected(link, reason)
        client.on_disconnect = lambda _c, _u, _f, _r, _p: link.connected.clear()
        client.on_message = lambda _c, _u, message: self._command(link, message)
        return link

    def _arm_will(self, link: _Device) -> None:
        # The Will's ts is fixed when connecting, yet the hub keeps only a status newer than
        # the last one it stored. So the ``online`` sent on connect carries a ts just before
        # the Will's: a later Will still counts as news.
        will_ts = self._now()
        link.online_ts = will_ts - timedelta(milliseconds=1)
        link.client.will_set(
            device_topic(self.resident, link.id, "status"),
            self._status_payload("offline", will_ts),
            qos=1,
            retain=True,
        )

    def _connected(self, link: _Device, reason: ReasonCode) -> None:
        if reason.is_failure:
            log.warning("%s/%s: connection refused: %s", self.resident, link.id, reason)
            return
        link.client.subscribe(cmd_topic(self.resident, link.id), qos=1)
        self._publish(link, "status", self._status_payload("online", link.online_ts), True)
        link.connected.set()

    def _command(self, link: _Device, message: mqtt.MQTTMessage) -> None:
        try:
            command = _COMMANDS.validate_json(message.payload)
        except ValidationError as error:
            log.warning("%s/%s: ignoring bad command: %s", self.resident, link.id, error)
            return
        received = ReceivedCommand(device=link.id, command=command, received_at=self._now())
        with self._lock:
            self.commands.append(received)
        if self._on_command is not None:
            self._on_command(received)
        if isinstance(command, CheckinCommand) and self.answers_checkin and link.kind == "speaker":
            self.checkin_answer(command.id, answered=True, device=link.id)


def _wait(info: mqtt.MQTTMessageInfo, timeout: float) -> bool:
    try:
        info.wait_for_publish(timeout)
    except (RuntimeError, ValueError):
        return False
    return info.is_published()


# ---------------------------------------------------------------------- scripts

Step = tuple[float, Callable[[SimulatedHousehold], object]]
"""Wait ``delay_s`` seconds after the previous step, then run ``action(household)``."""


class ScriptRun:
    """A script playing on its own thread; :meth:`stop` interrupts any wait at once."""

    def __init__(
        self, household: SimulatedHousehold, steps: Sequence[Step], *, repeat: bool, name: str
    ) -> None:
        self.household = household
        self._steps = list(steps)
        self._repeat = repeat
        self._stop = threading.Event()
        self.completed = 0
        self.errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the script to end; True if it has."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            for delay_s, action in self._steps:
                if self._stop.wait(max(0.0, delay_s)):
                    return
                try:
                    action(self.household)
                except Exception as error:
                    log.exception("script step failed for %s", self.household.resident)
                    self.errors.append(error)
                self.completed += 1
            if not self._repeat or not self._steps:
                return


def run_script(
    household: SimulatedHousehold, steps: Sequence[Step], *, repeat: bool = False
) -> ScriptRun:
    """Play ``steps`` against ``household`` on a daemon thread (looping if ``repeat``)."""
    return ScriptRun(household, steps, repeat=repeat, name=f"anbu-sim-{household.resident}").start()
