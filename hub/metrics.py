"""The hub's Prometheus metrics: what it counts, what it reads on each scrape, and the page.

Owns one :class:`~prometheus_client.CollectorRegistry` per hub, never the library's global
one: tests (and the demo) run several hubs in one process. The numbers come two ways.

- Counted as things happen: each unit of work (:mod:`hub.unit_of_work`) fills a
  :class:`Tally` during its transaction and hands it over only after the commit, so a
  batch that rolls back and is retried message by message is counted once; the
  dispatcher reports each outbox row that reaches ``sent``, ``delivered``, ``failed`` or
  ``unknown``.
- Read on scrape, by :class:`_Current`: open alerts and outbox depth (one grouped query
  each, :mod:`hub.store.metrics_reads`, on the health probe's own connections and within
  :data:`hub.health.SCRAPE_TIMEOUT_S`), whether the database is up (read in time and the
  worker's last write committed), the ingest worker's backlog, how far behind its writes
  are, its bound and what it shed, the broker connection and how often it waited for
  room, and the telemetry sink's buffer when ``hub.telemetry`` is set.

Labels are short codes only (kind, stage, state, reason, channel, role, outcome): never a
resident id, a name or a phone number, so every series stays few and says nothing personal.
"""

from __future__ import annotations

from collections import Counter as Tallies
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, get_args

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.health import SCRAPE_TIMEOUT_S, Bounded, NoAnswerError
from hub.store import metrics_reads
from hub.store.db import Engine, reading
from protocol.parse import RejectionReason
from protocol.topics import EventKind

log = structlog.get_logger(__name__)

# From a worker that wakes on time (~10 ms) to one a minute late, which is already an outage.
LAG_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
OUTCOMES: Final = frozenset({"sent", "delivered", "failed", "unknown"})
CHANNELS: Final = ("sms", "mqtt", "apprise")
# Reasons the hub adds to the protocol's own (see hub.intake.Intake).
HUB_REASONS: Final = ("unknown_device", "conflicting_duplicate", "internal_error")


@dataclass(slots=True)
class Tally:
    """What one HubCore transaction did; given to :meth:`HubMetrics.add` after it commits."""

    events: Tallies[str] = field(default_factory=Tallies)
    duplicates: Tallies[str] = field(default_factory=Tallies)
    rejected: Tallies[str] = field(default_factory=Tallies)
    opened: Tallies[tuple[str, str]] = field(default_factory=Tallies)
    stages: Tallies[tuple[str, str]] = field(default_factory=Tallies)
    lags: list[float] = field(default_factory=list)


class HubMetrics:
    """The hub's registry and the counters its threads feed."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self._events = Counter(
            "anbu_events_received",
            "Valid device messages from registered devices, by kind (repeats excluded)",
            ["kind"],
            registry=reg,
        )
        self._duplicates = Counter(
            "anbu_events_duplicate",
            "Device messages dropped as repeats of one already stored, by kind",
            ["kind"],
            registry=reg,
        )
        self._rejected = Counter(
            "anbu_events_rejected",
            "Device messages refused and dead-lettered, by reason",
            ["reason"],
            registry=reg,
        )
        self._opened = Counter(
            "anbu_alerts_opened",
            "Alerts opened, by kind and the stage they opened at",
            ["kind", "stage"],
            registry=reg,
        )
        self._stages = Counter(
            "anbu_alert_stage_changes",
            "Alerts escalated to a stage, by kind and the new stage",
            ["kind", "stage"],
            registry=reg,
        )
        self._notifications = Counter(
            "anbu_notifications",
            "Outbox rows reaching a state, by channel, role and outcome"
            " (an SMS counts once as sent and again when delivered)",
            ["channel", "role", "outcome"],
            registry=reg,
        )
        self._lag = Histogram(
            "anbu_escalation_lag_seconds",
            "From a resident's due time to the moment the hub carried out that step",
            buckets=LAG_BUCKETS,
            registry=reg,
        )
        # Known label values start at zero, so rate() and absent() work from the first scrape.
        for kind in get_args(EventKind):
            self._events.labels(kind)
            self._duplicates.labels(kind)
        for reason in (*get_args(RejectionReason), *HUB_REASONS):
            self._rejected.labels(reason)
        self._watched: _Current | None = None

    def add(self, tally: Tally) -> None:
        """Count what a committed transaction did."""
        for kind, count in tally.events.items():
            self._events.labels(kind).inc(count)
        for kind, count in tally.duplicates.items():
            self._duplicates.labels(kind).inc(count)
        for reason, count in tally.rejected.items():
            self._rejected.labels(reason).inc(count)
        for (kind, stage), count in tally.opened.items():
            self._opened.labels(kind, stage).inc(count)
        for (kind, stage), count in tally.stages.items():
            self._stages.labels(kind, stage).inc(count)
        for lag in tally.lags:
            self._lag.observe(max(0.0, lag))

    def notification(self, channel: str, role: str | None, outcome: str) -> None:
        """An outbox row reached ``outcome``; the dispatcher calls this after its commit."""
        if outcome in OUTCOMES:
            self._notifications.labels(channel, role or "none", outcome).inc()

    def watch(self, hub: object) -> None:
        """Read ``hub``'s current state on every scrape (see :class:`_Current`)."""
        if self._watched is None:
            self._watched = _Current(hub)
            self.registry.register(self._watched)

    def render(self) -> bytes:
        """The Prometheus text exposition of everything above."""
        return generate_latest(self.registry)


