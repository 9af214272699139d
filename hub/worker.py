"""The ingest worker: the one thread that changes resident state.

MQTT messages, operators' API calls and due timers all queue here, so the escalation core
sees one change at a time. The loop sleeps until the next message or the earliest due
time (an indexed ``min`` query), never scanning all residents per tick.

**An emergency lane.** Due steps are fired in slices (one batch transaction each, see
:mod:`hub.timers`) sized so that one slice takes about :data:`SLICE_S`; after every slice
the worker serves what queued meanwhile before the next: operators' calls first, then
emergencies (and cancels, which come on the same topic), then one batch of other
messages. So an emergency arriving in a storm of 100,000 due residents waits for at most
one slice and one batch, never for the storm, and a backlog of other messages and a storm
share the worker in turn.

**The bound.** The queue is bounded (:mod:`hub.ingest_queue`, ``queue_max`` messages
besides emergencies). At the bound a QoS 0 message is shed and counted (``shed``): QoS 0
carries no promise and is never acknowledged, and a device flooding with it must not grow
the hub's memory. A QoS 1 message is not taken: :meth:`IngestWorker.submit` raises
:class:`queue.Full` and the MQTT bridge waits and offers it again, reading nothing more
from the broker meanwhile, which keeps the rest in the hub's session (backpressure).
Messages are acknowledged only after their transaction commits, so nothing acknowledged is
ever dropped.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
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
SLICE_S = 0.04
"""How long one slice of due work should hold the worker: under the ~50 ms an emergency
may wait for it (the slice size follows the last slice's duration toward this)."""
SLICE_MIN = 10
SLICE_MAX = 500
SLICE_START = 100
SLICE_RECORDED = 1000
"""How many recent slice durations are kept for :attr:`IngestWorker.slice_s`."""


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
        self._slice = SLICE_START
        self.slice_s: deque[float] = deque(maxlen=SLICE_RECORDED)
        """How long the most recent slices of due work took (seconds), newest last."""
        self.due_fired = 0
        """Due steps (and digests) fired since start."""

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
        """Run ``fn(now)`` on the worker thread and return its result (or raise its error).

        TimeoutError when it has not started within ``timeout``: it is then withdrawn and
        never runs, so a caller that answers "try again" (503) is not telling a sender to
        repeat what the hub will still store (a phone's sos, paged twice).
        """
        future: Future[T] = Future()
        self._queue.put_control(_Call(fn, future))
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            if future.cancel():
                raise
        # Already running: its own outcome, within one more bound.
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
                # What queued during the slice goes before the next slice (the lane).
                self._serve_waiting()
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
        """One slice of the due steps: a batch of :attr:`_slice` residents."""
        self.lag_s = (now - due).total_seconds()
        self.writes.began()
        started = time.perf_counter()
        try:
            fired = self._core.run_due(now, self._slice)
        except Exception as error:
            self.writes.failed(error)
            log.exception("worker.due_failed")
            # The database is likely away; don't spin on the same overdue step.
            self._stop.wait(1.0)
            return
        took = time.perf_counter() - started
        self.writes.succeeded()
        self.slice_s.append(took)
        self.due_fired += fired
        if fired >= self._slice or took > SLICE_S:
            # A full (or slow) slice: size the next one so it takes about SLICE_S.
            scale = SLICE_S / max(took, 1e-4)
            self._slice = max(SLICE_MIN, min(SLICE_MAX, int(self._slice * min(scale, 2.0))))
        if fired:
            self._wake_outbox()

    def _serve_waiting(self) -> None:
        """Between slices of due work: one round of what waits (control, urgent, then a
        batch of normal messages: the queue hands them out in that order)."""
        try:
            item = self._queue.get_nowait()
        except queue.Empty:
            return
        if item is None:
            self._stop.set()
            return
        self._handle(item)

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
            if not call.future.set_running_or_notify_cancel():
                continue  # its caller gave up waiting and withdrew it
            try:
                call.future.set_result(call.fn(self._clock.now()))
            except Exception as error:
                call.future.set_exception(error)
        self._wake_outbox()
