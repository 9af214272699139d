"""Bluetooth health readings end to end: bytes a glucose meter and a blood pressure monitor
indicate (through a fake radio, the hardware boundary) go through the agent's outbox and a
real Mosquitto to the real hub, whose vitals rules open the alert at the health centre and
move it to the control centre on a critical systolic."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from edge.agent import Agent
from edge.ble_health import BLOOD_PRESSURE_MEASUREMENT, GLUCOSE_MEASUREMENT
from edge.vitals import VitalsAdapter, VitalsConfig
from hub.broker import MosquittoBroker
from hub.store.tables import events
from tests.edge.support import edge_config, wait_until
from tests.edge.test_vitals_adapter import FakeRadio, blood_pressure, glucose
from tests.hub.conftest import start_hub  # noqa: F401 - the fixture
from tests.hub.support import KST, OffsetClock, read_sms

TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=KST)  # working hours: the health centre now
HEALTH = "+8242000000"
CENTRE = "+8220000000"  # the start_hub fixture's control centre


def _vitals(running: Any) -> list[dict[str, Any]]:
    with running.hub.engine.connect() as conn:
        rows = conn.execute(
            select(events.c.payload).where(
                events.c.device_id == "vitals-1", events.c.kind == "vitals"
            )
        ).all()
    return [json.loads(row.payload) for row in rows]


def _alerts(running: Any) -> list[tuple[str, str, str]]:
    found = running.http.get("/api/v1/alerts", params={"resident": "rv1"}).json()
    return [(a["kind"], a["stage"], a["reason"]) for a in found]


def test_bluetooth_readings_reach_the_hubs_vitals_rules(
    start_hub: Any,  # noqa: F811 - pytest fixture
    mosquitto: MosquittoBroker,
    tmp_path: Path,
) -> None:
    running = start_hub(clock=OffsetClock(TUESDAY_10), health_center_phones=[HEALTH])
    running.resident("rv1", devices={"vitals-1": "sensors"})
    config = edge_config(tmp_path, mosquitto.url, kind="sensors", resident="rv1", device="vitals-1")
    devices = [
        {"name": "meter", "address": "AA:BB:CC:DD:EE:02", "profile": "glucose"},
        {"name": "bp", "address": "AA:BB:CC:DD:EE:01", "profile": "blood_pressure"},
    ]
    radio = FakeRadio()
    adapter = VitalsAdapter(
        VitalsConfig.model_validate({"devices": devices, "alone": True}), radio=radio
    )
    agent = Agent(config, adapter, clock=running.clock)
    agent.start()
    loop = threading.Thread(target=agent.run, daemon=True)
    loop.start()
    try:
        # The meter's clock shows Korean wall time; the reading was taken two minutes ago.
        at = (
            (running.clock.now() - timedelta(minutes=2))
            .astimezone(KST)
            .replace(tzinfo=None, microsecond=0)
        )
        radio.indicate("meter", GLUCOSE_MEASUREMENT, glucose(12, 320, at))
        wait_until(lambda: _alerts(running), timeout=10)
        assert _alerts(running) == [("vital_out_of_range", "health_center", "glucose_high")]
        wait_until(lambda: any(line["to"] == HEALTH for line in read_sms(running.sms_log)), 5)

        radio.indicate("bp", BLOOD_PRESSURE_MEASUREMENT, blood_pressure(190, 95, 72, at))
        wait_until(
            lambda: any(line["to"] == CENTRE for line in read_sms(running.sms_log)), timeout=10
        )
        assert [(k, s) for k, s, _ in _alerts(running)] == [
            ("vital_out_of_range", "control_center")
        ]
        wait_until(lambda: len(_vitals(running)) == 3, timeout=5)
    finally:
        agent.stop()
        loop.join(timeout=5)
        agent.close(announce_offline=False)

    stored = sorted(_vitals(running), key=lambda m: m["kind"])
    assert [(m["kind"], m["value"], m["unit"]) for m in stored] == [
        ("blood_pressure", {"systolic": 190.0, "diastolic": 95.0}, "mmHg"),
        ("glucose", 320.0, "mg/dL"),
        ("heart_rate", 72.0, "bpm"),
    ]
    # Each carries the meter's own time, not the moment it arrived.
    assert {
        datetime.fromisoformat(m["ts"]).astimezone(KST).replace(tzinfo=None) for m in stored
    } == {at}
    (alert,) = running.http.get("/api/v1/alerts", params={"resident": "rv1"}).json()
    detail = running.http.get(f"/api/v1/alerts/{alert['id']}").json()
    assert ("vital_critical", "systolic_critical_high") in [
        (t["what"], t["note"]) for t in detail["timeline"]
    ]
