"""``anbu bench timers``: a storm of due steps, emergencies during it, memory per resident.

Owns the timer benchmark. One run starts a real Mosquitto and a hub (temporary SQLite unless
a database URL is given) on a clock of its own, registers N residents (each with a speaker
and a guardian), then moves the hub's clock past every resident's first due step (their
check-in after a quiet day) at once — a hub back after hours down, an outage ending — and
measures:

* storm: due steps fired from the jump until nothing is due any more, per second, and how
  long each slice of due work held the worker (the worker serves its queue between slices);
* latency: emergencies published one after another while the storm drains, from a process
  of its own, each from publish until its guardian and control-centre SMS rows are in the
  outbox (each to a resident of its own without an open alert); only those whose rows were
  there before the storm ended are counted (about 20 a second: a long storm needs more
  than the default 200 to be covered to its end);
* memory: the process's RSS before and after registering (the hub runs in this process, so
  the figure is the hub's plus the benchmark's own small part), per resident.

The figures are returned, printed through ``out`` and written to ``output`` as JSON.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import secrets
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final

import paho.mqtt.client as mqtt
import structlog
import typer
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from hub.broker import Broker, MosquittoBroker
from hub.logs import configure_logging
from hub.runtime import Hub
from hub.service import HubCore
from hub.settings import Settings
from hub.store.db import open_engine
from hub.store.tables import outbox
from protocol import Emergency, device_topic, to_json
from simulators.bench import (
    CONTROL_CENTER_PHONES,
    DEVICE,
    BenchError,
    _close,
    _count,
    _percentile,
    _register_one,
    write_figures,
)

Out = Callable[[str], None]

DEFAULT_EMERGENCIES: Final = 200
READY_TIMEOUT_S: Final = 20.0
REGISTER_CHUNK: Final = 100
"""Residents registered per call into the worker (each in transactions of its own)."""
REGISTER_TIMEOUT_S: Final = 300.0
LATENCY_TIMEOUT_S: Final = 30.0
LATENCY_POLL_S: Final = 0.001
EMERGENCY_GAP_S: Final = 0.02
"""Pause between one emergency's rows appearing and the next emergency."""
STORM_POLL_S: Final = 0.01
JUMP_PAST_S: Final = 1.0
"""How far past the last resident's first due step the clock is moved."""


