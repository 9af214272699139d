"""The hub's /metrics: scraped over HTTP from a real hub, and its parts on their own.

Every number asserted follows from what the test sent: the messages published, the
escalation steps of a second-scale policy, and the rows the dispatcher settled.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, insert

from alerts.clock import FakeClock
from hub.metrics import HubMetrics, Tally
from hub.notify.chain import SmsChain
from hub.notify.dispatcher import Dispatcher
from hub.notify.provider import ProviderReply, Receipt, SmsMessage
from hub.notify.sms_text import SmsText
from hub.runtime import Hub
from hub.settings import Settings
from hub.store.db import open_engine
from hub.store.tables import alerts, outbox, residents
from tests.hub.support import KST, OffsetClock, read_sms, wait_until

TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=KST)  # working hours: officials get SMS
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
# Inactivity for r1: check-in at +2 s, guardian at +4 s, control centre at +6 s; steps 2 s
# apart so each is its own tick even when the worker is a little late.
FAST = {"checkin_after": "PT2S", "guardian_after": "PT4S", "control_center_after": "PT6S"}
# The emergency resident: nothing else may fall due while the test runs.
CALM = {"emergency_ack_within": "PT10M"}
LOW_CARDINALITY = {"kind", "stage", "state", "reason", "channel", "role", "outcome", "le"}

Samples = dict[str, list[tuple[dict[str, str], float]]]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


def by(samples: Samples, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    """``name``'s values keyed by the given labels (``()`` for a metric without labels)."""
    found = samples.get(name, [])
    keys = [tuple(labelled[label] for label in labels) for labelled, _ in found]
    assert len(set(keys)) == len(keys), f"{name}: labels {labels} do not tell series apart"
    return dict(zip(keys, (value for _, value in found), strict=True))


def total(samples: Samples, name: str) -> float:
    return sum(value for _, value in samples.get(name, []))


def scrape(base: str) -> Samples:
    response = httpx.get(f"{base}/metrics", timeout=10)  # no token: public like /health
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def _sms_roles(path: Path) -> list[str]:
    return sorted(line["role"] for line in read_sms(path))


# --- the whole hub, over MQTT and HTTP ------------------------------------------------------


