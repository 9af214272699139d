"""The home-sensor adapter: a Zigbee2MQTT gateway's messages become resident activity.

For residents with a 2G phone and no speaker, cheap Zigbee sensors are the only witness: a
motion sensor in the living room, a contact on the front door, a smart plug under the
kettle. This adapter subscribes to the local Zigbee2MQTT broker and hands each message to
:class:`edge.zigbee.Zigbee2MqttMapper`, which owns the payload conventions.

If the gateway's broker is unreachable for ``gateway_timeout_s`` the agent reports the
device offline: no sensor messages then means "we cannot see", not "nobody moved".
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge.adapter import AdapterBase, AgentPort, FeedError, FeedResult
from edge.config import SensorsConfig
from edge.zigbee import ButtonPress, SensorActivity, SensorHealth, Zigbee2MqttMapper, ZigbeeConfig
from protocol.models import CheckinCommand

log = structlog.get_logger(__name__)

GATEWAY_TIMEOUT = timedelta(minutes=5)


class SensorsAdapter(AdapterBase):
    """Zigbee sensors through Zigbee2MQTT."""

    kind = "sensors"

    def __init__(self, config: SensorsConfig) -> None:
        self.config = config
        self.mapper = Zigbee2MqttMapper(
            ZigbeeConfig(
                base_topic=config.base_topic,
                power_threshold_w=config.power_threshold_w,
                power_thresholds_w=dict(config.power_thresholds_w),
                emergency_buttons=frozenset(config.emergency_buttons),
                ignore=frozenset(config.ignore),
            )
        )
        super().__init__()
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()
        self._lost_since: datetime | None = None
        self._reported_lost = False
        self.gateway_connected = threading.Event()
        self.messages_seen = 0
        self._available: dict[str, bool] = {}

    def start(self, agent: AgentPort) -> None:
        super().start(agent)
        self._lost_since = agent.now()
        parts = urlsplit(self.config.zigbee_url)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv311)
        if parts.username:
            client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        if parts.scheme == "mqtts":
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 30)
        client.connect_async(
            parts.hostname or "127.0.0.1",
            parts.port or (8883 if parts.scheme == "mqtts" else 1883),
            keepalive=30,
        )
        client.loop_start()
        self._client = client

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object
    ) -> None:
        if rc.is_failure:
            log.error("Zigbee2MQTT broker refused the connection", reason=str(rc))
            return
        for topic in self.mapper.subscriptions():
            client.subscribe(topic, qos=0)
        with self._lock:
            self._lost_since = None
        self.gateway_connected.set()
        log.info("connected to the Zigbee2MQTT broker")

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object
    ) -> None:
        self.gateway_connected.clear()
        with self._lock:
            self._lost_since = self.agent.now()
        log.warning("lost the Zigbee2MQTT broker", reason=str(rc))

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        self.observe(message.topic, bytes(message.payload), retained=bool(message.retain))

    def observe(self, topic: str, payload: bytes, *, retained: bool = False) -> None:
        """One Zigbee2MQTT message (also the entry point for tests and replays)."""
        at = self.agent.now()
        with self._lock:  # the mapper keeps per-sensor state; one message at a time
            observations = self.mapper.feed(topic, payload, retained=retained)
            self.messages_seen += 1
        for item in observations:
            if isinstance(item, SensorActivity):
                self.agent.activity(item.source, at)
            elif isinstance(item, ButtonPress):
                self.agent.emergency("button", None, at)
                log.warning("emergency button pressed", sensor=item.sensor)
            elif isinstance(item, SensorHealth) and item.available is False:
                if self._available.get(item.sensor, True):
                    log.warning("sensor unavailable", sensor=item.sensor)
                self._available[item.sensor] = False
            elif isinstance(item, SensorHealth) and item.available:
                self._available[item.sensor] = True

    def handle_feed(self, event: Mapping[str, Any], at: datetime, ref: str | None) -> FeedResult:
        if event.get("type") == "sos":
            event_id = self.agent.emergency("button", None, at, ref=ref)
            return FeedResult("accepted" if event_id else "duplicate", "emergency")
        msg = "a sensor gateway takes its signals from Zigbee2MQTT; the feed accepts only 'sos'"
        raise FeedError(msg)

    def on_checkin(self, command: CheckinCommand) -> None:
        log.info("check-in ignored: sensors cannot speak", request_id=command.id)

    def battery_pct(self) -> int | None:
        levels = [
            h.battery_pct for h in self.mapper.sensors().values() if h.battery_pct is not None
        ]
        return min(levels) if levels else None

    def tick(self, now: datetime) -> datetime | None:
        with self._lock:
            lost_since = self._lost_since
        if lost_since is None:
            if self._reported_lost:
                self._reported_lost = False
                self.agent.set_presence(True)
            return None
        deadline = lost_since + GATEWAY_TIMEOUT
        if now < deadline:
            return deadline
        if not self._reported_lost:
            self._reported_lost = True
            self.agent.set_presence(False)
            log.warning("Zigbee2MQTT unreachable: reporting a device problem")
        return None
