"""The hub's own heartbeat on MQTT: its health summary, every few seconds, for ``anbu watchdog``.

Published on :data:`protocol.topics.HUB_HEARTBEAT_TOPIC`, QoS 0, **not retained**: a retained
heartbeat would be handed to every new subscriber long after the hub died, which is the one
thing a watchdog must not be told. The payload is the summary of ``/health``
(:meth:`hub.runtime.Hub.health`), nothing about residents::

    {"v":1,"hub":"anbu-hub","ts":"2026-11-25T05:00:00+00:00","interval_s":10.0,
     "status":"ok","database":true,"broker":true,"writes_ok":true}

``broker`` is the hub's own view (a heartbeat that arrives says the broker works for the
watchdog too). A heartbeat the broker refuses or that cannot be sent is simply not sent: its
absence is the message. The health look runs on this thread of its own, so a database that
hangs delays the heartbeat (which the watchdog notices), never the ingest.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import structlog

from protocol.topics import HUB_HEARTBEAT_TOPIC

__all__ = ["DEFAULT_INTERVAL_S", "HubHeartbeat", "heartbeat_payload"]

log = structlog.get_logger(__name__)

DEFAULT_INTERVAL_S: Final = 10.0


def heartbeat_payload(
    report: dict[str, Any], *, hub: str, now: datetime, interval_s: float
) -> bytes:
    """The heartbeat's JSON for one ``/health`` report."""
    body = {
        "v": 1,
        "hub": hub,
        "ts": now.isoformat(),
        "interval_s": interval_s,
        "status": "ok" if report.get("status") == "ok" else "degraded",
        "database": bool(report.get("database")),
        "broker": bool(report.get("mqtt")),
        "writes_ok": bool(report.get("writes_ok")),
    }
    return json.dumps(body, separators=(",", ":")).encode()


class HubHeartbeat:
    """Publishes :func:`heartbeat_payload` every ``interval_s`` on a daemon thread."""

    def __init__(
        self,
        health: Callable[[], dict[str, Any]],
        publish: Callable[[str, bytes], object],
        connected: threading.Event,
        now: Callable[[], datetime],
        *,
        hub: str,
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        self._health = health
        self._publish = publish
        self._connected = connected
        self._now = now
        self._hub = hub
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="anbu-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def beat(self) -> None:
        """Publish one heartbeat now (when the broker is connected)."""
        if not self._connected.is_set():
            return  # nothing to say it on; the watchdog sees the silence
        payload = heartbeat_payload(
            self._health(), hub=self._hub, now=self._now(), interval_s=self.interval_s
        )
        self._publish(HUB_HEARTBEAT_TOPIC, payload)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
            except Exception as error:  # a heartbeat must never take the hub down
                log.warning("heartbeat.failed", error=type(error).__name__)
            self._stop.wait(self.interval_s)
