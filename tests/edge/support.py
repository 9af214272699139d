"""Helpers for edge tests: a recording subscriber, a cuttable TCP link, agent configs."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.config import EdgeConfig
from tests.hub.support import wait_until

__all__ = ["NetCut", "Recorder", "Seen", "edge_config", "publish", "wait_until"]


@dataclass(frozen=True)
class Seen:
    topic: str
    payload: dict[str, Any]
    retained: bool

    @property
    def channel(self) -> str:
        return self.topic.rsplit("/", 1)[-1]


class Recorder:
    """Subscribes to ``anbu/v1/#`` with a persistent session, so nothing published while it
    is disconnected (broker restarts) is missed; keeps everything in arrival order."""

    def __init__(self, host: str, port: int, topic: str = "anbu/v1/#") -> None:
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"recorder-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.subscribed = threading.Event()
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect(host, port, clean_start=False, properties=props)
        self.client.loop_start()
        # Only now is nothing published from here on missed.
        if not self.subscribed.wait(10):
            msg = "recorder could not subscribe"
            raise RuntimeError(msg)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            payload = json.loads(msg.payload)
        except ValueError:
            payload = {"_raw": msg.payload.decode(errors="replace")}
        with self._lock:
            self.seen.append(Seen(msg.topic, payload, bool(msg.retain)))

    def messages(self, channel: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if channel is None or s.channel == channel]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish(
    host: str, port: int, topic: str, payload: bytes | str, *, retain: bool = False
) -> None:
    """Publish one QoS 1 message and wait for its PUBACK."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect(host, port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


class NetCut:
    """A TCP relay between an agent and its broker whose cable can be pulled.

    ``cut()`` drops every connection without a goodbye (as a Wi-Fi outage does, seen from
    the broker) and refuses new ones until ``restore()``. ``sent`` keeps, per connection, the
    bytes the client sent towards the broker (its CONNECT first).
    """

    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, target_port)
        self.listener = socket.create_server((host, 0))
        self.port = self.listener.getsockname()[1]
        self._up = threading.Event()
        self._up.set()
        self._conns: list[socket.socket] = []
        self.sent: list[bytearray] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            sent = bytearray()
            with self._lock:
                self._conns += [client, upstream]
                self.sent.append(sent)
            for a, b, seen in ((client, upstream, sent), (upstream, client, None)):
                threading.Thread(target=self._pipe, args=(a, b, seen), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket, seen: bytearray | None) -> None:
        try:
            while data := src.recv(65536):
                if seen is not None:
                    seen += data
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self._up.clear()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def restore(self) -> None:
        self._up.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self.listener.close()


def edge_config(tmp_path: Path, mqtt_url: str, **overrides: Any) -> EdgeConfig:
    """A test agent's config: resident r1, no HTTP feed, no text-to-speech."""
    data: dict[str, Any] = {
        "resident": "r1",
        "device": "dev1",
        "mqtt_url": mqtt_url,
        "outbox": tmp_path / "outbox.db",
        "feed": {"http": ""},
        "speaker": {"tts_command": []},
    }
    data.update(overrides)
    return EdgeConfig.model_validate(data)