@pytest.mark.serial  # timing is part of what this checks: runs alone (scripts/test.sh)
def test_metrics_count_what_the_hub_did(start_hub: Any) -> None:
    clock = OffsetClock(TUESDAY_10)
    running = start_hub(clock=clock)
    running.resident("r1", policy=FAST)
    running.resident("r2", policy=CALM)
    device = running.device("r2", "spk1")

    # Valid: two activities (the first sent twice), a heartbeat, a status (sent twice).
    first = json.dumps({"v": 1, "id": "a-first", "ts": device.ts(), "source": "voice"})
    device.raw("activity", first)
    device.activity()
    device.raw("activity", first)  # redelivered as it was (other content would be a conflict)
    device.send("heartbeat", interval_s=3600)
    status = json.dumps({"v": 1, "state": "online", "ts": device.ts()})
    device.raw("status", status)
    device.raw("status", status)
    # Invalid, one per reason.
    device.raw("activity", b"{not json")
    device.raw("activity", json.dumps({"v": 1, "id": "x-1", "ts": device.ts()}))  # no source
    device.raw("cmd", b"{}")
    device.raw("bogus", b"{}")
    ghost = running.device("r2", "ghost")
    ghost.activity()
    ghost.close()
    # And an emergency: the centre and the guardian at once; the official hears only once the
    # centre acknowledges, which nobody does here.
    device.emergency()
    device.close()

    # r1: guardian at +4 s; centre, official and a guardian reminder at +6 s. r2: two.
    expected_sms = sorted(["guardian"] * 3 + ["control_center"] * 2 + ["official"])
    wait_until(lambda: _sms_roles(running.sms_log) == expected_sms, timeout=15)
    mqtt_rows = 4  # r1's check-in command and two alert changes; r2's alert change
    wait_until(
        lambda: (
            total(scrape(running.base), "anbu_notifications_total") >= len(expected_sms) + mqtt_rows
        ),
        timeout=5,
    )
    running.settle()  # all due is sent and counted: anything counted twice shows now
    samples = scrape(running.base)

    assert by(samples, "anbu_events_received_total", "kind") == {
        ("activity",): 2,
        ("heartbeat",): 1,
        ("emergency",): 1,
        ("status",): 1,
        ("checkin",): 0,
        ("vitals",): 0,
    }
    duplicates = by(samples, "anbu_events_duplicate_total", "kind")
    assert {k: v for k, v in duplicates.items() if v} == {("activity",): 1, ("status",): 1}
    rejected = by(samples, "anbu_events_rejected_total", "reason")
    assert {k: v for k, v in rejected.items() if v} == {
        ("not_json",): 1,
        ("invalid_payload",): 1,
        ("hub_topic",): 1,
        ("bad_topic",): 1,
        ("unknown_device",): 1,
    }
    assert ("future_ts",) in rejected, "known reasons start at zero"
    assert by(samples, "anbu_ingest_processed_total") == {(): 12}
    assert by(samples, "anbu_ingest_backlog") == {(): 0}

    assert by(samples, "anbu_alerts_opened_total", "kind", "stage") == {
        ("inactivity", "guardian"): 1,
        ("emergency", "control_center"): 1,
    }
    assert by(samples, "anbu_alert_stage_changes_total", "kind", "stage") == {
        ("inactivity", "control_center"): 1,
    }
    assert by(samples, "anbu_alerts_open", "kind", "state", "stage") == {
        ("inactivity", "open", "control_center"): 1,
        ("emergency", "open", "control_center"): 1,
    }
    assert by(samples, "anbu_notifications_total", "channel", "role", "outcome") == {
        ("sms", "guardian", "sent"): 3,
        ("sms", "control_center", "sent"): 2,
        ("sms", "official", "sent"): 1,
        ("mqtt", "none", "sent"): mqtt_rows,
    }
    assert by(samples, "anbu_outbox_pending", "channel") == {
        ("sms",): 0,
        ("mqtt",): 0,
        ("apprise",): 0,
    }

    # r1's three steps (check-in, guardian, centre), each due once and fired within 2 s.
    assert by(samples, "anbu_escalation_lag_seconds_count") == {(): 3}
    lag_sum = by(samples, "anbu_escalation_lag_seconds_sum")[()]
    assert 0 <= lag_sum < 3 * 2.0
    buckets = by(samples, "anbu_escalation_lag_seconds_bucket", "le")
    assert buckets[("2.0",)] == 3
    assert buckets[("+Inf",)] == 3

    assert by(samples, "anbu_database_up") == {(): 1}
    assert by(samples, "anbu_mqtt_connected") == {(): 1}
    assert not any(name.startswith("anbu_tsdb_") for name in samples), "no sink configured"

    # Nothing personal in any label: only the fixed, low-cardinality label names.
    labels = {label for series in samples.values() for found, _ in series for label in found}
    assert labels <= LOW_CARDINALITY
    text = httpx.get(f"{running.base}/metrics").text
    for personal in ("r1", "r2", "spk1", "ghost", "김영희", "+82"):
        assert personal not in text


def test_each_hub_has_its_own_registry(tmp_path: Path) -> None:
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'unused.db'}")
    first, second = Hub(settings), Hub(settings)  # built, not started
    tally = Tally()
    tally.events["activity"] += 1
    first.metrics.add(tally)
    assert first.metrics.registry is not second.metrics.registry
    one = parse(first.metrics.render().decode())
    other = parse(second.metrics.render().decode())
    assert by(one, "anbu_events_received_total", "kind")[("activity",)] == 1
    assert by(other, "anbu_events_received_total", "kind")[("activity",)] == 0
    assert REGISTRY.get_sample_value("anbu_events_received_total", {"kind": "activity"}) is None


# --- the scrape-time collector on its own --------------------------------------------------


class FakeTelemetry:
    def __init__(self, buffered: int, dropped: int, written: int) -> None:
        self.buffered = buffered
        self.dropped = dropped
        self.written = written


class FakeWorker:
    processed = 41
    lag_s = 0.25

    def backlog(self) -> int:
        return 7


