"""Telemetry through a real hub: MQTT in, points out to VictoriaMetrics (InfluxDB v2 write API).

Each test runs the hub against a real Mosquitto and reads the points back through
VictoriaMetrics' export API, or points the hub at a TSDB that is down (a closed port, a
VictoriaMetrics stopped mid-run) or slow (a server taking 5 s per write), and checks that
ingest and escalation go on exactly as with telemetry off.

SQLite only: the telemetry path never touches the database, and both backends' ingest is
covered elsewhere.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from hub.store.tables import events
from hub.telemetry_points import SCHEMA
from tests.conftest import free_port
from tests.hub.conftest import RunningHub
from tests.hub.support import Device, read_sms, wait_until
from tests.hub.tsdb import LineServer, VictoriaMetrics, failed_writes, find_victoria_metrics

# Timing is part of what this checks: it runs alone, after the parallel part of the suite
# (scripts/test.sh), so other tests' load cannot fail it.
pytestmark = pytest.mark.serial

FAST = {"checkin_after": "PT2S", "guardian_after": "PT3S", "control_center_after": "PT6S"}
TOLERANCE_S = 2.0  # as in test_escalation_e2e: a step fires within 2 s of its due time
GUARDIAN_S = 3.0
FLOOD = 1_000
SMALL_BUFFER = 50
TSDB_TOKEN = "tsdb-test-token-0123456789"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'anbu.db'}"


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    binary = find_victoria_metrics()
    if binary is None:
        pytest.fail(
            "the victoria-metrics binary is missing; ./scripts/test.sh installs it, "
            "or run: apt-get install -y victoria-metrics",
            pytrace=False,
        )
    server = VictoriaMetrics(tmp_path / "vm", binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _influx(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "influx_url": url,
        "influx_token": SecretStr(TSDB_TOKEN),
        "influx_org": "anbu",
        "influx_bucket": "anbu",
        **extra,
    }


def _ms(ts: str) -> int:
    return (datetime.fromisoformat(ts) - EPOCH) // timedelta(milliseconds=1)


def _series(vm: VictoriaMetrics) -> dict[str, list[dict[str, Any]]]:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for series in vm.export():
        by_name.setdefault(series["metric"]["__name__"], []).append(series)
    return by_name


def _one(series: list[dict[str, Any]], **labels: str) -> dict[str, Any]:
    found = [s for s in series if all(s["metric"].get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (labels, [s["metric"] for s in series])
    return found[0]


def _vitals(device: Device, kind: str, value: Any, unit: str) -> None:
    body = {
        "v": 1,
        "id": f"m-{kind}",
        "ts": device.ts(),
        "kind": kind,
        "value": value,
        "unit": unit,
    }
    device.raw("vitals", json.dumps(body))


# ---------------------------------------------------------------- (a) points and tags


def test_an_mqtt_run_lands_in_victoria_metrics_with_the_right_tags(
    victoria: VictoriaMetrics, start_hub: Callable[..., RunningHub]
) -> None:
    running = start_hub(**_influx(victoria.url))
    running.resident("r1", devices={"spk1": "speaker", "gw1": "sensors"})
    speaker = running.device("r1", "spk1")
    sensors = running.device("r1", "gw1")
    sent: dict[str, str] = {}
    try:
        sent["voice"] = speaker.ts()
        voice = {"v": 1, "id": "a-voice", "ts": sent["voice"], "source": "voice"}
        speaker.raw("activity", json.dumps(voice))
        speaker.raw("activity", json.dumps(voice))  # a duplicate: stored once, written once
        speaker.send("activity", source="speaker_use", count=4)
        sent["heartbeat"] = speaker.ts()
        speaker.raw(
            "heartbeat",
            json.dumps(
                {
                    "v": 1,
                    "id": "h-1",
                    "ts": sent["heartbeat"],
                    "interval_s": 300,
                    "battery_pct": 81,
                    "rssi": -61,
                    "fw": "speaker-agent 0.3.1",
                }
            ),
        )
        sensors.send("activity", source="motion")
        _vitals(sensors, "blood_pressure", {"systolic": 135, "diastolic": 85}, "mmHg")
        _vitals(sensors, "glucose", 182, "mg/dL")
        sensors.raw("status", json.dumps({"state": "offline", "ts": sensors.ts()}))
        speaker.emergency()
    finally:
        speaker.close()
        sensors.close()

    wanted = {
        "activity_count",
        "heartbeat_battery_pct",
        "heartbeat_rssi",
        "heartbeat_interval_s",
        "vitals_systolic",
        "vitals_diastolic",
        "vitals_value",
        "device_status_online",
        "alert_change_changes",
    }
    telemetry = running.hub.telemetry
    assert telemetry is not None

    def paged() -> bool:
        changes = _series(victoria).get("alert_change_changes", [])
        return any(
            (s["metric"].get("kind"), s["metric"].get("state"), s["metric"].get("stage"))
            == ("emergency", "open", "control_center")
            for s in changes
        )

    wait_until(lambda: wanted <= set(_series(victoria)), timeout=20, interval=0.25)
    # The emergency's alert goes through more than one change (opened, paged) shortly after:
    # wait for the page's, with the hub settled and the sink's buffer empty.
    wait_until(paged, timeout=20, interval=0.25)
    running.settle()
    wait_until(lambda: telemetry.buffered == 0, timeout=10)
    series = _series(victoria)
    base = {"resident": "r1", "district": "유성구"}

    activity = series["activity_count"]
    voice_series = _one(activity, source="voice", device_kind="speaker", **base)
    assert voice_series["values"] == [1]
    assert voice_series["timestamps"] == [_ms(sent["voice"])], "device time, once"
    assert _one(activity, source="speaker_use", device_kind="speaker")["values"] == [4]
    assert _one(activity, source="motion", device_kind="sensors", **base)["values"] == [1]

    health = {"device": "spk1", "device_kind": "speaker", **base}
    assert _one(series["heartbeat_battery_pct"], **health)["values"] == [81]
    assert _one(series["heartbeat_rssi"], **health)["values"] == [-61]
    heartbeat = _one(series["heartbeat_interval_s"], **health)
    assert heartbeat["values"] == [300]
    assert heartbeat["timestamps"] == [_ms(sent["heartbeat"])]
    status = _one(series["device_status_online"], device="gw1", device_kind="sensors", **base)
    assert status["values"] == [0]

    bp = {"kind": "blood_pressure", "device_kind": "sensors", **base}
    assert _one(series["vitals_systolic"], **bp)["values"] == [135]
    assert _one(series["vitals_diastolic"], **bp)["values"] == [85]
    assert _one(series["vitals_value"], kind="glucose", **base)["values"] == [182]

    changes = [s["metric"] for s in series["alert_change_changes"]]
    assert all(m["district"] == "유성구" and m["resident"] == "r1" for m in changes), changes
    emergency = {(m["state"], m["stage"]) for m in changes if m["kind"] == "emergency"}
    assert ("open", "control_center") in emergency, changes

    # Only the schema's names, only its tags.
    allowed = {f"{m}_{f}": tags for m, (tags, fields) in SCHEMA.items() for f in fields}
    for name, group in series.items():
        assert name in allowed, name
        for one in group:
            assert set(one["metric"]) - {"__name__"} <= allowed[name], one["metric"]

    # No names, phone numbers, resident's words or firmware strings anywhere in the TSDB
    # (values and timestamps are numbers: the labels are where text could go).
    raw = victoria.export_text()
    labels = json.dumps([s["metric"] for group in series.values() for s in group])
    assert "유성구" in raw
    for secret in ("김영희", "담당자", "살려줘", "아리아", "speaker-agent", TSDB_TOKEN):
        assert secret not in raw, secret
    for phone in ("+82", "821000000000", "821099990000", "8220000000", "8220000001"):
        assert phone not in labels, phone
    assert telemetry.dropped == 0
    assert telemetry.written >= 9


# --------------------------------------------- (b, c) a TSDB down or slow blocks nothing


@dataclass
class Phase:
    name: str
    guardian_s: float
    ingest_s: float
    stop_s: float
    stored: int
    written: int = 0
    dropped: int = 0
    buffered: int = 0

    def figures(self) -> str:
        rate = FLOOD / self.ingest_s
        return (
            f"{self.name}: guardian {self.guardian_s:.2f} s, ingest {rate:.0f} msg/s, "
            f"stop {self.stop_s:.2f} s, written {self.written}, dropped {self.dropped}"
        )


def _phase(
    start_hub: Callable[..., RunningHub],
    tmp_path: Path,
    name: str,
    before: Callable[[RunningHub], None] | None = None,
    **overrides: Any,
) -> Phase:
    """One hub: a PT3S resident escalates while another resident's device floods the hub."""
    sms = tmp_path / f"sms-{name}.jsonl"
    running = start_hub(db_url=f"sqlite:///{tmp_path / name}.db", sms=f"log:{sms}", **overrides)
    running.resident("busy", devices={"gw1": "sensors"})
    device = running.device("busy", "gw1")
    try:
        device.activity()
        if before is not None:
            before(running)
        start = running.clock.now()
        running.resident("late", policy=FAST)
        flood_started = time.monotonic()
        for index in range(FLOOD):
            if index % 10 == 0:
                device.send("heartbeat", wait=False, interval_s=300, battery_pct=50)
            else:
                device.activity(source="motion", wait=False)

        def stored() -> int:
            with running.hub.engine.connect() as conn:
                query = select(func.count()).where(events.c.resident_id == "busy")
                return int(conn.execute(query).scalar_one())

        wait_until(lambda: stored() == FLOOD + 1, timeout=60, interval=0.02)
        ingest_s = time.monotonic() - flood_started

        def guardian() -> list[dict[str, Any]]:
            return [
                line
                for line in read_sms(sms)
                if line["resident"] == "late" and line["role"] == "guardian"
            ]

        wait_until(guardian, timeout=GUARDIAN_S + TOLERANCE_S + 2)
        guardian_s = (datetime.fromisoformat(guardian()[0]["ts"]) - start).total_seconds()
    finally:
        device.close()
    telemetry = running.hub.telemetry
    phase = Phase(name, guardian_s, ingest_s, 0.0, stored())
    if telemetry is not None:
        phase.written, phase.dropped = telemetry.written, telemetry.dropped
        phase.buffered = telemetry.buffered
    stopping = time.monotonic()
    running.hub.stop()
    phase.stop_s = time.monotonic() - stopping
    return phase


