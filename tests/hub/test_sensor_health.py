"""A sensor gateway's own health through the real hub: a stopped bridge is a device problem
(a heartbeat that cannot see, or a device gone silent), never an inactivity SMS; each
sensor's health and the batteries to change reach staff; water left running pages once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from alerts.clock import FakeClock
from hub.store.tables import devices, events
from tests.hub.support import DEFAULT_TEST_START, Device, read_sms, wait_until

START = DEFAULT_TEST_START  # Wednesday 14:00 KST
MIN = timedelta(minutes=1)
# Short inactivity stages, so a silence the hub took for the resident's would page the
# guardian well inside the test; the heartbeat bound is 3 x 300 s = 15 min.
QUICK = {
    "checkin_after": "PT5M",
    "guardian_after": "PT10M",
    "control_center_after": "PT1H",
    "monitoring_lost_after": "PT20M",
}


def _stored(running: Any, device: Device, event_id: str) -> None:
    def found() -> bool:
        with running.hub.engine.connect() as conn:
            row = conn.execute(
                select(events.c.event_id)
                .where(events.c.resident_id == device.resident)
                .where(events.c.event_id == event_id)
            ).first()
        return row is not None

    wait_until(found, timeout=10)


def _online(running: Any, resident: str, device: str) -> bool:
    with running.hub.engine.connect() as conn:
        return bool(
            conn.execute(
                select(devices.c.online)
                .where(devices.c.resident_id == resident)
                .where(devices.c.id == device)
            ).scalar_one()
        )


def test_a_stopped_bridge_is_a_device_problem_and_sensors_reach_staff(start_hub: Any) -> None:
    running = start_hub(clock=FakeClock(START))
    running.resident("r1", devices={"gw1": "sensors"}, policy=QUICK)
    running.resident("r2", devices={"gw2": "sensors"})
    blind, silent = running.device("r1", "gw1"), running.device("r2", "gw2")
    try:
        blind.send("activity", source="motion", sensor="거실 동작 센서", signal="occupancy")
        silent.send("activity", source="motion")
        _stored(running, silent, silent.send("heartbeat", interval_s=300))
        # Zigbee2MQTT is down: the agent says so, and how its sensors were last heard.
        sensors = [
            {
                "name": "현관 문 센서",
                "signal": "contact",
                "available": False,
                "last_seen": blind.ts(-timedelta(days=3, hours=2)),
                "battery_pct": 80,
            },
            {
                "name": "욕실 누수 센서",
                "signal": "water_leak",
                "available": True,
                "battery_pct": 15,
                "active_since": blind.ts(-5 * MIN),
            },
        ]
        beat = blind.send(
            "heartbeat",
            interval_s=300,
            sensing=False,
            sensing_problem="gateway_offline",
            sensors=sensors,
        )
        _stored(running, blind, beat)
        running.settle()
        assert not _online(running, "r1", "gw1")  # a device problem at once
        assert _online(running, "r2", "gw2")

        running.run_until(START + 15 * MIN)  # the silent one's heartbeat bound
        assert not _online(running, "r2", "gw2")
        running.run_until(START + 3 * timedelta(hours=1))
        # The bridge is back: the gateway recovers like a device back online.
        _stored(running, blind, blind.send("heartbeat", interval_s=300, sensing=True))
        running.settle()
        assert _online(running, "r1", "gw1")
    finally:
        blind.close()
        silent.close()

    sms = read_sms(running.sms_log)
    assert not [m for m in sms if m["kind"] == "inactivity"], sms
    lost = sorted(m["resident"] for m in sms if m["kind"] == "monitoring_lost")
    assert lost == ["r1", "r1", "r2"]  # r1's alert opened, then restored (told the centre)
    restored = [m for m in sms if m["kind"] == "monitoring_lost" and "복구" in m["body"]]
    assert [m["resident"] for m in restored] == ["r1"]
    (water,) = [m for m in sms if m["kind"] == "water_running"]
    assert (water["resident"], water["role"]) == ("r1", "guardian")
    assert "물이 계속 흐릅니다" in water["body"]
    assert "욕실" not in water["body"] and "%" not in water["body"]  # no details in an SMS

    health = running.http.get("/api/v1/sensors")
    assert health.status_code == 200, health.text
    lines = {s["sensor"]: s["line"] for s in health.json()["sensors"]}
    assert lines["현관 문 센서"] == "현관 문 센서: 응답 없음 3일"
    assert lines["욕실 누수 센서"].startswith("욕실 누수 센서: 배터리 부족 (15%), 물 감지")
    assert health.json()["blind"] == []  # it sees again
    batteries = running.http.get("/api/v1/batteries").json()
    assert [(b["resident"], b["sensor"], b["battery_pct"]) for b in batteries] == [
        ("r1", "욕실 누수 센서", 15)
    ]
    board = running.http.get("/board")
    assert 'data-testid="sensors"' in board.text and 'data-testid="batteries"' in board.text
