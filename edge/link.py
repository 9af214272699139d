"""The edge's connection to the hub's broker: presence, sending the outbox, receiving commands.

One thread owns the paho client and drives its network loop itself, so acknowledgements,
publishes and reconnects never race. Each connection gets a fresh client: the outbox, not
paho's in-memory queue, is what gets re-sent after a drop, so nothing is sent twice by two
mechanisms and nothing waits in a queue that a crash would lose.

Presence follows PROTOCOL.md: a retained ``online`` status on connect, and a retained
``offline`` Last Will with MQTT 5's Will Delay Interval. The session outlives the delay, so
when the device is back before it ends (a Wi-Fi hiccup, a reboot) the broker never says
``offline`` at all.
"""

from __future__ import annotations

import random
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from alerts.clock import Clock
from edge.outbox import Outbox
from protocol.models import Status, to_json
from protocol.topics import cmd_topic, device_topic

log = structlog.get_logger(__name__)

_SESSION_EXPIRY_S = 86_400  # keeps queued commands, and must outlast the will delay
_LOOP_BUSY_S = 0.01
_LOOP_IDLE_S = 0.2
_CONNACK_WAIT_S = 10.0
_STOP_FLUSH_S = 2.0
_REFUSED_PAUSE_S = 30.0


@dataclass
class LinkStats:
    """Counters for logs and the bench."""

    connects: int = 0
    published: int = 0
    acked: int = 0
    refused: int = 0


@dataclass
class _Session:
    """What one connection knows: its client and the messages it has in flight."""

    client: mqtt.Client
    connected: threading.Event = field(default_factory=threading.Event)
    refused: ReasonCode | None = None
    closed: bool = False
    inflight: dict[int, str] = field(default_factory=dict)
    acks: list[tuple[int, bool]] = field(default_factory=list)