class FakeBridge:
    def __init__(self, connected: bool) -> None:
        self.connected = threading.Event()
        if connected:
            self.connected.set()


class FakeHub:
    """The attributes the collector reads, each optional as on a hub still starting."""

    def __init__(self, engine: Engine | None = None) -> None:
        if engine is not None:
            self.engine = engine
        self.worker = FakeWorker()
        self.bridge = FakeBridge(connected=False)
        self.telemetry: FakeTelemetry | None = None


def _outbox_row(key: str, channel: str, state: str, role: str | None = None) -> dict[str, Any]:
    return {
        "key": key,
        "channel": channel,
        "recipient": "+821000000000",
        "role": role,
        "body": "[안부] 테스트",
        "state": state,
        "attempts": 0,
        "created_at": NOW,
    }


def _alert_row(alert_id: str, kind: str, state: str, stage: str) -> dict[str, Any]:
    return {
        "id": alert_id,
        "resident_id": "r1",
        "kind": kind,
        "state": state,
        "stage": stage,
        "reason": "test",
        "opened_at": NOW,
        "updated_at": NOW,
    }


def test_scrape_reads_outbox_depth_open_alerts_and_worker(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(residents).values(
                id="r1", name="김영희", district="유성구", policy={}, created_at=NOW
            )
        )
        conn.execute(
            insert(outbox),
            [
                _outbox_row("p1", "sms", "pending", "guardian"),
                _outbox_row("p2", "sms", "pending", "official"),
                _outbox_row("p3", "mqtt", "pending"),
                _outbox_row("s1", "sms", "sent", "guardian"),
                _outbox_row("s2", "sms", "sending", "guardian"),
            ],
        )
        conn.execute(
            insert(alerts),
            [
                _alert_row("a1", "inactivity", "open", "guardian"),
                _alert_row("a2", "inactivity", "acknowledged", "guardian"),
                _alert_row("a3", "inactivity", "acknowledged", "guardian"),
                _alert_row("a4", "emergency", "resolved", "control_center"),
            ],
        )
    metrics = HubMetrics()
    metrics.watch(FakeHub(engine))
    samples = parse(metrics.render().decode())
    assert by(samples, "anbu_outbox_pending", "channel") == {
        ("sms",): 2,
        ("mqtt",): 1,
        ("apprise",): 0,
    }
    assert by(samples, "anbu_alerts_open", "kind", "state", "stage") == {
        ("inactivity", "open", "guardian"): 1,
        ("inactivity", "acknowledged", "guardian"): 2,
    }
    assert by(samples, "anbu_database_up") == {(): 1}
    assert by(samples, "anbu_mqtt_connected") == {(): 0}
    assert by(samples, "anbu_ingest_backlog") == {(): 7}
    assert by(samples, "anbu_ingest_processed_total") == {(): 41}
    assert by(samples, "anbu_ingest_timer_lag_seconds") == {(): 0.25}


def test_database_down_is_a_value_not_a_failed_scrape(tmp_path: Path) -> None:
    unreachable = open_engine(f"sqlite:///{tmp_path / 'missing' / 'nowhere.db'}")
    metrics = HubMetrics()
    metrics.watch(FakeHub(unreachable))
    samples = parse(metrics.render().decode())
    assert by(samples, "anbu_database_up") == {(): 0}
    assert "anbu_outbox_pending" not in samples
    assert by(samples, "anbu_ingest_backlog") == {(): 7}, "the rest is still reported"


def test_telemetry_buffer_is_reported_only_when_a_sink_exists() -> None:
    hub = FakeHub()  # not started: no engine yet
    metrics = HubMetrics()
    metrics.watch(hub)
    absent = parse(metrics.render().decode())
    assert not any(name.startswith("anbu_tsdb_") for name in absent)
    assert "anbu_database_up" not in absent

    hub.telemetry = FakeTelemetry(buffered=12, dropped=3, written=500)
    present = parse(metrics.render().decode())
    assert by(present, "anbu_tsdb_buffered_points") == {(): 12}
    assert by(present, "anbu_tsdb_dropped_points_total") == {(): 3}
    assert by(present, "anbu_tsdb_written_points_total") == {(): 500}

    hub.telemetry.buffered = 0
    hub.telemetry.dropped = 4
    again = parse(metrics.render().decode())
    assert by(again, "anbu_tsdb_buffered_points") == {(): 0}, "read anew on every scrape"
    assert by(again, "anbu_tsdb_dropped_points_total") == {(): 4}


