"""Helpers for hub tests: a device publisher, an offset clock, polling, SMS log reading.

Time: a test's hub and its devices share one clock. ``start_hub`` pins the hub to
:data:`DEFAULT_TEST_START` unless the test passes its own, and :class:`Device` has no clock
of its own: it is handed the hub's (``running.device(...)``), so a device never stamps the
machine's date while the hub lives on another one.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.mqtt import BrokerAddress

KST = ZoneInfo("Asia/Seoul")
ADMIN_TOKEN = "test-admin-token-0123456789"


DEFAULT_TEST_START = datetime(2026, 11, 25, 14, 0, tzinfo=KST)
"""Where a hub test's clock starts unless the test chooses: a Wednesday afternoon in Korea,
inside working hours, so a test that needs the night or a weekend says so."""


class OffsetClock:
    """Real time, moved to start at ``base``: seconds pass for real, the calendar is chosen."""

    def __init__(self, base: datetime) -> None:
        self._offset = base - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            msg = f"condition not met within {timeout} s"
            raise AssertionError(msg)
        time.sleep(interval)


def read_sms(path: Path) -> list[dict[str, Any]]:
    """The ``log:`` provider's lines so far; a last line still being written is left out."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line]


class Device:
    """A test device publishing protocol payloads with QoS 1 over MQTT 5."""

    _ids = itertools.count(1)

    def __init__(
        self,
        url: str,
        resident: str,
        device: str,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.resident = resident
        self.device = device
        self._clock = clock
        address = BrokerAddress.parse(url)
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"test-{resident}-{device}-{uuid.uuid4().hex[:6]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.max_inflight_messages_set(1000)
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        self._sent: list[mqtt.MQTTMessageInfo] = []

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def ts(self, delta: timedelta = timedelta(0)) -> str:
        return (self._clock() + delta).astimezone(KST).isoformat()

    def raw(self, kind: str, payload: bytes | str, wait: bool = True) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        info = self.client.publish(f"anbu/v1/{self.resident}/{self.device}/{kind}", data, qos=1)
        if wait:
            info.wait_for_publish(timeout=10)
        else:
            self._sent.append(info)

    def published(self) -> bool:
        """Whether the broker has acknowledged everything sent with ``wait=False``."""
        self._sent = [info for info in self._sent if not info.is_published()]
        return not self._sent

    def send(self, kind: str, wait: bool = True, **fields: Any) -> str:
        body: dict[str, Any] = {"v": 1, "id": f"{kind[:1]}-{next(self._ids)}", "ts": self.ts()}
        body.update(fields)
        self.raw(kind, json.dumps(body, ensure_ascii=False), wait=wait)
        return str(body["id"])

    def activity(self, source: str = "voice", wait: bool = True) -> str:
        return self.send("activity", wait=wait, source=source)

    def emergency(self, wait: bool = True) -> str:
        return self.send("emergency", wait=wait, trigger="voice", text="아리아 살려줘")
