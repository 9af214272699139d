"""The ingest worker: the one thread that changes resident state.

MQTT messages, operators' API calls and due timers all queue here, so the escalation core
sees one change at a time. The loop sleeps until the next message or the earliest due
time (an indexed ``min`` query), never scanning all residents per tick. The queue is bounded
(:mod:`hub.ingest_queue`): emergencies have a lane of their own, a QoS 0 flood is shed and
counted, and a QoS 1 message waits at the broker until there is room.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog

from alerts.clock import Clock
from hub.health import WriteRecord
from hub.ingest_queue import IngestQueue
from hub.mqtt import Incoming
from hub.service import HubCore

log = structlog.get_logger(__name__)

T = TypeVar("T")
# Upper bound on a sleep: keeps the loop responsive to stop() and to clock jumps.
MAX_WAIT_S = 0.5
# How long submit() waits for room before handing a QoS 1 message back (queue.Full) to the
# MQTT bridge, which offers it again unless it is stopping.
SUBMIT_WAIT_S = 0.5
QUEUE_MAX = 10_000
# When the database cannot say what falls due next, look again this much later.
NEXT_DUE_RETRY = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class _Call:
    fn: Callable[[datetime], Any]
    future: Future[Any]


class IngestWorker:
    """Runs :class:`HubCore` on a dedicated thread."""

    def __init__(
        self,
        core: HubCore,
        clock: Clock,
        ack: Callable[[Incoming], None],
        wake_outbox: Callable[[], None],
        *,
        batch_max: int = 500,
        queue_max: int = QUEUE_MAX,
    ) -> None:
        self._core = core
        self._clock = clock
        self._ack = ack
        self._wake_outbox = wake_outbox
        self._batch_max = batch_max
        self._queue: IngestQueue[_Call] = IngestQueue(queue_max)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="anbu-ingest", daemon=True)
        self.processed = 0
        self.lag_s: float = 0.0
        self.writes = WriteRecord()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._queue.put_control(None)
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def submit(self, message: Incoming) -> None:
        """Called on paho's network thread: only enqueue (or shed a QoS 0 message).

        Raises :class:`queue.Full` when a QoS 1 message or an emergency found no room for
        :data:`SUBMIT_WAIT_S`: the caller keeps it (unacknowledged) and offers it again.
        """
        self._queue.put_message(message, SUBMIT_WAIT_S)

    def call(self, fn: Callable[[datetime], T], timeout: float = 15.0) -> T:
        """Run ``fn(now)`` on the worker thread and return its result (or raise its error)."""
        future: Future[T] = Future()
        self._queue.put_control(_Call(fn, future))
        return future.result(timeout=timeout)

    def backlog(self) -> int:
        return self._queue.qsize()

    @property
    def shed(self) -> dict[str, int]:
        """QoS 0 messages shed because the queue was full, by kind, since start."""
        return dict(self._queue.shed)

    @property
    def queue_max(self) -> int:
        return self._queue.bound

    def _next_due(self, fallback: datetime | None) -> datetime | None:
        """The core's next due time; when the database cannot say (it is away), look again
        soon: the worker thread must outlive any outage, or nothing is stored after it."""
        try:
            return self._core.next_due()
        except Exception as error:
            self.writes.failed(error)
            log.warning("worker.next_due_failed", error=type(error).__name__)
            return self._clock.now() + NEXT_DUE_RETRY if fallback is None else fallback

    def _run(self) -> None:
        next_due = self._next_due(None)
        while not self._stop.is_set():
            now = self._clock.now()
            if next_due is not None and next_due <= now:
                self._fire_due(now, next_due)
                next_due = self._next_due(now + NEXT_DUE_RETRY)
                continue
            wait = MAX_WAIT_S
            if next_due is not None:
                wait = min(wait, max(0.0, (next_due - now).total_seconds()))
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                continue
            if item is None:
                break
            self._handle(item)
            next_due = self._next_due(next_due)

    def _fire_due(self, now: datetime, due: datetime) -> None:
        self.lag_s = (now - due).total_seconds()
        self.writes.began()
        try:
            fired = self._core.run_due(now)
        except Exception as error:
            self.writes.failed(error)
            log.exception("worker.due_failed")
            # The database is likely away; don't spin on the same overdue step.
            self._stop.wait(1.0)
            return
        self.writes.succeeded()
        if fired:
            self._wake_outbox()

    def _ingest_until_stored(self, messages: list[Incoming]) -> None:
        delay = 0.5
        self.writes.began()
        while True:
            try:
                self._core.ingest(messages, self._clock.now())
            except Exception as error:
                self.writes.failed(error)
                # Unacknowledged messages stay with the broker; keep trying until the
                # database is back rather than dropping or acknowledging them.
                log.exception("worker.store_unavailable", batch=len(messages), retry_s=delay)
                if self._stop.wait(delay):
                    raise
                delay = min(delay * 2, 10.0)
                continue
            self.writes.succeeded()
            return

    def _handle(self, first: Incoming | _Call) -> None:
        messages: list[Incoming] = []
        calls: list[_Call] = []
        item: Incoming | _Call | None = first
        while item is not None:
            if isinstance(item, _Call):
                calls.append(item)
            else:
                messages.append(item)
            if len(messages) >= self._batch_max:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._stop.set()
                break
        if messages:
            self._ingest_until_stored(messages)
            for message in messages:
                self._ack(message)
            self.processed += len(messages)
        for call in calls:
            try:
                call.future.set_result(call.fn(self._clock.now()))
            except Exception as error:
                call.future.set_exception(error)
        self._wake_outbox()
