"""Telemetry: the hub's one write path to a time-series DB, a buffer and its writer thread.

This module owns sending points to the TSDB (``ANBU_INFLUX_*``; unset URL = off): a bounded
buffer, and the writer thread that sends it in batches through influxdb-client's InfluxDB v2
write API (InfluxDB 2.x and 3.x speak it; so does VictoriaMetrics, used by the tests). What
is written, and which tags it carries, is :mod:`hub.telemetry_points`.

Ingest and escalation never wait for the TSDB. :meth:`Telemetry.observe` runs on the ingest
worker after a transaction has committed and only appends to an in-memory deque under a
lock that the writer holds just long enough to pop a batch: no I/O, no formatting. When the
buffer is full new points are dropped and counted (:attr:`Telemetry.dropped`); a failed
batch is retried with exponential backoff while it stays inside the same bound, so a TSDB
that is slow or down costs memory up to ``ANBU_INFLUX_BUFFER`` points and nothing else.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import structlog
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    wait_exponential,
    wait_random,
)

from hub.telemetry_points import WRITTEN_KINDS, Record, to_line
from protocol import AlertChange, Event

if TYPE_CHECKING:
    from hub.settings import Settings

log = structlog.get_logger(__name__)

# ------------------------------------------------------------------------------ limits

BUFFER_POINTS: Final = 50_000
BATCH_POINTS: Final = 5_000
FLUSH_S: Final = 1.0
CLOSE_DEADLINE_S: Final = 5.0
# A batch the server refuses as malformed would be refused again: drop it, don't retry.
_REFUSED_STATUSES: Final = frozenset({400, 413, 422})


class Telemetry:
    """A bounded buffer of points and the thread that writes it to the TSDB in batches.

    ``offer``/``observe`` never block and never raise for TSDB trouble; ``close`` flushes
    what it can within a deadline. ``buffered``, ``dropped`` and ``written`` count points
    (read by the hub's metrics).
    """

    def __init__(
        self,
        url: str,
        bucket: str,
        *,
        token: str | None = None,
        org: str | None = None,
        buffer_max: int = BUFFER_POINTS,
        batch_max: int = BATCH_POINTS,
        flush_s: float = FLUSH_S,
        timeout_s: float = 5.0,
        retry_max_s: float = 30.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            msg = f"ANBU_INFLUX_URL must look like http(s)://host:port, got {parts.scheme!r}"
            raise ValueError(msg)
        self._url = url
        # For logs: never the user info a URL may carry.
        self._where = f"{parts.scheme}://{parts.hostname}" + (
            f":{parts.port}" if parts.port else ""
        )
        self._bucket = bucket
        self._token = token
        self._org = org
        self._capacity = buffer_max
        self._batch_max = max(1, min(batch_max, buffer_max))
        self._flush_s = flush_s
        self._timeout_s = timeout_s
        self._retry_max_s = retry_max_s
        self._queue: deque[Record] = deque()
        self._inflight = 0
        self._dropped = 0
        self._written = 0
        self._overflowing = False
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._closing = threading.Event()
        self._deadline = float("inf")
        self._failed_while_closing = False
        self._client: Any = None
        self._write_api: Any = None
        self._thread = threading.Thread(target=self._run, name="anbu-telemetry", daemon=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> Telemetry | None:
        """The hub's telemetry, or ``None`` when ``ANBU_INFLUX_URL`` is unset."""
        if not settings.influx_url:
            return None
        if not settings.influx_bucket:
            msg = "ANBU_INFLUX_BUCKET must be set when ANBU_INFLUX_URL is"
            raise ValueError(msg)
        token = settings.influx_token.get_secret_value() if settings.influx_token else None
        return cls(
            settings.influx_url,
            settings.influx_bucket,
            token=token,
            org=settings.influx_org,
            buffer_max=settings.influx_buffer,
            timeout_s=settings.influx_timeout_s,
            retry_max_s=settings.influx_retry_max_s,
        )

    # ------------------------------------------------------------------ counters

    @property
    def buffered(self) -> int:
        """Points waiting, including a batch being sent or retried."""
        return len(self._queue) + self._inflight

    @property
    def dropped(self) -> int:
        """Points lost: buffer full, refused by the server, or unsent at close."""
        return self._dropped

    @property
    def written(self) -> int:
        """Points the TSDB accepted."""
        return self._written

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Telemetry:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        timeout_ms = int(self._timeout_s * 1000)
        client: Any = InfluxDBClient  # the library's methods are not annotated
        self._client = client(
            url=self._url, token=self._token, org=self._org, timeout=(timeout_ms, timeout_ms)
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._thread.start()
        log.info("telemetry.started", tsdb=self._where, bucket=self._bucket)
        return self

    def close(self, deadline_s: float = CLOSE_DEADLINE_S) -> None:
        """Send what is buffered for at most ``deadline_s`` (plus one write's timeout); a write
        failing meanwhile ends it early, the rest counted as dropped."""
        with self._ready:
            if self._closing.is_set():
                return
            self._deadline = time.monotonic() + deadline_s
            self._closing.set()
            self._ready.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=deadline_s + self._timeout_s + 1.0)
        if self._client is not None:
            self._client.close()
        log.info("telemetry.stopped", written=self._written, dropped=self._dropped)

    # ------------------------------------------------------------------- intake

    def observe(
        self,
        items: Sequence[Event | AlertChange],
        districts: Mapping[str, str],
        device_kinds: Mapping[tuple[str, str], str],
    ) -> int:
        """Offer committed events and alert changes, with the registry's tags for them."""
        records: list[Record] = []
        for item in items:
            if isinstance(item, AlertChange):
                records.append((item, districts.get(item.resident, ""), ""))
            elif item.kind in WRITTEN_KINDS and getattr(item.message, "answered", True):
                kind = device_kinds.get((item.resident, item.device), "")
                records.append((item, districts.get(item.resident, ""), kind))
        return self.offer(records)

    def offer(self, records: Sequence[Record]) -> int:
        """Buffer what fits; the rest is dropped and counted. Returns how many were taken."""
        if not records:
            return 0
        with self._ready:
            if self._closing.is_set():
                self._dropped += len(records)
                return 0
            room = max(0, self._capacity - len(self._queue) - self._inflight)
            taken = records if len(records) <= room else records[:room]
            self._queue.extend(taken)
            if len(taken) < len(records):
                self._dropped += len(records) - len(taken)
                self._overflowing = True
            if len(self._queue) >= self._batch_max:
                self._ready.notify()
        return len(taken)

    # ------------------------------------------------------------- writer thread

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._send(batch)
            except Exception:  # a bug here must not end the writer
                log.exception("telemetry.batch_failed", points=len(batch))
                with self._ready:
                    self._dropped += len(batch)
            finally:
                with self._ready:
                    self._inflight = 0

    def _next_batch(self) -> list[Record] | None:
        with self._ready:
            self._ready.wait_for(
                lambda: len(self._queue) >= self._batch_max or self._closing.is_set(),
                timeout=self._flush_s,
            )
            if self._overflowing:
                self._overflowing = False
                log.warning("telemetry.buffer_full", capacity=self._capacity, dropped=self._dropped)
            # Closing: stop at the deadline, or as soon as a write has failed (a TSDB that is
            # down or slow would only make every later batch wait out its timeout too).
            if self._closing.is_set() and (
                time.monotonic() >= self._deadline or self._failed_while_closing
            ):
                if self._queue:
                    log.warning("telemetry.unsent_at_close", points=len(self._queue))
                    self._dropped += len(self._queue)
                    self._queue.clear()
                return None
            if not self._queue:
                return None if self._closing.is_set() else []
            count = min(len(self._queue), self._batch_max)
            batch = [self._queue.popleft() for _ in range(count)]
            self._inflight = count
            return batch

    def _send(self, batch: list[Record]) -> None:
        if not batch:
            return
        lines = [line for line in map(to_line, batch) if line]
        if len(lines) < len(batch):  # offered directly, not through observe()
            with self._ready:
                self._dropped += len(batch) - len(lines)
        if not lines:
            return
        body = "\n".join(lines)
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            wait=wait_exponential(multiplier=0.25, max=self._retry_max_s) + wait_random(0, 0.25),
            stop=lambda _state: self._closing.is_set(),
            sleep=self._pause,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            retrying(self._post, body)
        except Exception as error:
            if self._closing.is_set():
                self._failed_while_closing = True
            log.warning(
                "telemetry.batch_dropped",
                points=len(lines),
                error=type(error).__name__,
                status=getattr(error, "status", None),
            )
            with self._ready:
                self._dropped += len(lines)
            return
        with self._ready:
            self._written += len(lines)

    def _post(self, body: str) -> None:
        from influxdb_client.domain.write_precision import WritePrecision

        # The client insists on an org; InfluxDB 3.x and Cloud ignore it, 2.x OSS needs it.
        self._write_api.write(
            bucket=self._bucket, org=self._org or "", record=body, write_precision=WritePrecision.MS
        )

    def _pause(self, seconds: float) -> None:
        # Interrupted by close(), which then allows one last attempt.
        self._closing.wait(seconds)

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        log.warning(
            "telemetry.write_failed",
            tsdb=self._where,
            error=type(error).__name__,
            status=getattr(error, "status", None),
            attempt=state.attempt_number,
            retry_in_s=round(state.upcoming_sleep, 2),
            buffered=self.buffered,
        )


def _retryable(error: BaseException) -> bool:
    """An answer other than "malformed", or no answer at all; not a mistake of ours."""
    from urllib3.exceptions import HTTPError

    status = getattr(error, "status", None)
    if status is not None:
        return status not in _REFUSED_STATUSES
    return isinstance(error, HTTPError | OSError)