class _Current(Collector):
    """Values read when scraped. Each part is skipped while the hub lacks it (not started
    yet, or no telemetry sink), so a scrape never fails because of one of them."""

    def __init__(self, hub: object) -> None:
        self._hub = hub
        self._scrape: Bounded[_Reads] = Bounded("anbu-db-scrape")

    def describe(self) -> Iterable[Metric]:
        return []  # registering must not query a database that may not be open yet

    def collect(self) -> Iterator[Metric]:
        hub = self._hub
        # The health probe's own connections when the hub has them, not the writers' pool.
        engine = getattr(getattr(hub, "health_check", None), "engine", None)
        engine = engine or getattr(hub, "engine", None)
        if engine is not None:
            yield from _database(engine, self._scrape, getattr(hub, "worker", None))
        bridge = getattr(hub, "bridge", None)
        if bridge is not None:
            yield GaugeMetricFamily(
                "anbu_mqtt_connected",
                "1 while the hub is connected to its MQTT broker",
                value=1.0 if bridge.connected.is_set() else 0.0,
            )
            yield CounterMetricFamily(
                "anbu_mqtt_backpressure_waits",
                "Times a received message found the ingest queue full and the MQTT network"
                " thread waited (reading nothing more from the broker meanwhile)",
                value=getattr(bridge, "waits", 0),
            )
            dropped = getattr(bridge, "broker_dropped", None)
            if dropped is not None:
                yield GaugeMetricFamily(
                    "anbu_broker_dropped_messages",
                    "Messages the broker dropped since it started (a client's queue over its"
                    " max_queued_messages), as Mosquitto's $SYS tree counts them",
                    value=float(dropped),
                )
        worker = getattr(hub, "worker", None)
        if worker is not None:
            yield from _worker(worker)
        telemetry = getattr(hub, "telemetry", None)
        if telemetry is not None:
            yield from _telemetry(telemetry)
        clock_check = getattr(hub, "clock_check", None)
        if clock_check is not None:
            yield from _clock(clock_check.report())


_DB_UP: Final = (
    "1 when the scrape read the database within its time limit and the ingest worker's"
    " last write committed (a database that reads but cannot store is not up)"
)
_Reads = tuple[list[metrics_reads.OpenAlerts], dict[str, int]]


def _reads(engine: Engine) -> _Reads:
    with reading(engine) as conn:
        return metrics_reads.open_alerts(conn), metrics_reads.pending_by_channel(conn)