class JumpClock:
    """The wall clock plus an offset the benchmark moves forward in one step."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def jump(self, delta: timedelta) -> None:
        self._offset += delta


def run_timers_bench(
    residents: int,
    output: Path,
    db_url: str | None,
    *,
    emergencies: int = DEFAULT_EMERGENCIES,
    out: Out | None = None,
) -> dict[str, Any]:
    """Run the storm on one fresh broker and hub; return and write the figures."""
    if residents < 1 or emergencies < 1:
        raise ValueError("residents and emergencies must be at least 1")
    say: Out = out if out is not None else typer.echo
    if not structlog.is_configured():
        configure_logging(level="WARNING")  # keep the hub's INFO lines off stdout
    workdir = Path(tempfile.mkdtemp(prefix="anbu-bench-timers-"))
    broker = Broker.mosquitto(workdir=workdir / "mosquitto")
    clock = JumpClock()
    hub: Hub | None = None
    try:
        settings = Settings(
            mqtt_url=broker.url,
            mqtt_protocol="5",
            mqtt_client_id=f"anbu-bench-{secrets.token_hex(3)}",
            db_url=db_url or f"sqlite:///{workdir / 'bench.db'}",
            admin_token=None,
            sms=f"log:{workdir / 'sms-outbox.jsonl'}",
            control_center_phones=list(CONTROL_CENTER_PHONES),
        )
        hub = Hub(settings, serve_http=False, clock=clock).start()
        if not hub.wait_ready(READY_TIMEOUT_S):
            raise BenchError(f"the hub did not connect to {broker.url} in {READY_TIMEOUT_S:g} s")
        prefix = f"t{secrets.token_hex(3)}"
        storm_ids = [f"{prefix}-r{i}" for i in range(residents)]
        alarm_ids = [f"{prefix}-e{i}" for i in range(emergencies)]
        rss_before = _rss_bytes()
        started = time.perf_counter()
        _register_all(hub, storm_ids + alarm_ids, say)
        register_s = time.perf_counter() - started
        rss_registered = _rss_bytes()
        say(f"registered {residents + emergencies} residents in {register_s:.1f} s")

        due = hub.core.due_of(storm_ids + alarm_ids)
        if any(when is None for when in due.values()):
            raise BenchError("a registered resident has no step due")
        last_due = max(when for when in due.values() if when is not None)
        storm_at = last_due + timedelta(seconds=JUMP_PAST_S)
        figures = _storm(hub, broker, clock, storm_at, alarm_ids, say)
        rss_after = _rss_bytes()
        slices = list(hub.worker.slice_s)
        latencies = figures.pop("latencies")
        total = residents + emergencies
        result: dict[str, Any] = {
            "residents": residents,
            "db": hub.engine.url.get_backend_name(),
            "register_s": round(register_s, 1),
            "storm": {
                **figures,
                "slices": len(slices),
                "slice_ms": _summary([s * 1000 for s in slices]),
            },
            "emergency_latency_ms": _summary(latencies),
            "rss": {
                "before_mb": round(rss_before / 2**20, 1),
                "registered_mb": round(rss_registered / 2**20, 1),
                "after_storm_mb": round(rss_after / 2**20, 1),
                "per_resident_kb": round((rss_registered - rss_before) / total / 1024, 2),
                "per_resident_after_storm_kb": round((rss_after - rss_before) / total / 1024, 2),
            },
            "broker": "mosquitto",
            "machine": {"cpus": os.cpu_count()},
        }
    finally:
        if hub is not None:
            hub.stop()
        broker.close()
        shutil.rmtree(workdir, ignore_errors=True)
    write_figures(result, output, say)
    return result


# ---------------------------------------------------------------------- measurements


def _storm(
    hub: Hub,
    broker: MosquittoBroker,
    clock: JumpClock,
    storm_at: datetime,
    alarm_ids: list[str],
    say: Out,
) -> dict[str, Any]:
    """Move the clock to ``storm_at``; time the drain while emergencies go in."""
    done = threading.Event()
    ended = [0.0]
    core = hub.core
    baseline = hub.worker.due_fired

    def watch() -> None:
        # The store's earliest due step past the storm instant: the storm is drained.
        while not done.is_set():
            following = core.next_due()
            if following is None or following > storm_at:
                ended[0] = time.perf_counter()
                done.set()
                return
            time.sleep(STORM_POLL_S)

    emergencies = _Emergencies(hub, broker, alarm_ids)  # started (and connected) first
    clock.jump(storm_at - clock.now())
    started = time.perf_counter()
    emergencies.go(clock.now() - datetime.now(UTC))
    hub.call(lambda _now: None)  # wake the worker now rather than at its next look
    watcher = threading.Thread(target=watch, name="bench-storm-watch", daemon=True)
    watcher.start()
    latencies = emergencies.until(done)
    deadline = time.perf_counter() + 3600
    while not done.wait(1.0):
        if time.perf_counter() > deadline:
            raise BenchError("the storm did not drain within an hour")
    seconds = ended[0] - started
    steps = hub.worker.due_fired - baseline
    say(f"storm: {steps} due steps in {seconds:.2f} s ({steps / seconds:,.0f}/s)")
    return {
        "due_steps": steps,
        "seconds": round(seconds, 3),
        "due_steps_per_s": round(steps / seconds, 1),
        "latencies": latencies,
    }


class _Emergencies:
    """Emergencies from a process of its own (in the hub's, its polling would share the
    interpreter lock with the worker and slow the storm it measures)."""

    def __init__(self, hub: Hub, broker: MosquittoBroker, alarm_ids: list[str]) -> None:
        context = multiprocessing.get_context("spawn")
        self._over = context.Event()
        self._pipe, child_end = context.Pipe(duplex=True)
        self._child = context.Process(
            target=_emergency_process,
            args=(broker.host, broker.port, hub.settings.db_url, alarm_ids, self._over, child_end),
            name="anbu-bench-emergencies",
        )
        self._child.start()
        child_end.close()
        if not self._pipe.poll(READY_TIMEOUT_S) or self._pipe.recv() != "ready":
            self._child.kill()
            raise BenchError("the emergency process did not start")

    def go(self, offset: timedelta) -> None:
        """Start publishing, stamping the hub's time (the wall clock plus ``offset``)."""
        self._pipe.send(offset)

    def until(self, done: threading.Event) -> list[float]:
        """Publish until the storm is over; the latency (ms) of each emergency whose rows
        were in before it ended."""
        try:
            while not done.wait(STORM_POLL_S):
                if not self._child.is_alive():
                    break
            self._over.set()
            if not self._pipe.poll(LATENCY_TIMEOUT_S + 10):
                raise BenchError(f"no answer from the emergencies ({self._child.exitcode})")
            reply: list[float] | str = self._pipe.recv()
        finally:
            self._over.set()
            self._child.join(10)
        if isinstance(reply, str):
            raise BenchError(reply)
        return reply


