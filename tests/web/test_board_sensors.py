"""The board in real Chromium shows each sensor that needs looking at and the batteries to
change, as a sensors agent's heartbeat told the hub (hub/api/worklists.py, board.js)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playwright.sync_api import Page, expect
from sqlalchemy import select

from alerts.clock import FakeClock
from hub.store.tables import device_sensing
from tests.hub.support import DEFAULT_TEST_START, wait_until
from tests.web.conftest import sign_in


def test_an_unanswering_sensor_and_a_low_battery_show_on_the_board(
    start_hub: Any, page: Page
) -> None:
    running = start_hub(clock=FakeClock(DEFAULT_TEST_START))
    running.resident("r1", devices={"gw1": "sensors"})
    gateway = running.device("r1", "gw1")
    try:
        gateway.send(
            "heartbeat",
            interval_s=300,
            sensing=False,
            sensing_problem="gateway_silent",
            sensors=[
                {
                    "name": "현관 문 센서",
                    "signal": "contact",
                    "available": False,
                    "last_seen": gateway.ts(-timedelta(days=3, hours=1)),
                },
                {"name": "침실 동작 센서", "signal": "occupancy", "battery_low": True},
            ],
        )
    finally:
        gateway.close()

    def stored() -> bool:
        with running.hub.engine.connect() as conn:
            return conn.execute(select(device_sensing.c.device_id)).first() is not None

    wait_until(stored, timeout=10)
    made = running.http.post("/api/v1/users", json={"name": "관제요원 김하늘", "role": "operator"})
    assert made.status_code == 201, made.text
    sign_in(page, running, made.json()["token"])
    sensors = page.get_by_test_id("sensors")
    expect(sensors).to_contain_text("김영희 어르신 · 현관 문 센서: 응답 없음 3일")
    expect(sensors).to_contain_text("가정용 센서 gw1: 게이트웨이 응답 없음")
    expect(sensors).to_contain_text("침실 동작 센서: 배터리 부족")
    expect(page.get_by_test_id("batteries")).to_contain_text("김영희 어르신 · 침실 동작 센서")