def _database(engine: Engine, scrape: Bounded[_Reads], worker: Any) -> Iterator[Metric]:
    writes = getattr(worker, "writes", None)
    writes_ok = writes is None or writes.ok is not False
    if writes is not None:
        yield GaugeMetricFamily(
            "anbu_ingest_write_ok",
            "1 unless the ingest worker's last write failed (it retries until one commits)",
            value=1.0 if writes_ok else 0.0,
        )
        yield GaugeMetricFamily(
            "anbu_ingest_behind_seconds",
            "How long the ingest worker's write in progress has gone without committing",
            value=writes.behind_s(),
        )
    try:
        # The probe's own connections, bounded in time: a frozen database gives 0, not a
        # scrape that hangs.
        open_rows, pending = scrape.run(lambda: _reads(engine), SCRAPE_TIMEOUT_S)
    except (metrics_reads.StoreError, NoAnswerError):
        log.warning("metrics.database_unavailable", exc_info=True)
        yield GaugeMetricFamily("anbu_database_up", _DB_UP, value=0)
        return
    yield GaugeMetricFamily("anbu_database_up", _DB_UP, value=1 if writes_ok else 0)
    current = GaugeMetricFamily(
        "anbu_alerts_open",
        "Alerts not yet resolved, by kind, state (open or acknowledged) and stage",
        labels=["kind", "state", "stage"],
    )
    for row in open_rows:
        current.add_metric([row.kind, row.state, row.stage], row.count)
    yield current
    depth = GaugeMetricFamily(
        "anbu_outbox_pending",
        "Outbox rows waiting to be sent (incl. retries and quiet-hour holds), by channel",
        labels=["channel"],
    )
    for channel in sorted({*CHANNELS, *pending}):
        depth.add_metric([channel], pending.get(channel, 0))
    yield depth


def _worker(worker: Any) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "anbu_ingest_backlog",
        "Messages and calls queued for the ingest worker",
        value=worker.backlog(),
    )
    yield CounterMetricFamily(
        "anbu_ingest_processed",
        "MQTT messages the ingest worker has stored and acknowledged",
        value=worker.processed,
    )
    yield GaugeMetricFamily(
        "anbu_ingest_timer_lag_seconds",
        "How late the worker woke for the most recent due time",
        value=worker.lag_s,
    )
    shed = getattr(worker, "shed", None)
    if shed is not None:
        family = CounterMetricFamily(
            "anbu_ingest_shed",
            "QoS 0 device messages shed because the ingest queue was full, by kind"
            " (emergencies are never shed)",
            labels=["kind"],
        )
        for kind in (*get_args(EventKind), "other"):
            family.add_metric([kind], shed.get(kind, 0))
        yield family
        yield GaugeMetricFamily(
            "anbu_ingest_queue_max",
            "How many messages the ingest queue holds before it sheds QoS 0 and holds QoS 1 back",
            value=worker.queue_max,
        )


def _telemetry(telemetry: Any) -> Iterator[Metric]:
    buffered = getattr(telemetry, "buffered", None)
    if buffered is not None:
        yield GaugeMetricFamily(
            "anbu_tsdb_buffered_points",
            "Telemetry points waiting to be written to the time-series database",
            value=int(buffered),
        )
    for name, text in (
        ("written", "Telemetry points written to the time-series database"),
        ("dropped", "Telemetry points dropped (buffer full or refused by the database)"),
    ):
        value = getattr(telemetry, name, None)
        if value is not None:
            yield CounterMetricFamily(f"anbu_tsdb_{name}_points", text, value=int(value))


def _clock(report: dict[str, Any]) -> Iterator[Metric]:
    """The hub's clock check (hub/clock_check.py), each figure only when its reference answered.

    Two gauges rather than a ``source`` label: labels stay the short codes of the README."""
    figures = (
        (
            "anbu_clock_skew_seconds",
            "devices_skew_s",
            "The hub's clock minus its devices' (their live heartbeats)",
        ),
        (
            "anbu_clock_database_skew_seconds",
            "database_skew_s",
            "The hub's clock minus its database server's (PostgreSQL; SQLite keeps none)",
        ),
        (
            "anbu_clock_held_seconds",
            "held_s",
            "The hub's time minus the machine's wall clock: a step not yet given back",
        ),
    )
    for name, key, what in figures:
        value = report.get(key)
        if value is not None:
            yield GaugeMetricFamily(name, what, value=float(value))
    synced = report.get("ntp_synchronized")
    if synced is not None:
        yield GaugeMetricFamily(
            "anbu_clock_ntp_synchronized",
            "1 when the operating system says its clock is NTP-synchronised",
            value=1.0 if synced else 0.0,
        )