def test_a_tally_counts_only_when_added() -> None:
    metrics = HubMetrics()
    tally = Tally()
    tally.events["activity"] += 3
    tally.rejected["unknown_device"] += 1
    tally.opened[("emergency", "control_center")] += 1
    tally.lags += [0.004, 0.3, 75.0]
    before = parse(metrics.render().decode())
    assert by(before, "anbu_events_received_total", "kind")[("activity",)] == 0
    assert "anbu_alerts_opened_total" not in before
    metrics.add(tally)
    after = parse(metrics.render().decode())
    assert by(after, "anbu_events_received_total", "kind")[("activity",)] == 3
    assert by(after, "anbu_events_rejected_total", "reason")[("unknown_device",)] == 1
    assert by(after, "anbu_alerts_opened_total", "kind", "stage") == {
        ("emergency", "control_center"): 1
    }
    buckets = by(after, "anbu_escalation_lag_seconds_bucket", "le")
    assert buckets[("0.01",)] == 1
    assert buckets[("0.5",)] == 2
    assert buckets[("60.0",)] == 2
    assert buckets[("+Inf",)] == 3


# --- notification outcomes from the dispatcher ---------------------------------------------


class ByRoleProvider:
    """Guardians' messages are accepted (and later delivered), the centre's refused for
    good, and the official's left in doubt: one of each outcome."""

    name = "fake"

    def submit(self, message: SmsMessage, text: SmsText) -> ProviderReply:
        if message.role == "guardian":
            return ProviderReply("sent", retryable=False, provider_id=f"id-{message.key}")
        if message.role == "control_center":
            return ProviderReply("failed", retryable=False, error="HTTP 400")
        return ProviderReply("unknown", retryable=False, error="timeout after sending")

    def receipt(self, provider_id: str) -> Receipt | None:
        return "delivered"

    def already_sent(self, key: str) -> bool | None:
        return None


def test_dispatcher_reports_each_outcome(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(outbox),
            [
                _outbox_row("g1", "sms", "pending", "guardian"),
                _outbox_row("g2", "sms", "pending", "guardian"),
                _outbox_row("c1", "sms", "pending", "control_center"),
                _outbox_row("o1", "sms", "pending", "official"),
                _outbox_row("m1", "mqtt", "pending"),
            ],
        )
    metrics = HubMetrics()
    dispatcher = Dispatcher(
        engine,
        SmsChain([ByRoleProvider()], attempts_per_provider=1),
        lambda _topic, _body: True,
        FakeClock(NOW),
        on_outcome=metrics.notification,
    )
    assert dispatcher.drain_once() == 5
    assert dispatcher.poll_receipts() == 2
    samples = parse(metrics.render().decode())
    assert by(samples, "anbu_notifications_total", "channel", "role", "outcome") == {
        ("sms", "guardian", "sent"): 2,
        ("sms", "guardian", "delivered"): 2,
        ("sms", "control_center", "failed"): 1,
        ("sms", "official", "unknown"): 1,
        ("mqtt", "none", "sent"): 1,
    }


def test_recovered_sends_are_counted(engine: Engine) -> None:
    with engine.begin() as conn:
        row = _outbox_row("in-doubt", "sms", "sending", "guardian")
        conn.execute(insert(outbox).values(**row, calling="fake"))
    metrics = HubMetrics()
    Dispatcher(
        engine,
        SmsChain([ByRoleProvider()], attempts_per_provider=1),
        lambda _topic, _body: True,
        FakeClock(NOW),
        on_outcome=metrics.notification,
    ).recover_in_doubt()
    samples = parse(metrics.render().decode())
    assert by(samples, "anbu_notifications_total", "channel", "role", "outcome") == {
        ("sms", "guardian", "unknown"): 1
    }
