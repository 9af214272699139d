"""The guardian's page in real Chromium at a phone's size (390 x 844): what a worried son or
daughter reads, the numbers they may call, their own tap (by keyboard) and away mode.

The hub runs on a :class:`FakeClock` stepped to the guardian's SMS (``RunningHub.run_until``)
and the page's clock is set to the hub's, so "30분 안에" and dates do not depend on today.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from playwright.sync_api import Page, expect

from alerts.clock import FakeClock
from tests.hub.support import KST, read_sms
from tests.web.conftest import open_page, shot

TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=KST)
LINK = re.compile(r"http://\S+/g/([A-Za-z0-9_-]+)")
POLICY = {
    "checkin_after": "PT1M",
    "guardian_after": "PT3M",
    "control_center_after": "PT33M",
    "ack_resolve_within": "PT1H",
}
OTHER_GUARDIAN = "+821033334444"


def _register(running: Any) -> None:
    response = running.http.post(
        "/api/v1/residents",
        json={
            "id": "r1",
            "name": "김순자",
            "district": "유성구",
            "phone": "010-1234-5678",
            "policy": POLICY,
        },
    )
    assert response.status_code == 201, response.text
    running.http.post(
        "/api/v1/residents/r1/devices", json={"id": "spk1", "kind": "speaker"}
    ).raise_for_status()
    for name, phone in (("김철수", "+821011112222"), ("김영수", OTHER_GUARDIAN)):
        running.http.post(
            "/api/v1/residents/r1/contacts",
            json={"role": "guardian", "name": name, "phone": phone},
        ).raise_for_status()


def _link_for(running: Any, recipient: str, kind: str = "inactivity") -> str:
    (line,) = [
        m
        for m in read_sms(running.sms_log)
        if m["role"] == "guardian" and m["kind"] == kind and m["to"] == recipient
    ]
    match = LINK.search(line["body"])
    assert match, line["body"]
    return match.group(1)


def _tab_to(page: Page, name: str, most: int = 20) -> None:
    """Move the focus with Tab alone until the control named ``name`` has it."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == name:
            return
    msg = f"{name!r} is not reachable with the keyboard"
    raise AssertionError(msg)


