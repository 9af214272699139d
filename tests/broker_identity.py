"""Helpers for tests of broker identities: MQTT clients that say how the broker answered.

:class:`Probe` connects with given credentials and client id over TLS (or not) and records
the CONNACK, SUBACK and PUBACK reason codes and any disconnect, so a test can assert that
the broker refused something rather than infer it from silence.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tests.hub.support import wait_until


@dataclass
class Probe:
    """One MQTT 5 client; ``connack`` is None until the broker answered (or the socket died)."""

    client: mqtt.Client
    connack: str | None = None
    refused: bool = False
    disconnected_at: float | None = None
    disconnect_reason: str | None = None
    pubacks: dict[int, str] = field(default_factory=dict)
    subacks: list[str] = field(default_factory=list)
    answered: threading.Event = field(default_factory=threading.Event)

    @property
    def connected(self) -> bool:
        return self.connack == "Success" and self.disconnected_at is None

    def publish(self, topic: str, payload: bytes, timeout: float = 10.0) -> str:
        """Publish QoS 1 and return the PUBACK's reason ("Success", "Not authorized", …)."""
        info = self.client.publish(topic, payload, qos=1)
        wait_until(lambda: info.mid in self.pubacks, timeout)
        return self.pubacks[info.mid]

    def subscribe(self, topic: str, timeout: float = 10.0) -> str:
        before = len(self.subacks)
        self.client.subscribe(topic, qos=1)
        wait_until(lambda: len(self.subacks) > before, timeout)
        return self.subacks[-1]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect(
    port: int,
    username: str | None,
    password: str | None,
    client_id: str,
    *,
    ca_file: Path | None,
    clean_start: bool = True,
    timeout: float = 10.0,
    **client_options: Any,
) -> Probe:
    """Connect and wait for the broker's answer (or the connection's end)."""
    # No automatic reconnects: a refused probe must stay refused, not retry in the background.
    client_options.setdefault("reconnect_on_failure", False)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, **client_options
    )
    probe = Probe(client)
    if username is not None:
        client.username_pw_set(username, password)
    if ca_file is not None:
        client.tls_set(ca_certs=str(ca_file), cert_reqs=ssl.CERT_REQUIRED)
    client.max_inflight_messages_set(1000)

    def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        probe.connack = str(rc)
        probe.refused = rc.is_failure
        probe.answered.set()

    def on_disconnect(_c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        if probe.disconnected_at is None:
            probe.disconnected_at = time.monotonic()
            probe.disconnect_reason = str(rc)
        probe.answered.set()

    def on_publish(_c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: object) -> None:
        probe.pubacks[mid] = str(rc)

    def on_subscribe(
        _c: mqtt.Client, _u: object, _m: int, codes: list[ReasonCode], _p: object
    ) -> None:
        probe.subacks.extend(str(code) for code in codes)

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_publish = on_publish
    client.on_subscribe = on_subscribe
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 0 if clean_start else 3600
    try:
        client.connect(
            "127.0.0.1", port, keepalive=30, clean_start=clean_start, properties=properties
        )
    except (OSError, ssl.SSLError) as exc:
        probe.connack = f"socket: {exc}"
        probe.refused = True
        return probe
    client.loop_start()
    probe.answered.wait(timeout)
    if probe.connack is None:
        probe.refused = True
    return probe
