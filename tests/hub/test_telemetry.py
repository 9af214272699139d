"""Telemetry on its own: the point schema, batching, and a TSDB that is down, slow or refusing.

No hub here: :class:`hub.telemetry.Telemetry` is fed records directly, against a closed port
or a :class:`tests.hub.tsdb.LineServer`. The runs through a real hub and VictoriaMetrics are
in ``test_telemetry_vm.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from hub.settings import Settings
from hub.telemetry import Telemetry
from hub.telemetry_points import ACTIVITY, ALERT_CHANGE, SCHEMA, Record, to_point
from protocol import AlertChange, Event, parse
from tests.conftest import free_port
from tests.hub.support import wait_until
from tests.hub.tsdb import LineServer, failed_writes

NOW = datetime(2026, 11, 24, 1, 2, 3, 456789, tzinfo=UTC)
NOW_MS = 1_795_482_123_456


def _event(topic_kind: str, /, **fields: Any) -> Event:
    body: dict[str, Any] = {"ts": NOW.isoformat(), **fields}
    if topic_kind != "status":
        body = {"v": 1, "id": f"{topic_kind}-1", **body}
    parsed = parse(f"anbu/v1/r1/spk1/{topic_kind}", json.dumps(body).encode(), now=NOW)
    assert isinstance(parsed, Event), parsed
    return parsed


def _change() -> AlertChange:
    return AlertChange(
        v=1,
        alert_id="emergency-r1-e-3",
        resident="r1",
        kind="emergency",
        state="open",
        stage="control_center",
        ts=NOW,
        reason="voice: 아리아 살려줘",
    )


def _line(item: Event | AlertChange, district: str = "유성구", kind: str = "speaker") -> str:
    point = to_point(item, district, kind)
    assert point is not None
    return str(point.to_line_protocol())


def _records(count: int) -> list[Record]:
    event = _event("activity", source="voice")
    return [(event, "유성구", "speaker")] * count


@pytest.fixture
def line_server() -> Iterator[LineServer]:
    server = LineServer()
    yield server
    server.close()


def _telemetry(url: str, **options: Any) -> Telemetry:
    values: dict[str, Any] = {"token": "tsdb-test-token", "org": "anbu", "flush_s": 0.1}
    return Telemetry(url, "anbu-bucket", **{**values, **options}).start()


# ------------------------------------------------------------------------------ schema


def test_each_kind_becomes_one_point_with_low_cardinality_tags() -> None:
    assert _line(_event("activity", source="door", count=3)) == (
        f"activity,device_kind=speaker,district=유성구,resident=r1,source=door count=3i {NOW_MS}"
    )
    assert _line(
        _event("heartbeat", interval_s=300, battery_pct=81, rssi=-61, fw="speaker-agent 0.3.1")
    ) == (
        "heartbeat,device=spk1,device_kind=speaker,district=유성구,resident=r1"
        f" battery_pct=81,interval_s=300i,rssi=-61 {NOW_MS}"
    )
    assert _line(_event("heartbeat", interval_s=60)) == (
        "heartbeat,device=spk1,device_kind=speaker,district=유성구,resident=r1"
        f" interval_s=60i {NOW_MS}"
    )
    assert _line(_event("status", state="offline"), kind="sensors") == (
        "device_status,device=spk1,device_kind=sensors,district=유성구,resident=r1"
        f" online=0i {NOW_MS}"
    )
    blood_pressure = _event(
        "vitals", kind="blood_pressure", value={"systolic": 135, "diastolic": 85}, unit="mmHg"
    )
    assert _line(blood_pressure) == (
        "vitals,device_kind=speaker,district=유성구,kind=blood_pressure,resident=r1"
        f" diastolic=85,systolic=135 {NOW_MS}"
    )
    glucose = _event("vitals", kind="glucose", value=182.5, unit="mg/dL")
    assert _line(glucose).endswith(f"kind=glucose,resident=r1 value=182.5 {NOW_MS}")
    answered = _event("checkin", request_id="cmd-1", answered=True, text="괜찮아")
    assert _line(answered) == (
        f"activity,device_kind=speaker,district=유성구,resident=r1,source=checkin count=1i {NOW_MS}"
    )
    assert _line(_change()) == (
        "alert_change,district=유성구,kind=emergency,resident=r1,stage=control_center,state=open"
        f' alert_id="emergency-r1-e-3",changes=1i {NOW_MS}'
    )


def test_what_is_never_written() -> None:
    # Emergencies are written as their alert's changes; an unanswered check-in is no activity.
    assert to_point(_event("emergency", trigger="voice", text="살려줘"), "d", "speaker") is None
    unanswered = _event("checkin", request_id="cmd-1", answered=False)
    assert to_point(unanswered, "d", "speaker") is None
    # Free text and firmware never reach a line, whatever the kind.
    lines = [
        _line(_change()),
        _line(_event("checkin", request_id="c", answered=True, text="괜찮아")),
        _line(_event("heartbeat", interval_s=300, fw="speaker-agent 0.3.1")),
    ]
    for line in lines:
        assert "살려줘" not in line
        assert "괜찮아" not in line
        assert "speaker-agent" not in line


def test_every_point_fits_the_schema_the_dashboard_is_checked_against() -> None:
    items: list[Event | AlertChange] = [
        _event("activity", source="voice"),
        _event("heartbeat", interval_s=300, battery_pct=5, rssi=-90),
        _event("status", state="online"),
        _event("vitals", kind="blood_pressure", value={"systolic": 1, "diastolic": 2}, unit="mmHg"),
        _event("vitals", kind="spo2", value=97, unit="%"),
        _event("checkin", request_id="c", answered=True),
        _change(),
    ]
    seen = set()
    for item in items:
        point = to_point(item, "d", "phone")
        assert point is not None
        measurement = point._name
        tags, fields = SCHEMA[measurement]
        assert set(point._tags) <= tags, measurement
        assert set(point._fields) <= fields, measurement
        seen.add(measurement)
    assert seen == set(SCHEMA)


def test_field_types_never_change_between_writes() -> None:
    # InfluxDB refuses a whole batch when a field's type changes: an integer reading must be
    # written as a float like a fractional one, a count always as an integer.
    whole = _line(_event("vitals", kind="weight", value=61, unit="kg"))
    fractional = _line(_event("vitals", kind="weight", value=61.5, unit="kg"))
    assert " value=61 " in whole
    assert " value=61.5 " in fractional
    assert " count=1i " in _line(_event("activity", source="voice"))


# ------------------------------------------------------------------------------ writer


def test_batches_reach_the_v2_write_api_with_token_bucket_and_precision(
    line_server: LineServer,
) -> None:
    telemetry = _telemetry(line_server.url, batch_max=5_000)
    offered = 12_000
    for _ in range(0, offered, 1_000):
        assert telemetry.offer(_records(1_000)) == 1_000
    wait_until(lambda: telemetry.written == offered, timeout=15)
    telemetry.close()
    assert telemetry.dropped == 0
    assert telemetry.buffered == 0
    assert len(line_server.lines()) == offered
    assert all(len(r.body.splitlines()) <= 5_000 for r in line_server.requests)
    assert len(line_server.requests) >= 3
    first = line_server.requests[0]
    assert first.path == "/api/v2/write"
    assert first.query["bucket"] == ["anbu-bucket"]
    assert first.query["org"] == ["anbu"]
    assert first.query["precision"] == ["ms"]
    assert first.headers["Authorization"] == "Token tsdb-test-token"


def test_a_single_point_is_sent_within_the_flush_interval(line_server: LineServer) -> None:
    telemetry = _telemetry(line_server.url, flush_s=0.2)
    try:
        sent = time.monotonic()
        telemetry.offer(_records(1))
        wait_until(lambda: telemetry.written == 1, timeout=5, interval=0.01)
        assert time.monotonic() - sent < 1.0
    finally:
        telemetry.close()


@pytest.mark.serial  # timing is part of what this checks: runs alone (scripts/test.sh)
def test_tsdb_down_offer_never_blocks_and_the_buffer_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    telemetry = _telemetry(closed, buffer_max=100, retry_max_s=0.2)
    failures = failed_writes(telemetry, monkeypatch)
    offered = 10_000
    slowest = 0.0
    started = time.monotonic()
    for _ in range(offered):
        before = time.perf_counter()
        telemetry.offer(_records(1))
        slowest = max(slowest, time.perf_counter() - before)
        assert telemetry.buffered <= 100
    total = time.monotonic() - started
    wait_until(lambda: len(failures) >= 3, timeout=10)  # the writer failed and retried
    assert telemetry.written == 0
    assert telemetry.buffered <= 100
    assert telemetry.dropped + telemetry.buffered == offered
    assert telemetry.dropped >= offered - 100
    assert slowest < 0.05, f"one offer took {slowest * 1000:.1f} ms"
    assert total < 2.0, f"{offered} offers took {total:.2f} s"
    closing = time.monotonic()
    telemetry.close(deadline_s=1.0)
    assert time.monotonic() - closing < 3.0
    # Nothing is lost silently: what never reached the TSDB is counted.
    assert telemetry.dropped == offered
    assert telemetry.buffered == 0


def test_slow_tsdb_never_slows_offer_and_close_keeps_its_deadline() -> None:
    slow = LineServer(delay_s=5.0)
    try:
        telemetry = _telemetry(slow.url, buffer_max=1_000, timeout_s=1.0, retry_max_s=0.5)
        started = time.monotonic()
        for _ in range(50):
            telemetry.offer(_records(100))
        assert time.monotonic() - started < 0.5
        wait_until(lambda: len(slow.requests) >= 1, timeout=5)
        assert telemetry.buffered <= 1_000
        assert telemetry.dropped >= 5_000 - 1_000
        closing = time.monotonic()
        telemetry.close(deadline_s=1.0)
        # The deadline plus at most one write's timeout.
        assert time.monotonic() - closing < 1.0 + 1.0 + 1.0
        assert telemetry.written == 0
        assert telemetry.dropped == 5_000
    finally:
        slow.close()


def test_a_write_failing_while_closing_ends_the_flush_instead_of_waiting_out_the_deadline() -> None:
    slow = LineServer(delay_s=5.0)
    try:
        telemetry = _telemetry(
            slow.url, buffer_max=1_000, batch_max=100, timeout_s=1.0, retry_max_s=0.5
        )
        for _ in range(10):
            telemetry.offer(_records(100))
        wait_until(lambda: len(slow.requests) >= 1, timeout=5)
        closing = time.monotonic()
        telemetry.close(deadline_s=10.0)
        # The write in flight times out once; a TSDB that fails then gets no more batches.
        assert time.monotonic() - closing < 1.0 + 1.0
        assert telemetry.written == 0
        assert telemetry.dropped == 1_000
    finally:
        slow.close()


def test_a_refused_batch_is_dropped_and_the_writer_goes_on(line_server: LineServer) -> None:
    line_server.statuses = [400]
    telemetry = _telemetry(line_server.url, retry_max_s=0.2)
    try:
        telemetry.offer(_records(10))
        wait_until(lambda: telemetry.dropped == 10, timeout=5)
        telemetry.offer(_records(7))
        wait_until(lambda: telemetry.written == 7, timeout=5)
        assert len(line_server.requests) == 2, "a refused batch must not be retried"
    finally:
        telemetry.close()


def test_a_failed_batch_is_retried_until_the_server_takes_it(line_server: LineServer) -> None:
    line_server.statuses = [503, 503, 500]
    telemetry = _telemetry(line_server.url, retry_max_s=0.2)
    try:
        telemetry.offer(_records(25))
        wait_until(lambda: telemetry.written == 25, timeout=10)
        assert telemetry.dropped == 0
        assert len(line_server.requests) == 4
        assert len({r.body for r in line_server.requests}) == 1, "the same batch, resent"
    finally:
        telemetry.close()


def test_without_an_org_or_token_points_still_go_out(line_server: LineServer) -> None:
    # InfluxDB 3.x and VictoriaMetrics need neither; the client must not refuse to send.
    telemetry = Telemetry(line_server.url, "anbu", flush_s=0.1).start()
    try:
        telemetry.offer(_records(4))
        wait_until(lambda: telemetry.written == 4, timeout=5)
    finally:
        telemetry.close()
    assert telemetry.dropped == 0
    assert "Authorization" not in line_server.requests[0].headers


def test_closed_telemetry_counts_what_it_is_offered(line_server: LineServer) -> None:
    telemetry = _telemetry(line_server.url)
    telemetry.close()
    assert telemetry.offer(_records(3)) == 0
    assert telemetry.dropped == 3


# ---------------------------------------------------------------------------- settings


def test_off_unless_the_url_is_set() -> None:
    assert Telemetry.from_settings(Settings()) is None
    assert Telemetry.from_settings(Settings(influx_bucket="anbu")) is None


def test_settings_are_checked_without_echoing_the_token() -> None:
    with pytest.raises(ValueError, match="ANBU_INFLUX_BUCKET"):
        Telemetry.from_settings(Settings(influx_url="http://127.0.0.1:8086"))
    with pytest.raises(ValueError, match="http") as error:
        Telemetry.from_settings(
            Settings(
                influx_url="mqtt://127.0.0.1:8086",
                influx_bucket="anbu",
                influx_token=SecretStr("tsdb-secret-token"),
            )
        )
    assert "tsdb-secret-token" not in str(error.value)
    telemetry = Telemetry.from_settings(
        Settings(
            influx_url="https://tsdb.example:8086",
            influx_bucket="anbu",
            influx_buffer=1234,
            influx_timeout_s=2.5,
        )
    )
    assert telemetry is not None
    assert telemetry.buffered == 0
    assert telemetry._capacity == 1234
    assert telemetry._timeout_s == 2.5


def test_observe_tags_events_from_the_registry_and_skips_what_is_not_written(
    line_server: LineServer,
) -> None:
    telemetry = _telemetry(line_server.url)
    try:
        taken = telemetry.observe(
            [
                _event("activity", source="voice"),
                _event("emergency", trigger="button"),
                _event("checkin", request_id="c", answered=False),
                _change(),
            ],
            {"r1": "동구"},
            {("r1", "spk1"): "speaker"},
        )
        assert taken == 2
        wait_until(lambda: telemetry.written == 2, timeout=5)
    finally:
        telemetry.close()
    lines = sorted(line_server.lines())
    assert lines[0].startswith(f"{ACTIVITY},device_kind=speaker,district=동구,resident=r1,")
    assert lines[1].startswith(f"{ALERT_CHANGE},district=동구,")
