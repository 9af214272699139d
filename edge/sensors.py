"""The home-sensor adapter: a Zigbee2MQTT gateway's messages become resident activity.

For residents with a 2G phone and no speaker, cheap Zigbee sensors are the only witness: a
motion sensor in the living room, a contact on the front door, a smart plug under the
kettle. This adapter subscribes to the local Zigbee2MQTT broker and hands each message to
:class:`edge.zigbee.Zigbee2MqttMapper`, which owns the payload conventions.

What the gateway can see goes into every heartbeat (``edge/ZIGBEE.md``):

* ``sensing: false`` with ``sensing_problem`` ``gateway_offline`` while ``bridge/state`` says
  offline, ``gateway_silent`` once Zigbee2MQTT, having shown it speaks on its own (a live
  ``bridge/health``), has published nothing for ``gateway_silent_s``;
  a change sends a heartbeat at once, so the hub hears "cannot see", not "nobody moved".
* ``sensors``: each sensor's availability, battery, link quality, last message and, for a
  water sensor that is wet, since when.

If the gateway's broker is unreachable for ``gateway_timeout_s`` the agent reports the
device offline. The sensors' last values are saved in the agent's state, so after a restart
the first change (a door opening) is news, not a seed — when they were saved recently.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from edge.adapter import AdapterBase, AgentPort, FeedError, FeedResult, HeartbeatExtras
from edge.config import SensorsConfig
from edge.z2m_catalogue import emergency_text
from edge.zigbee import (
    BridgeState,
    ButtonPress,
    SensorActivity,
    SensorHealth,
    Zigbee2MqttMapper,
    ZigbeeConfig,
)
from protocol.models import (
    MAX_SENSORS,
    SENSOR_NAME_CHARS,
    TEXT_CONTROL,
    CheckinCommand,
    SensingProblem,
)
from protocol.models import SensorHealth as WireSensorHealth

log = structlog.get_logger(__name__)

GATEWAY_TIMEOUT = timedelta(minutes=5)
STATE_KEY = "z2m_sensors"  # the agent's state: the sensors' last values, as last heard
_SAVE_EVERY = timedelta(minutes=1)


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
                button_debounce_s=config.button_debounce_s,
            )
        )
        super().__init__()
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()
        self._lost_since: datetime | None = None
        self._reported_lost = False
        self.gateway_connected = threading.Event()
        self.messages_seen = 0
        self._silent_after = timedelta(seconds=config.gateway_silent_s)
        self._bridge_online: bool | None = None
        self._heard: datetime | None = None  # Zigbee2MQTT's last live message (or our start)
        # Whether Zigbee2MQTT has shown it speaks on its own (bridge/health, 2.x's periodic
        # check): only then is its silence the gateway's. Without it, sensors that report
        # only on events are silent while a resident sleeps or lies still, and calling that
        # blind would keep the resident's silence from the guardian.
        self._health_topic = f"{config.base_topic}/bridge/health"
        self._speaks = False
        self._problem: SensingProblem | None = None
        self._saved_changes = -1
        self._saved_heard: datetime | None = None

    # -- life cycle -----------------------------------------------------------------------

    def start(self, agent: AgentPort) -> None:
        super().start(agent)
        now = agent.now()
        self._lost_since = now
        self._heard = now
        self._restore(now)
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
            self._save(force=True)

    def _restore(self, now: datetime) -> None:
        """The sensors' values saved by a previous run, if they were heard recently enough."""
        try:
            saved = json.loads(self.agent.get_state(STATE_KEY) or "{}")
            heard = datetime.fromisoformat(saved["heard"])
            sensors = saved["sensors"]
        except (ValueError, KeyError, TypeError):
            return
        age = now - heard
        if heard.tzinfo is None or not isinstance(sensors, dict):
            return
        if timedelta(0) <= age <= timedelta(seconds=self.config.resume_state_s):
            self.mapper.restore(sensors)
            log.info("sensor values restored", sensors=len(sensors), age_s=age.total_seconds())
        else:
            log.info("saved sensor values too old: first values only seed", age_s=age.seconds)

    def _save(self, *, force: bool = False) -> None:
        with self._lock:
            heard, changes = self._heard, self.mapper.changes
            stale = heard is not None and (
                self._saved_heard is None or heard - self._saved_heard >= _SAVE_EVERY
            )
            if heard is None or not (force or changes != self._saved_changes or stale):
                return
            blob = json.dumps({"heard": heard.isoformat(), "sensors": self.mapper.export_state()})
            self._saved_changes, self._saved_heard = changes, heard
        self.agent.put_state(STATE_KEY, blob)

    # -- MQTT callbacks -------------------------------------------------------------------

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

    # -- messages -------------------------------------------------------------------------

    def observe(self, topic: str, payload: bytes, *, retained: bool = False) -> None:
        """One Zigbee2MQTT message (also the entry point for tests and replays)."""
        at = self.agent.now()
        with self._lock:  # the mapper keeps per-sensor state; one message at a time
            before = self.mapper.sensors()
            observations = self.mapper.feed(topic, payload, retained=retained, at=at)
            if not retained and self.mapper.is_gateway_topic(topic):
                self._heard = max(at, self._heard) if self._heard else at
                self._speaks = self._speaks or topic == self._health_topic
            for item in observations:
                if isinstance(item, BridgeState):
                    self._bridge_online = item.online
            changed = self._update_problem(at)
        urgent = changed
        for item in observations:
            if isinstance(item, SensorActivity):
                self.agent.activity(
                    item.source, at, sensor=wire_name(item.sensor), signal=item.signal
                )
            elif isinstance(item, ButtonPress):
                self.agent.emergency("button", emergency_text(item.sensor), at)
                log.warning("emergency button pressed", sensor=item.sensor, action=item.action)
            elif isinstance(item, SensorHealth):
                urgent |= self._health_changed(before.get(item.sensor), item)
        if urgent:
            self.agent.heartbeat_now()
        with self._lock:
            self.messages_seen += 1  # last: a test waiting on it finds the message's effects

    @staticmethod
    def _health_changed(old: SensorHealth | None, new: SensorHealth) -> bool:
        """Log what the hub must hear at once (a sensor lost, water found); True if so."""
        was_available = old.available if old is not None else None
        was_wet = old.active_since if old is not None else None
        if new.available is False and was_available is not False:
            log.warning("sensor unavailable", sensor=new.sensor)
        if new.active_since is not None and was_wet is None:
            log.warning("sensor active", sensor=new.sensor)
        return was_available != new.available or was_wet != new.active_since

    def _update_problem(self, now: datetime) -> bool:
        """Recompute why we cannot see (under the lock); True when it changed."""
        problem: SensingProblem | None = None
        if self._bridge_online is False:
            problem = "gateway_offline"
        elif self._speaks and self._heard is not None and now - self._heard >= self._silent_after:
            problem = "gateway_silent"
        if problem == self._problem:
            return False
        self._problem = problem
        log.warning("sensing changed", problem=problem or "none")
        return True

    # -- the agent's side -----------------------------------------------------------------

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

    def sensing_problem(self) -> SensingProblem | None:
        """Why the gateway cannot see now (None: it can)."""
        with self._lock:
            return self._problem

    def heartbeat_extras(self) -> HeartbeatExtras:
        with self._lock:
            problem = self._problem
            health = self.mapper.sensors()
            rows: list[WireSensorHealth] = []
            for name in self.mapper.known():
                shown = wire_name(name)
                if shown is None:
                    continue
                h = health.get(name) or SensorHealth(name)
                try:
                    row = WireSensorHealth(
                        name=shown,
                        signal=self.mapper.signal_of(name),
                        available=h.available,
                        last_seen=self.mapper.last_seen(name),
                        battery_pct=h.battery_pct,
                        battery_low=h.battery_low,
                        linkquality=h.linkquality,
                        active_since=h.active_since,
                    )
                except ValidationError:  # a heartbeat must go out, whatever a sensor said
                    row = WireSensorHealth(name=shown, available=h.available)
                rows.append(row)
        rows.sort(key=_urgency)  # a wet or lost sensor is never the one cut off
        return HeartbeatExtras(
            sensing=problem is None,
            sensing_problem=problem,
            sensors=rows[:MAX_SENSORS] or None,
        )

    def tick(self, now: datetime) -> datetime | None:
        with self._lock:
            lost_since = self._lost_since
            changed = self._update_problem(now)
            heard = self._heard
        if changed:
            self.agent.heartbeat_now()
        self._save()
        silent_due = heard + self._silent_after if heard is not None else None
        if silent_due is not None and silent_due <= now:
            silent_due = None  # already silent: the next message ends it, not the clock
        if lost_since is None:
            if self._reported_lost:
                self._reported_lost = False
                self.agent.set_presence(True)
            return silent_due
        deadline = lost_since + GATEWAY_TIMEOUT
        if now < deadline:
            return min(deadline, silent_due) if silent_due else deadline
        if not self._reported_lost:
            self._reported_lost = True
            self.agent.set_presence(False)
            log.warning("Zigbee2MQTT unreachable: reporting a device problem")
        return silent_due


def wire_name(name: str) -> str | None:
    """A friendly name as the protocol takes it (≤ 64 characters, no control characters)."""
    if TEXT_CONTROL.search(name):
        return None
    return name[:SENSOR_NAME_CHARS]


def _urgency(row: WireSensorHealth) -> tuple[bool, bool, str]:
    return (row.active_since is None, row.available is not False, row.name)
