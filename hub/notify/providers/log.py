"""The ``log:PATH`` SMS provider: one JSON line per message instead of sending it.

For demos, tests and audits. The line's fields are the ones ``hub/INTERFACES.md`` promises
operators (``ts``, ``to``, ``role``, ``resident``, ``alert_id``, ``kind``, ``stage``,
``body``), plus the outbox ``key`` and the ``type`` (SMS or LMS) a real provider would be
asked for. It always accepts, writes each key once, knows after a restart which keys it
wrote (so a send in doubt is never repeated), and has no receipts.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from alerts.clock import Clock, SystemClock
from hub.notify.provider import ProviderReply, Receipt, SmsMessage
from hub.notify.sms_text import SmsText

__all__ = ["DEFAULT_PATH", "LogProvider"]

DEFAULT_PATH = "anbu-outbox.jsonl"


class LogProvider:
    """``log:PATH``: appends each message to ``path`` as a JSON line, flushed at once."""

    name = "log"

    def __init__(self, path: Path, clock: Clock | None = None) -> None:
        self.path = path
        # The hub's clock, so the log's "ts" agrees with the hub's idea of now.
        self._clock: Clock = clock or SystemClock()
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

    def submit(self, message: SmsMessage, text: SmsText) -> ProviderReply:
        record: dict[str, object] = {
            "ts": self._clock.now().isoformat(),
            "to": message.to,
            "role": message.role,
            "resident": message.resident,
            "alert_id": message.alert_id,
            "kind": message.kind,
            "stage": message.stage,
            "body": message.body,
            "key": message.key,
            "type": text.kind,  # SMS or LMS, as a real provider would be asked
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            if message.key not in self._keys:
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(line)
                    handle.flush()
                self._keys.add(message.key)
        return ProviderReply("sent", retryable=False)

    def receipt(self, provider_id: str) -> Receipt | None:
        return None

    def already_sent(self, key: str) -> bool | None:
        with self._lock:
            return key in self._keys