def _report(*phases: Phase) -> None:
    # Shown with -s or -rA, and on failure: the figures behind the bounds below.
    sys.stdout.write("".join(f"\n{phase.figures()}" for phase in phases) + "\n")


def _check_against_off(phase: Phase, off: Phase) -> None:
    assert phase.stored == FLOOD + 1, f"{phase.name}: every event must be stored"
    assert abs(phase.guardian_s - GUARDIAN_S) <= TOLERANCE_S, phase.figures()
    assert abs(phase.guardian_s - off.guardian_s) <= TOLERANCE_S, (phase.figures(), off.figures())
    # Generous bounds (a shared machine): a blocking write would cost seconds per batch.
    assert phase.ingest_s <= max(2 * off.ingest_s, off.ingest_s + 2.0), (
        phase.figures(),
        off.figures(),
    )
    assert phase.stop_s <= off.stop_s + 3.0, (phase.figures(), off.figures())


def test_tsdb_down_changes_neither_ingest_nor_escalation_timing(
    victoria: VictoriaMetrics,
    start_hub: Callable[..., RunningHub],
    tmp_path: Path,
) -> None:
    off = _phase(start_hub, tmp_path, "off")
    assert off.stored == FLOOD + 1
    assert abs(off.guardian_s - GUARDIAN_S) <= TOLERANCE_S, off.figures()

    closed = _phase(
        start_hub,
        tmp_path,
        "closed-port",
        **_influx(f"http://127.0.0.1:{free_port()}", influx_buffer=SMALL_BUFFER),
    )

    def stop_vm_once_written(running: RunningHub) -> None:
        telemetry = running.hub.telemetry
        assert telemetry is not None
        wait_until(lambda: telemetry.written >= 1, timeout=10)
        victoria.stop()

    stopped = _phase(
        start_hub,
        tmp_path,
        "vm-stopped",
        before=stop_vm_once_written,
        **_influx(victoria.url, influx_buffer=SMALL_BUFFER),
    )
    _report(off, closed, stopped)
    for phase in (closed, stopped):
        _check_against_off(phase, off)
        # The buffer stayed bounded and what did not fit was counted, not waited for.
        assert phase.buffered <= SMALL_BUFFER, phase.figures()
        assert phase.dropped >= FLOOD - SMALL_BUFFER, phase.figures()
    assert closed.written == 0
    assert stopped.written >= 1


