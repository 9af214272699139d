"""Telemetry: activity, device health, vitals and alert changes as points in a time-series DB.

This module owns the hub's one write path to the TSDB (``ANBU_INFLUX_*``; unset URL = off):
the point schema (:data:`SCHEMA`, which the Grafana dashboard in ``deploy/grafana/`` queries),
a bounded buffer, and the writer thread that sends it in batches through influxdb-client's
InfluxDB v2 write API (InfluxDB 2.x and 3.x speak it; so does VictoriaMetrics, used by the
tests).

Ingest and escalation never wait for the TSDB. :meth:`Telemetry.observe` runs on the ingest
worker after a transaction has committed and only appends to an in-memory deque under a
lock that the writer holds just long enough to pop a batch: no I/O, no formatting. When the
buffer is full new points are dropped and counted (:attr:`Telemetry.dropped`); a failed
batch is retried with exponential backoff while it stays inside the same bound, so a TSDB
that is slow or down costs memory up to ``ANBU_INFLUX_BUFFER`` points and nothing else.

Tags are the things a dashboard groups by, and each has a bounded set of values:
``district`` (a few dozen), ``device_kind`` (3), ``source`` (10), vital ``kind`` (6), alert
``kind``/``stage``/``state`` (5/3/3), and the pseudonymous ``resident`` id (and ``device`` id
on device health), which the dashboard needs for activity per resident-day and vitals per
resident. Those two grow with the registered fleet, not with traffic: each device kind reports
a few sources, so a resident makes about ten activity series and a hub watching 10,000
residents some 100,000, well inside what InfluxDB handles. Unbounded values (event and alert
ids) are never tags. Names, phone numbers, addresses, the resident's words (emergency and
check-in text) and firmware strings are never written at all.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import urlsplit

import structlog
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    wait_exponential,
    wait_random,
)

from protocol import AlertChange, BloodPressure, Event

if TYPE_CHECKING:
    from influxdb_client.client.write.point import Point

    from hub.settings import Settings

log = structlog.get_logger(__name__)

# ------------------------------------------------------------------------------ schema

ACTIVITY: Final = "activity"
HEARTBEAT: Final = "heartbeat"
DEVICE_STATUS: Final = "device_status"
VITALS: Final = "vitals"
ALERT_CHANGE: Final = "alert_change"

_DEVICE_TAGS: Final = frozenset({"resident", "district", "device_kind"})

# measurement -> (tag keys, field keys). The only names the hub writes.
SCHEMA: Final[Mapping[str, tuple[frozenset[str], frozenset[str]]]] = {
    ACTIVITY: (_DEVICE_TAGS | {"source"}, frozenset({"count"})),
    HEARTBEAT: (_DEVICE_TAGS | {"device"}, frozenset({"interval_s", "battery_pct", "rssi"})),
    DEVICE_STATUS: (_DEVICE_TAGS | {"device"}, frozenset({"online"})),
    VITALS: (_DEVICE_TAGS | {"kind"}, frozenset({"value", "systolic", "diastolic"})),
    ALERT_CHANGE: (
        frozenset({"resident", "district", "kind", "stage", "state"}),
        frozenset({"changes", "alert_id"}),
    ),
}

# A check-in answered by the resident is activity; its source in the TSDB says where it came
# from (the protocol's activity sources do not include it).
CHECKIN_SOURCE: Final = "checkin"

# Event kinds that become points; emergencies are written as their alert's changes.
_WRITTEN_KINDS: Final = frozenset({"activity", "heartbeat", "status", "vitals", "checkin"})

# ------------------------------------------------------------------------------ limits

BUFFER_POINTS: Final = 50_000
BATCH_POINTS: Final = 5_000
FLUSH_S: Final = 1.0
CLOSE_DEADLINE_S: Final = 5.0
# A batch the server refuses as malformed would be refused again: drop it, don't retry.
_REFUSED_STATUSES: Final = frozenset({400, 413, 422})

Record = tuple[Event | AlertChange, str, str]
"""What the buffer holds: the committed event or alert change, its district, its device kind."""


def to_point(item: Event | AlertChange, district: str, device_kind: str) -> Point | None:
    """The point for one committed event or alert change, or ``None`` if none is written.

    Numeric readings are always floats and counts always integers, so a field never changes
    type between writes (InfluxDB refuses a batch that would).
    """
    from influxdb_client.client.write.point import Point as _Point
    from influxdb_client.domain.write_precision import WritePrecision

    new: Any = _Point  # the library's methods are not annotated
    ms = WritePrecision.MS
    if isinstance(item, AlertChange):
        return cast(
            "Point",
            new(ALERT_CHANGE)
            .tag("resident", item.resident)
            .tag("district", district)
            .tag("kind", item.kind)
            .tag("stage", item.stage)
            .tag("state", item.state)
            .field("changes", 1)
            .field("alert_id", item.alert_id)
            .time(item.ts, ms),
        )
    message: Any = item.message
    measurement, extra_tag = _measurement_of(item)
    if measurement is None:
        return None
    point = (
        new(measurement)
        .tag("resident", item.resident)
        .tag("district", district)
        .tag("device_kind", device_kind)
        .time(message.ts, ms)
    )
    if extra_tag is not None:
        point.tag(*extra_tag)
    if measurement == ACTIVITY:
        point.field("count", int(getattr(message, "count", None) or 1))
    elif measurement == HEARTBEAT:
        point.field("interval_s", int(message.interval_s))
        if message.battery_pct is not None:
            point.field("battery_pct", float(message.battery_pct))
        if message.rssi is not None:
            point.field("rssi", float(message.rssi))
    elif measurement == DEVICE_STATUS:
        point.field("online", 1 if message.state == "online" else 0)
    elif isinstance(message.value, BloodPressure):
        point.field("systolic", float(message.value.systolic))
        point.field("diastolic", float(message.value.diastolic))
    else:
        point.field("value", float(message.value))
    return cast("Point", point)


def _measurement_of(event: Event) -> tuple[str | None, tuple[str, str] | None]:
    message: Any = event.message
    match event.kind:
        case "activity":
            return ACTIVITY, ("source", message.source)
        case "checkin":
            return (ACTIVITY, ("source", CHECKIN_SOURCE)) if message.answered else (None, None)
        case "heartbeat":
            return HEARTBEAT, ("device", event.device)
        case "status":
            return DEVICE_STATUS, ("device", event.device)
        case "vitals":
            return VITALS, ("kind", message.kind)
    return None, None


# ------------------------------------------------------------------------------ writer


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
            elif item.kind in _WRITTEN_KINDS and getattr(item.message, "answered", True):
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
        lines = [line for line in map(_line, batch) if line]
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


def _line(record: Record) -> str:
    point = to_point(*record)
    return "" if point is None else str(cast(Any, point).to_line_protocol())


def _retryable(error: BaseException) -> bool:
    """An answer other than "malformed", or no answer at all; not a mistake of ours."""
    from urllib3.exceptions import HTTPError

    status = getattr(error, "status", None)
    if status is not None:
        return status not in _REFUSED_STATUSES
    return isinstance(error, HTTPError | OSError)
