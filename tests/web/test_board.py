"""The control-centre board in real Chromium: live alerts, alert work, the guardian page."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.hub.support import KST, OffsetClock, read_sms, wait_until
from tests.web.conftest import open_page, shot

LINK = re.compile(r"http://\S+/g/([A-Za-z0-9_-]+)")


def _operator(running: Any, name: str = "관제요원 이수진") -> str:
    response = running.http.post("/api/v1/users", json={"name": name, "role": "operator"})
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


@pytest.mark.serial  # timing is part of what this checks: runs alone (scripts/test.sh)
def test_emergency_appears_live_and_is_worked_to_resolved_by_phone(
    start_hub: Any, page: Page
) -> None:
    running = start_hub()
    running.resident("r1", official=False)
    running.resident("r2", devices={"spk2": "speaker"}, official=False)
    token = _operator(running)

    open_page(page, running, f"/board#token={token}")
    expect(page.get_by_test_id("residents")).to_contain_text("김영희")
    expect(page.locator("#live")).to_have_class(re.compile("on"))
    assert "token" not in page.url, "the token must leave the address bar"

    device = running.device("r1", "spk1")
    started = time.monotonic()
    device.emergency()
    page.get_by_test_id("queue-item").first.wait_for(timeout=5000)
    appeared = time.monotonic() - started
    device.close()
    assert appeared < 1.0, f"the emergency took {appeared:.2f} s to appear"
    expect(page.get_by_test_id("queue-item").first).to_contain_text("긴급 호출")
    shot(page, "board-live")

    page.get_by_test_id("queue-item").first.click()
    expect(page.get_by_test_id("alert-state")).to_have_text("접수 전")
    shot(page, "alert-detail")
    page.get_by_test_id("do-ack").click()
    expect(page.get_by_test_id("alert-state")).to_have_text("접수됨")
    page.get_by_test_id("do-called_resident").click()
    expect(page.get_by_test_id("centre-log")).to_contain_text("어르신과 통화 — 관제요원 이수진")
    page.get_by_test_id("outcome").select_option("resolved_by_phone")
    # A change arriving while the operator decides redraws the panel; the choice must stay.
    alert_id = running.http.get("/api/v1/alerts", params={"resident": "r1"}).json()[0]["id"]
    running.http.post(
        f"/api/v1/alerts/{alert_id}/actions", json={"step": "note", "note": "보호자와 통화"}
    ).raise_for_status()
    expect(page.get_by_test_id("centre-log")).to_contain_text("메모 — 관제센터: 보호자와 통화")
    page.get_by_test_id("do-resolve").click()
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("alert-state")).to_have_text("종료 (전화로 확인)")
    log = page.get_by_test_id("centre-log")
    for step in (
        "접수 — 관제요원 이수진",
        "어르신과 통화 — 관제요원 이수진",
        "종료 — 관제요원 이수진 (결과: 전화로 확인)",
    ):
        expect(log).to_contain_text(step)
    expect(page.get_by_test_id("notifications")).to_contain_text("관제센터 · 02-****-0000")
    shot(page, "alert-worked")

    alert = running.http.get(f"/api/v1/alerts/{alert_id}").json()
    assert (alert["state"], alert["outcome"]) == ("resolved", "resolved_by_phone")
    assert [
        t["by"] for t in alert["timeline"] if t["what"] in {"acknowledged", "called_resident"}
    ] == [
        "관제요원 이수진",
        "관제요원 이수진",
    ]


def test_guardian_link_opens_the_right_resident_and_refuses_others(
    start_hub: Any, page: Page
) -> None:
    running = start_hub()
    policy = {"checkin_after": "PT2S", "guardian_after": "PT3S", "control_center_after": "PT60S"}
    running.resident("r1", policy=policy, official=False)
    wait_until(lambda: any(m["role"] == "guardian" for m in read_sms(running.sms_log)), 6)
    body = next(m for m in read_sms(running.sms_log) if m["role"] == "guardian")["body"]
    match = LINK.search(body)
    assert match, body
    token = match.group(1)

    open_page(page, running, f"/g/{token}")
    expect(page.locator("#summary")).to_contain_text("김영희 어르신")
    shot(page, "guardian")
    page.get_by_role("button", name="제가 확인해 볼게요").click()
    expect(page.locator("#done")).to_contain_text("전달되었습니다")
    expect(page.locator("#summary")).to_contain_text("확인 중")

    forged = token[:-3] + ("xyz" if not token.endswith("xyz") else "abc")
    open_page(page, running, f"/g/{forged}")
    expect(page.locator("#summary")).to_contain_text("잘못된 링크")
    assert httpx.get(f"{running.base}/api/v1/links/{forged}").status_code == 403


def test_official_sees_their_district_and_prints_the_monthly_report(
    start_hub: Any, page: Page
) -> None:
    saturday_night = datetime(2026, 11, 28, 23, 0, tzinfo=KST)  # out of working hours
    running = start_hub(clock=OffsetClock(saturday_night))
    running.resident("r1")
    running.http.post(
        "/api/v1/residents", json={"id": "w1", "name": "서구어르신", "district": "서구"}
    ).raise_for_status()
    response = running.http.post(
        "/api/v1/users", json={"name": "유성구 주무관", "role": "official", "district": "유성구"}
    )
    token = response.json()["token"]
    device = running.device("r1", "spk1")
    device.activity()
    device.emergency()
    device.close()
    listed = wait_until(lambda: running.http.get("/api/v1/alerts").json(), 6)
    alert_id = listed[0]["id"]
    # The official hears of an emergency once the centre has it; at night, in the digest.
    running.http.post(f"/api/v1/alerts/{alert_id}/ack", json={}).raise_for_status()

    open_page(page, running, f"/board#token={token}")
    expect(page.get_by_test_id("digest")).to_contain_text("긴급 호출 접수")
    expect(page.get_by_test_id("residents")).to_contain_text("김영희")
    expect(page.get_by_test_id("residents")).not_to_contain_text("서구어르신")
    expect(page.locator("#worklists")).to_be_visible()
    page.get_by_test_id("queue-item").first.click()
    expect(page.get_by_test_id("timeline")).to_contain_text("경보 발생")
    assert page.get_by_test_id("do-ack").count() == 0, "officials do not work alerts"
    assert page.get_by_test_id("queue-timer").count() == 0, "no answer timer for officials"
    assert page.get_by_test_id("sound").count() == 0
    shot(page, "official")

    month = "2026-11"
    page.set_extra_http_headers({"Authorization": f"Bearer {token}"})
    open_page(page, running, f"/api/v1/reports/유성구/{month}?format=html")
    expect(page.locator("svg").first).to_be_visible()
    expect(page.locator("body")).to_contain_text("유성구")
    shot(page, "report")
    refused = open_page(page, running, f"/api/v1/reports/서구/{month}?format=html")
    assert refused is not None and refused.status == 403