def _emergency_process(
    host: str,
    port: int,
    db_url: str,
    alarm_ids: list[str],
    over: Any,
    answer: Connection,
) -> None:
    """Child process: once told the hub's clock offset, one emergency at a time, each to a
    resident of its own, until ``over``; sends back the latencies (ms) of those whose rows
    were in before it, or an error."""
    engine = open_engine(db_url)
    publisher = _publisher(host, port)
    latencies: list[float] = []
    try:
        answer.send("ready")
        offset: timedelta = answer.recv()
        for i, resident in enumerate(alarm_ids):
            if over.is_set():
                break
            ts = datetime.now(UTC) + offset
            payload = to_json(Emergency(v=1, id=f"e-{i}", ts=ts, trigger="voice", text="살려줘"))
            query = (
                select(func.count(func.distinct(outbox.c.role)))
                .select_from(outbox)
                .where(
                    outbox.c.resident_id == resident,
                    outbox.c.channel == "sms",
                    outbox.c.kind == "emergency",
                    outbox.c.role.in_(("guardian", "control_center")),
                )
            )
            started = time.perf_counter()
            publisher.publish(device_topic(resident, DEVICE, "emergency"), payload, qos=1)
            deadline = started + LATENCY_TIMEOUT_S
            while _count(engine, query) < 2:
                if time.perf_counter() > deadline:
                    answer.send(f"latency: no guardian+centre SMS rows for {resident}")
                    return
                time.sleep(LATENCY_POLL_S)
            if not over.is_set():
                latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(EMERGENCY_GAP_S)
        answer.send(latencies)
    finally:
        _close(publisher)
        engine.dispose()
        answer.close()


# ---------------------------------------------------------------------- helpers


def _publisher(host: str, port: int) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"bench-timers-emergency-{secrets.token_hex(3)}",
        protocol=mqtt.MQTTv5,
    )
    connected = threading.Event()
    client.on_connect = lambda _c, _u, _f, reason, _p: (
        None if reason.is_failure else connected.set()
    )
    client.connect(host, port, keepalive=60)
    client.loop_start()
    if not connected.wait(10):
        _close(client)
        raise BenchError(f"the emergency publisher could not connect to {host}:{port}")
    return client


def _register_all(hub: Hub, resident_ids: list[str], say: Out) -> None:
    core = hub.core
    next_report = time.perf_counter() + 10
    for start in range(0, len(resident_ids), REGISTER_CHUNK):
        chunk = resident_ids[start : start + REGISTER_CHUNK]
        hub.worker.call(partial(_register_chunk, core, chunk), timeout=REGISTER_TIMEOUT_S)
        if time.perf_counter() >= next_report:
            next_report += 10
            say(f"registering: {start + len(chunk)} of {len(resident_ids)}")


def _register_chunk(core: HubCore, resident_ids: list[str], now: datetime) -> None:
    for resident in resident_ids:
        _register_one(core, resident, DEVICE, now)


def _rss_bytes() -> int:
    """This process's resident set size, after a full collection."""
    gc.collect()
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _summary(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    return {
        "p50": round(statistics.median(values), 2),
        "p99": round(_percentile(values, 99), 2),
        "max": round(max(values), 2),
        "count": len(values),
    }
