"""The message handed to SMS providers, and the ``log:PATH`` provider.

A send ends ``sent``, ``failed`` (safe to retry) or ``unknown`` (it may have gone out: never
retried automatically, so nobody is paged twice). The HTTP providers live in
:mod:`hub.notify.http_providers`; :mod:`hub.notify.chain` strings them together.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

SendState = Literal["sent", "failed", "unknown"]


@dataclass(frozen=True, slots=True)
class SmsMessage:
    key: str
    to: str
    role: str | None
    resident: str | None
    alert_id: str | None
    kind: str | None
    stage: str | None
    body: str


@dataclass(frozen=True, slots=True)
class SendResult:
    state: SendState
    error: str | None = None


class LogProvider:
    """``log:PATH``: one JSON line per message instead of sending it (demos, tests, audits)."""

    name = "log"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._keys = self._read_keys()

    def _read_keys(self) -> set[str]:
        if not self.path.exists():
            return set()
        keys: set[str] = set()
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    # A line cut short by a crash mid-write was not handed over.
                    continue
                if isinstance(record, dict) and isinstance(record.get("key"), str):
                    keys.add(record["key"])
        return keys

    def send(self, message: SmsMessage, now: datetime, sms_type: str | None = None) -> SendResult:
        record: dict[str, object] = {
            "ts": now.isoformat(),
            "to": message.to,
            "role": message.role,
            "resident": message.resident,
            "alert_id": message.alert_id,
            "kind": message.kind,
            "stage": message.stage,
            "body": message.body,
            "key": message.key,
        }
        if sms_type is not None:
            record["type"] = sms_type  # SMS or LMS, as a real provider would be asked
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            if message.key in self._keys:
                return SendResult("sent")
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
            self._keys.add(message.key)
        return SendResult("sent")

    def already_sent(self, key: str) -> bool | None:
        with self._lock:
            return key in self._keys