class MqttLink:
    """Keeps a device connected to the hub's broker and drains its outbox."""

    def __init__(
        self,
        *,
        url: str,
        resident: str,
        device: str,
        outbox: Outbox,
        clock: Clock,
        on_command: Callable[[bytes], None],
        will_delay_s: int = 120,
        keepalive_s: int = 30,
        inflight: int = 50,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 15.0,
    ) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._tls = parts.scheme == "mqtts"
        self._port = parts.port or (8883 if self._tls else 1883)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        # mqtts://…?cafile=/etc/anbu/anbu-ca.crt: the district's own CA (the config the hub
        # provisions says so); without it the system's CAs.
        self._ca_file = parse_qs(parts.query).get("cafile", [None])[-1]
        self.resident = resident
        self.device = device
        self.client_id = f"{resident}.{device}"
        self._status_topic = device_topic(resident, device, "status")
        self._cmd_topic = cmd_topic(resident, device)
        self._outbox = outbox
        self._clock = clock
        self._on_command = on_command
        self._will_delay_s = will_delay_s
        self._keepalive_s = keepalive_s
        self._window = inflight
        self._reconnect = (reconnect_min_s, reconnect_max_s)
        self._live: deque[tuple[str, bytes, bool]] = deque(maxlen=100)
        self._presence = "online"
        self._presence_dirty = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._with_will = True
        self._thread: threading.Thread | None = None
        self._session: _Session | None = None
        self._paused_until = 0.0
        self.stats = LinkStats()

    # -- control, from any thread -------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; reconnects with backoff until :meth:`stop`."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="anbu-edge-link", daemon=True)
        self._thread.start()

    def stop(self, *, announce_offline: bool = True, timeout: float = 5.0) -> None:
        """Disconnect. ``announce_offline`` keeps the (delayed) will, so if the device does
        not come back within the will delay the hub learns it is offline."""
        self._with_will = announce_offline
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def connected(self) -> bool:
        """Whether a connection is up and accepted right now."""
        session = self._session
        return session is not None and session.connected.is_set() and not session.closed

    def send_live(self, channel: Literal["heartbeat"], payload: bytes) -> bool:
        """Publish a message that is only worth sending now (a heartbeat); not stored.

        False when not connected: a heartbeat from an hour ago tells the hub nothing.
        """
        if not self.connected:
            return False
        self._live.append((device_topic(self.resident, self.device, channel), payload, False))
        return True

    def set_presence(self, state: str) -> None:
        """Set the retained status (``online``/``offline``) now and on every reconnect."""
        with self._lock:
            self._presence = state
            self._presence_dirty = True

    # -- the link thread ----------------------------------------------------------------

    def _run(self) -> None:
        delay = self._reconnect[0]
        while not self._stop.is_set():
            session = self._connect()
            if session is None:
                self._stop.wait(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter only
                delay = min(delay * 2, self._reconnect[1])
                continue
            delay = self._reconnect[0]
            try:
                self._pump(session)
            finally:
                self._close(session)

    def _make_client(self, session_box: list[_Session]) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5
        )
        if self._username is not None:
            client.username_pw_set(self._username, self._password)
        if self._tls:
            client.tls_set(ca_certs=self._ca_file, cert_reqs=ssl.CERT_REQUIRED)
        will = Properties(PacketTypes.WILLMESSAGE)  # type: ignore[no-untyped-call]
        will.WillDelayInterval = self._will_delay_s
        offline = to_json(Status(state="offline", ts=self._clock.now()))
        client.will_set(self._status_topic, offline, qos=1, retain=True, properties=will)
        client.max_inflight_messages_set(self._window)

        def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
            if rc.is_failure:
                session_box[0].refused = rc
            session_box[0].connected.set()

        def on_disconnect(
            _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object
        ) -> None:
            session_box[0].closed = True
            if not self._stop.is_set():
                log.warning("disconnected from broker", reason=str(rc))

        def on_publish(_c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: object) -> None:
            session_box[0].acks.append((mid, not rc.is_failure))

        def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
            try:
                self._on_command(bytes(message.payload))
            except Exception:
                log.exception("command handler failed")

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        client.on_message = on_message
        return client

    def _connect(self) -> _Session | None:
        box: list[_Session] = []
        client = self._make_client(box)
        session = _Session(client)
        box.append(session)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = _SESSION_EXPIRY_S
        try:
            client.connect(
                self._host,
                self._port,
                keepalive=self._keepalive_s,
                clean_start=False,
                properties=props,
            )
        except (OSError, ssl.SSLError) as exc:
            log.info("broker unreachable", error=str(exc))
            return None
        waited = 0.0
        while not session.connected.is_set() and not session.closed:
            if waited > _CONNACK_WAIT_S or self._stop.is_set():
                break
            client.loop(timeout=0.1)
            waited += 0.1
        if session.refused is not None:
            log.error("broker refused the connection", reason=str(session.refused))
        if not session.connected.is_set() or session.refused is not None or session.closed:
            self._close(session)
            return None
        self.stats.connects += 1
        self._session = session
        client.subscribe(self._cmd_topic, qos=1)
        with self._lock:
            self._presence_dirty = True
        log.info("connected to broker", queued=self._outbox.depth())
        return session

    def _pump(self, session: _Session) -> None:
        client = session.client
        while not session.closed:
            if self._stop.is_set():
                self._finish(session)
                return
            self._publish_presence(session)
            while self._live:
                topic, payload, retain = self._live.popleft()
                client.publish(topic, payload, qos=1, retain=retain)
            room = self._window - len(session.inflight)
            if time.monotonic() < self._paused_until:
                room = 0
            batch = self._outbox.take(room)
            for index, pending in enumerate(batch):
                topic = device_topic(self.resident, self.device, pending.channel)
                info = client.publish(topic, pending.payload, qos=1)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    self._outbox.release(p.event_id for p in batch[index:])
                    break
                session.inflight[info.mid] = pending.event_id
                self.stats.published += 1
            busy = bool(session.inflight) or self._outbox_has_more(session)
            rc = client.loop(timeout=_LOOP_BUSY_S if busy else _LOOP_IDLE_S)
            self._settle_acks(session)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                session.closed = True  # the connection is gone even if no callback said so

    def _outbox_has_more(self, session: _Session) -> bool:
        # Only worth a busy loop if the window is full; otherwise take() just returned all.
        return len(session.inflight) >= self._window

    def _publish_presence(self, session: _Session) -> None:
        with self._lock:
            if not self._presence_dirty:
                return
            self._presence_dirty = False
            state = self._presence
        status = Status(state="online" if state == "online" else "offline", ts=self._clock.now())
        session.client.publish(self._status_topic, to_json(status), qos=1, retain=True)

    def _settle_acks(self, session: _Session) -> None:
        if not session.acks:
            return
        acks, session.acks = session.acks, []
        done: list[str] = []
        refused: list[str] = []
        for mid, ok in acks:
            event_id = session.inflight.pop(mid, None)
            if event_id is None:
                continue  # a heartbeat or status
            (done if ok else refused).append(event_id)
        if done:
            self._outbox.ack(done)
            self.stats.acked += len(done)
        if refused:
            # The broker said no (ACL, quota). Keep the events; they go again on the next
            # connection, and the error is in the log for whoever configures the device.
            self.stats.refused += len(refused)
            self._outbox.release(refused)
            self._paused_until = time.monotonic() + _REFUSED_PAUSE_S
            log.error("broker refused events", count=len(refused))

    def _finish(self, session: _Session) -> None:
        """Graceful stop: wait briefly for outstanding acks, then say goodbye."""
        client = session.client
        waited = 0.0
        while session.inflight and not session.closed and waited < _STOP_FLUSH_S:
            client.loop(timeout=0.05)
            waited += 0.05
            self._settle_acks(session)
        reason = ReasonCode(
            PacketTypes.DISCONNECT,
            "Disconnect with will message" if self._with_will else "Normal disconnection",
        )
        client.disconnect(reasoncode=reason)
        for _ in range(5):
            client.loop(timeout=0.02)

    def _close(self, session: _Session) -> None:
        self._settle_acks(session)
        session.closed = True
        self._session = None
        self._outbox.release()
        # Close the socket without DISCONNECT: to the broker this is a dropped connection,
        # so the delayed will stands unless the device comes back in time.
        sock = session.client.socket()
        if sock is not None:
            sock.close()
