"""The paho-mqtt bridge: a persistent-session subscriber that acknowledges only on request.

The hub hands every received message to ``on_message`` and calls :meth:`MqttBridge.ack`
once the message's effect is committed, so a crash before the commit leaves the message
unacknowledged and the broker delivers it again.

Backpressure: QoS 1 messages are bounded by the broker's flow control, because nothing is
acknowledged before it is stored (MQTT 5 Receive Maximum, :data:`RECEIVE_MAXIMUM`; Mosquitto's
``max_inflight_messages`` for 3.1.1). Should ``on_message`` still find no room (it raises
:class:`queue.Full`), the network thread waits and offers the message again: it reads nothing
more meanwhile, so the broker keeps what follows in the hub's session. Acknowledgements and
pings wait too; past the keepalive the broker drops the connection and, the session being
persistent, delivers everything unacknowledged again on the next one.

What the broker drops is made visible: a broker keeps at most ``max_queued_messages`` for a
client that is away (deploy/mosquitto/anbu.conf), and drops the rest without telling the
client. The bridge follows Mosquitto's own count (:data:`BROKER_DROPPED_TOPIC`, published
every ``sys_interval``), warns when it grows and hands it to ``/health`` and ``/metrics``;
a broker that publishes no ``$SYS`` tree (or an ACL that refuses it) leaves it unknown.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from protocol.topics import SUBSCRIPTION

log = structlog.get_logger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600
# How many unacknowledged messages the broker may have in flight to us; the ingest worker
# commits them in batches, so this bounds the batch size.
RECEIVE_MAXIMUM = 1000
BROKER_DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
"""Mosquitto's count of messages it dropped (a queue over its bound) since it started."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One received message, with what is needed to acknowledge it later."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    generation: int
    received_at: datetime | None = None
    """When the broker delivered it, if not now: a recorded trace replayed in virtual time."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class MqttBridge:
    """Subscribes to every device topic with QoS 1 and a session that outlives restarts."""

    def __init__(
        self,
        url: str,
        client_id: str,
        on_message: Callable[[Incoming], None],
        *,
        protocol: str = "5",
        subscription: str = SUBSCRIPTION,
        ca_file: str | None = None,
    ) -> None:
        self._address = BrokerAddress.parse(url)
        self._on_message = on_message
        self._subscription = subscription
        self._v5 = protocol == "5"
        self._generation = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.connected = threading.Event()
        self.waits = 0
        """How often a message found the ingest queue full and the network thread waited."""
        self.broker_dropped: int | None = None
        """The broker's count of messages it dropped since it started; None: not told."""
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if self._v5 else mqtt.MQTTv311,
            clean_session=None if self._v5 else False,
            manual_ack=True,
        )
        if self._address.username:
            self._client.username_pw_set(self._address.username, self._address.password)
        if self._address.tls:
            # ca_file: a district's own CA (ANBU_MQTT_CA_FILE); None = the system's CAs.
            self._client.tls_set(ca_certs=ca_file)
        self._client.max_inflight_messages_set(1000)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message

    def start(self) -> None:
        self._stopping.clear()
        properties = None
        if self._v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
            properties.ReceiveMaximum = RECEIVE_MAXIMUM
        self._client.connect_async(
            self._address.host,
            self._address.port,
            keepalive=30,
            clean_start=False if self._v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
        )
        self._client.loop_start()

    def stop(self) -> None:
        # First, so a network thread waiting for room in the ingest queue lets go.
        self._stopping.set()
        self._client.disconnect()
        self._client.loop_stop()

    def _broker_dropped(self, payload: bytes) -> None:
        try:
            count = int(payload.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            return
        before = self.broker_dropped
        self.broker_dropped = count
        grew = count - (before if before is not None and before <= count else 0)
        if grew > 0:
            log.warning(
                "mqtt.broker_dropped",
                dropped=grew,
                since_broker_start=count,
                hint=(
                    "브로커가 메시지를 버렸습니다 (대기열 초과): max_queued_messages 를 늘리세요 "
                    "/ the broker dropped messages (a queue over max_queued_messages)"
                ),
            )

    def ack(self, message: Incoming) -> None:
        """Acknowledge ``message`` if it came on the current connection.

        A message id is only meaningful on the connection it arrived on; after a reconnect
        the broker resends what we did not acknowledge, and the dedup by ``(device, id)``
        absorbs the repeat.
        """
        if message.qos == 0:
            return
        with self._lock:
            if message.generation != self._generation:
                return
        self._client.ack(message.mid, message.qos)

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> mqtt.MQTTMessageInfo:
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    def _handle_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("mqtt.connect_refused", reason=str(reason))
            return
        with self._lock:
            self._generation += 1
        # Subscribing again on every connect is harmless with a persistent session and
        # repairs a session the broker dropped.
        if self._v5:
            # Retained statuses only on a new subscription, not on every reconnect; and not
            # the hub's own commands back (noLocal), which would look like a device
            # publishing on a hub topic.
            options = SubscribeOptions(
                qos=1, noLocal=True, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB
            )
            client.subscribe(self._subscription, options=options)
        else:
            client.subscribe(self._subscription, qos=1)
        client.subscribe(BROKER_DROPPED_TOPIC, qos=0)
        self.connected.set()
        log.info("mqtt.connected", host=self._address.host, port=self._address.port)

    def _handle_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self.connected.clear()
        if reason.is_failure:
            log.warning("mqtt.disconnected", reason=str(reason))
        else:
            log.info("mqtt.disconnected", reason=str(reason))

    def _handle_message(
        self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        with self._lock:
            generation = self._generation
        try:
            topic = message.topic
            if topic == BROKER_DROPPED_TOPIC:
                self._broker_dropped(bytes(message.payload))
                return
        except UnicodeDecodeError:
            # Brokers should refuse such topics; if one slips through it is dead-lettered.
            # paho exposes no raw-topic accessor, hence the private attribute.
            topic = repr(message._topic)
        incoming = Incoming(
            topic=topic,
            payload=bytes(message.payload),
            mid=message.mid,
            qos=message.qos,
            retain=bool(message.retain),
            generation=generation,
        )
        while True:
            try:
                self._on_message(incoming)
            except queue.Full:
                # No room: wait here, reading nothing more (see the module docstring). When
                # stopping, the message stays unacknowledged: the broker delivers it again.
                self.waits += 1
                if self._stopping.is_set():
                    log.warning("mqtt.left_unacknowledged", topic=topic[:120])
                    return
                continue
            return