def test_slow_tsdb_does_not_slow_ingest(
    start_hub: Callable[..., RunningHub],
    tmp_path: Path,
) -> None:
    slow_server = LineServer(delay_s=5.0)
    try:
        off = _phase(start_hub, tmp_path, "off")
        slow = _phase(
            start_hub,
            tmp_path,
            "slow",
            **_influx(slow_server.url, influx_buffer=SMALL_BUFFER, influx_timeout_s=2.0),
        )
    finally:
        slow_server.close()
    _report(off, slow)
    assert slow_server.requests, "the hub never tried the slow TSDB"
    _check_against_off(slow, off)
    assert slow.dropped >= FLOOD - SMALL_BUFFER, slow.figures()


# ------------------------------------------------------------------- (d) writing resumes


def test_writing_resumes_when_victoria_metrics_comes_back(
    victoria: VictoriaMetrics,
    start_hub: Callable[..., RunningHub],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = start_hub(**_influx(victoria.url, influx_retry_max_s=1.0))
    running.resident("r1")
    telemetry = running.hub.telemetry
    assert telemetry is not None
    device = running.device("r1", "spk1")
    try:
        device.activity()
        wait_until(lambda: telemetry.written == 1, timeout=10)
        failures = failed_writes(telemetry, monkeypatch)
        victoria.stop()
        for _ in range(5):
            device.activity(source="screen")
        # Stored at once; the points wait in the buffer while the TSDB is away.
        with running.hub.engine.connect() as conn:
            wait_until(
                lambda: conn.execute(select(func.count()).select_from(events)).scalar_one() == 6,
                timeout=10,
            )
        wait_until(lambda: telemetry.buffered == 5, timeout=5)
        wait_until(lambda: len(failures) >= 3, timeout=10)  # a few failed attempts
        assert telemetry.written == 1
        assert telemetry.buffered == 5
        victoria.start()
        wait_until(lambda: telemetry.written == 6, timeout=10)
    finally:
        device.close()

    def screen_points() -> int:
        for series in victoria.export('{__name__="activity_count",source="screen"}'):
            return len(series["values"])
        return 0

    wait_until(lambda: screen_points() == 5, timeout=20, interval=0.25)
    assert telemetry.dropped == 0