def test_guardian_page_on_a_phone_tap_then_away_mode(start_hub: Any, page: Page) -> None:
    clock = FakeClock(TUESDAY_10)
    running = start_hub(clock=clock)
    _register(running)
    running.run_until(TUESDAY_10 + timedelta(minutes=3))
    token = _link_for(running, "+821011112222")

    page.set_viewport_size({"width": 390, "height": 844})
    open_page(page, running, f"/g/{token}")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.get_by_test_id("summary")).to_contain_text("김순자 어르신")
    expect(page.get_by_test_id("summary")).to_contain_text("활동이 확인되지 않음")
    expect(page.get_by_test_id("since")).to_have_text("11월 24일 오전 10:03 (방금)")
    # The SMS's time: no activity since monitoring began at 10:00.
    expect(page.get_by_test_id("quiet-since")).to_have_text("11월 24일 오전 10:00 이후 없음")
    expect(page.get_by_test_id("status")).to_contain_text("관제센터 연락 전")
    # The centre's step is at T + 33 min = 10:33, the page is read at 10:03.
    expect(page.get_by_test_id("next")).to_have_text(
        "30분 안에 확인하지 않으시면 관제센터가 직접 연락합니다."
    )
    centre = page.get_by_test_id("call-centre")
    expect(centre).to_have_attribute("href", "tel:+8220000000")
    expect(centre).to_contain_text("관제센터에 전화하기")
    resident = page.get_by_test_id("call-resident")
    expect(resident).to_have_attribute("href", "tel:+821012345678")
    expect(resident).to_contain_text("010-1234-5678")
    html = page.content()
    for shown in (OTHER_GUARDIAN, "010-3333-4444", "01033334444", "김영수", token):
        assert shown not in html, f"the page shows {shown!r}"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"
    shot(page, "guardian-390")

    _tab_to(page, "제가 확인해 볼게요")
    page.keyboard.press("Enter")
    expect(page.locator("#done")).to_contain_text("전달되었습니다")
    expect(page.get_by_test_id("status")).to_have_text("보호자님이 확인 중이라고 알렸습니다.")
    expect(page.get_by_test_id("summary")).to_contain_text("(보호자 확인 중)")
    expect(page.get_by_test_id("next")).to_have_text(
        "1시간 안에 '괜찮습니다'를 누르지 않으시면 관제센터가 직접 연락합니다."
    )
    expect(page.get_by_role("button", name="제가 확인해 볼게요")).to_have_count(0)
    alert_id = running.http.get("/api/v1/alerts", params={"resident": "r1"}).json()[0]["id"]
    assert running.http.get(f"/api/v1/alerts/{alert_id}").json()["state"] == "acknowledged"

    page.get_by_label("자녀 집에 계세요").check()
    day = page.get_by_label("언제까지 (마지막 날)")
    expect(day).to_have_attribute("min", "2026-11-24")
    expect(day).to_have_attribute("max", "2027-01-23")
    day.fill("2026-12-04")
    page.get_by_role("button", name="외출로 설정하기").click()
    expect(page.locator("#done")).to_contain_text("외출로 설정했습니다")
    expect(page.get_by_test_id("away-now")).to_contain_text("12월 4일까지")
    expect(page.get_by_test_id("status")).to_have_text(
        "종료되었습니다 — 보호자님이 확인해 주셨습니다."
    )
    shot(page, "guardian-390-away")

    profile = running.http.get("/api/v1/residents/r1").json()
    away_until = datetime.fromisoformat(profile["policy"]["away_until"])
    assert away_until == datetime(2026, 12, 5, 0, 0, tzinfo=KST)
    assert profile["state"] == "away"
    alert = running.http.get(f"/api/v1/alerts/{alert_id}").json()
    assert (alert["state"], alert["outcome"]) == ("resolved", "resolved_by_guardian")
    notes = [t["note"] for t in alert["timeline"] if t["what"] == "note"]
    assert notes == ["가족 집에 머묾: 12월 4일까지 외출 설정 (보호자 링크)"]


def test_guardian_tap_on_an_emergency_does_not_read_as_the_centres(
    start_hub: Any, page: Page
) -> None:
    running = start_hub(clock=FakeClock(TUESDAY_10))
    _register(running)
    device = running.device("r1", "spk1")
    device.emergency()
    running.taken(device)
    running.settle()
    device.close()
    token = _link_for(running, "+821011112222", kind="emergency")

    page.set_viewport_size({"width": 390, "height": 844})
    open_page(page, running, f"/g/{token}")
    expect(page.get_by_test_id("summary")).to_contain_text("김순자 어르신")
    expect(page.get_by_test_id("summary")).to_contain_text("긴급 호출 (관제센터 접수 전)")
    expect(page.get_by_test_id("since")).to_have_text("11월 24일 오전 10:00 (방금)")
    expect(page.get_by_test_id("call-centre")).to_have_attribute("href", "tel:+8220000000")
    # An emergency is closed by the centre, and away mode never pauses one.
    expect(page.get_by_role("button", name=re.compile("괜찮습니다"))).to_have_count(0)
    expect(page.get_by_test_id("away-form")).to_have_count(0)

    page.get_by_role("button", name="제가 확인해 볼게요").click()
    expect(page.locator("#done")).to_contain_text("전달되었습니다")
    expect(page.get_by_test_id("status")).to_have_text(
        "보호자님이 확인 중이라고 알렸습니다 — 관제센터도 계속 확인합니다."
    )
    expect(page.get_by_test_id("summary")).to_contain_text("(보호자 확인 중 · 관제센터 접수 전)")
    expect(page.get_by_test_id("next")).to_have_text(
        "관제센터가 접수할 때까지 1분마다 다시 알리고, 늦어지면 책임자에게도 알립니다."
    )
    shot(page, "guardian-390-emergency")
    alert_id = running.http.get("/api/v1/alerts", params={"resident": "r1"}).json()[0]["id"]
    assert running.http.get(f"/api/v1/alerts/{alert_id}").json()["state"] == "open"
