"""The outbox dispatcher: hands committed outbox rows to their channel, exactly once.

Rows are written by the ingest worker in the same transaction as the decision behind
them. Here each SMS row goes ``pending → sending → sent|failed|unknown``; the ``sending``
mark is committed before the provider is called, so after a crash the dispatcher knows
which sends are in doubt and asks the provider instead of sending again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Engine, Row, case, select, update

from alerts.clock import Clock
from hub.notify.providers import SendResult, SmsMessage, SmsProvider
from hub.store.tables import outbox

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 8
PublishFn = Callable[[str, bytes], bool]


class Dispatcher:
    """Sends pending outbox rows in id order on a thread of its own."""

    def __init__(
        self,
        engine: Engine,
        provider: SmsProvider,
        publish: PublishFn,
        clock: Clock,
        *,
        idle_wait_s: float = 0.5,
    ) -> None:
        self._engine = engine
        self._provider = provider
        self._publish = publish
        self._clock = clock
        self._idle_wait_s = idle_wait_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="anbu-dispatcher", daemon=True)

    def start(self) -> None:
        self.recover_in_doubt()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def wake(self) -> None:
        self._wake.set()

    def recover_in_doubt(self) -> None:
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(outbox.c.id, outbox.c.key).where(outbox.c.state == "sending")
            ).all()
            for row in rows:
                known = self._provider.already_sent(row.key)
                state = "sent" if known else ("pending" if known is False else "unknown")
                conn.execute(update(outbox).where(outbox.c.id == row.id).values(state=state))
                log.warning("outbox.recovered_in_doubt", outbox_id=row.id, state=state)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.drain_once()
            except Exception:
                log.exception("outbox.dispatch_failed")
                sent = 0
            if sent == 0:
                self._wake.wait(self._idle_wait_s)
                self._wake.clear()

    def drain_once(self, limit: int = 200) -> int:
        """Send up to ``limit`` due rows; returns how many were handled."""
        now = self._clock.now()
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(outbox)
                .where(outbox.c.state == "pending")
                .where((outbox.c.next_attempt_at.is_(None)) | (outbox.c.next_attempt_at <= now))
                # An emergency page never waits behind a queue of routine messages.
                .order_by(case((outbox.c.kind == "emergency", 0), else_=1), outbox.c.id)
                .limit(limit)
            ).all()
        for row in rows:
            if self._stop.is_set():
                break
            if row.channel == "mqtt":
                self._send_mqtt(row.id, row.recipient, row.body)
            else:
                self._send_sms(row)
        return len(rows)

    def _send_mqtt(self, row_id: int, topic: str, body: str) -> None:
        delivered = self._publish(topic, body.encode("utf-8"))
        values: dict[str, object] = (
            {"state": "sent", "sent_at": self._clock.now()}
            if delivered
            else {"next_attempt_at": self._clock.now() + timedelta(seconds=2)}
        )
        with self._engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == row_id).values(**values))

    def _send_sms(self, row: Row[Any]) -> None:
        row_id: int = row.id
        attempts: int = row.attempts
        with self._engine.begin() as conn:
            claimed = conn.execute(
                update(outbox)
                .where(outbox.c.id == row_id)
                .where(outbox.c.state == "pending")
                .values(state="sending", attempts=attempts + 1)
            ).rowcount
        if not claimed:
            return
        message = SmsMessage(
            key=row.key,
            to=row.recipient,
            role=row.role,
            resident=row.resident_id,
            alert_id=row.alert_id,
            kind=row.kind,
            stage=row.stage,
            body=row.body,
        )
        now = self._clock.now()
        try:
            result = self._provider.send(message, now)
        except Exception as error:  # a provider bug must not stop the queue
            log.exception("outbox.provider_error", outbox_id=row_id)
            result = SendResult("failed", f"{type(error).__name__}")
        self._record(row_id, attempts + 1, result, now)

    def _record(self, row_id: int, attempts: int, result: SendResult, now: datetime) -> None:
        values: dict[str, object] = {"error": result.error}
        if result.state == "sent":
            values.update(state="sent", sent_at=now)
        elif result.state == "failed" and attempts < MAX_ATTEMPTS:
            values.update(state="pending", next_attempt_at=now + timedelta(seconds=2**attempts))
        else:
            values.update(state=result.state)
        with self._engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == row_id).values(**values))
        log.info("outbox.sms", outbox_id=row_id, state=values.get("state"), attempts=attempts)
