"""The residents list and profile in real Chromium: search and filters, the profile's devices,
contacts, policy and alerts, away mode set and ended from the profile (the hub's state
checked through the API), a resident edited, deactivated and reactivated from the profile,
who may change it, officials limited to their district.

The hub is the history tests' (:func:`tests.web.test_history_page.three_closed_alerts`): on
a :class:`FakeClock` at Tuesday 10:00 in Korea, r1 (유성구) with three closed alerts and an
emergency still open, w1 (대전광역시 서구) with one closed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.hub.support import ADMIN_TOKEN, KST
from tests.web.conftest import axe_problems, open_page, shot, sign_in
from tests.web.test_history_page import WEST, three_closed_alerts


def _user(running: Any, role: str, district: str | None = None) -> str:
    body: dict[str, Any] = {"name": f"{role} 사용자", "role": role}
    if district:
        body["district"] = district
    made = running.http.post("/api/v1/users", json=body)
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


def _rows(page: Page) -> Any:
    return page.get_by_test_id("resident-row")


def _away_until(running: Any, resident: str) -> datetime | None:
    policy = running.http.get(f"/api/v1/residents/{resident}").json()["policy"]
    value = policy["away_until"]
    return None if value is None else datetime.fromisoformat(value)


def test_the_list_searches_and_filters_and_the_tab_order_reaches_the_rows(
    start_hub: Any, page: Page
) -> None:
    running, _ = three_closed_alerts(start_hub)
    sign_in(page, running, _user(running, "operator"), "/residents")
    expect(_rows(page)).to_have_count(2)
    r1 = page.locator('[data-resident="r1"]')
    expect(r1.get_by_test_id("state")).to_have_text("긴급")
    expect(r1).to_contain_text("11월 24일")  # the last activity, in Korea's time
    expect(page.locator('[data-resident="w1"]')).to_contain_text(WEST)
    assert axe_problems(page) == []
    shot(page, "residents")

    page.get_by_test_id("f-q").fill("박서")
    page.get_by_test_id("f-apply").click()
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_have_attribute("data-resident", "w1")
    expect(page).to_have_url(re.compile(r"q=%EB%B0%95%EC%84%9C"))
    open_page(page, running, "/residents?q=R1")  # an id, any case
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_have_attribute("data-resident", "r1")
    open_page(page, running, "/residents?q=%25")  # a % is a letter, not a wildcard
    expect(_rows(page)).to_have_count(0)
    open_page(page, running, "/residents?state=emergency")
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_have_attribute("data-resident", "r1")
    open_page(page, running, "/residents?district=유성구")
    expect(_rows(page)).to_have_count(1)
    expect(page.get_by_test_id("f-district")).to_have_value("유성구")

    open_page(page, running, "/residents")
    page.locator("body").focus()
    order: list[str] = []
    for _ in range(30):
        page.keyboard.press("Tab")
        testid = page.evaluate("() => document.activeElement.dataset.testid || ''")
        if testid:
            order.append(testid)
        if testid == "resident-link":
            break
    assert [t for t in order if t.startswith("f-")][:5] == [
        "f-q",
        "f-district",
        "f-state",
        "f-inactive",
        "f-apply",
    ], order
    assert order[-1] == "resident-link", order


def test_the_profile_shows_devices_contacts_policy_and_alerts(start_hub: Any, page: Page) -> None:
    running, ids = three_closed_alerts(start_hub)
    sign_in(page, running, _user(running, "operator"), "/residents")
    page.locator('[data-resident="r1"]').get_by_test_id("resident-link").click()
    expect(page.get_by_test_id("profile-title")).to_contain_text("김영희 어르신")
    device = page.get_by_test_id("device-row").first
    expect(device).to_contain_text("AI 스피커")
    expect(device).to_contain_text("spk1")
    expect(device).to_contain_text("연결됨")
    expect(device).to_contain_text("11월 24일 10:0")  # last signal and last activity
    guardian = page.get_by_test_id("contact").first
    expect(guardian).to_contain_text("보호자")
    expect(guardian.locator("a")).to_have_attribute("href", "tel:+821000000000")
    expect(guardian.locator("a")).to_have_text("010-0000-0000")
    policy = page.get_by_test_id("policy")
    expect(policy).to_contain_text("정해진 시간 기준")
    expect(policy).to_contain_text("활동 없이 11시간 지나면")
    expect(policy).to_contain_text("활동 없이 12시간 지나면")
    expect(page.get_by_test_id("away")).to_have_text("꺼짐")
    expect(page.get_by_test_id("open-alerts")).to_contain_text("긴급 호출")
    expect(page.get_by_test_id("open-alerts")).to_contain_text("접수 전")
    closed = page.get_by_test_id("closed-alerts").locator("a")
    expect(closed).to_have_count(2)
    assert closed.first.get_attribute("href") == f"/history/{ids['vital']}"
    expect(page.get_by_test_id("summary-link")).to_have_attribute("href", "/residents/r1/summary")
    assert page.get_by_test_id("away-form").count() == 0, "operators view; admins change"
    # An operator's session posting the form anyway is refused, as the API refuses them.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "anbu_csrf")
    refused = page.request.post(
        f"{running.base}/residents/r1/away",
        form={"csrf_token": csrf, "last_day": "2026-12-05"},
        max_redirects=0,
    )
    assert refused.status == 403
    assert _away_until(running, "r1") is None
    page.get_by_test_id("history-link").first.click()
    expect(page).to_have_url(re.compile(r"/history\?resident=r1$"))
    expect(page.get_by_test_id("history-row")).to_have_count(2)


def test_away_mode_from_the_profile_changes_the_hubs_policy(start_hub: Any, page: Page) -> None:
    running, _ = three_closed_alerts(start_hub)
    sign_in(page, running, ADMIN_TOKEN, "/residents/w1")
    expect(page.get_by_test_id("away")).to_have_text("꺼짐")
    page.get_by_test_id("away-day").fill("2026-12-05")
    page.get_by_test_id("away-set").click()
    expect(page.get_by_test_id("flash")).to_have_text("외출 모드를 정했습니다.")
    expect(page).to_have_url(re.compile(r"/residents/w1\?done=away_set#policy$"))
    expect(page.get_by_test_id("away")).to_have_text("12월 5일까지 외출")
    # Away mode for a last day ends at the midnight after it, in Korea.
    assert _away_until(running, "w1") == datetime(2026, 12, 6, 0, 0, tzinfo=KST)
    expect(page.get_by_test_id("away-day")).to_have_value("2026-12-05")
    assert axe_problems(page) == []
    shot(page, "resident-profile")

    page.get_by_test_id("away-end").click()
    expect(page.get_by_test_id("flash")).to_have_text("외출 모드를 끝냈습니다.")
    expect(page.get_by_test_id("away")).to_have_text("꺼짐")
    assert _away_until(running, "w1") is None

    # A day past the bound is refused with the reason, the hub unchanged; so is a form
    # without its CSRF token.
    client = httpx.Client(base_url=running.base, follow_redirects=False)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    client.cookies.update(cookies)
    late = client.post(
        "/residents/w1/away", data={"csrf_token": cookies["anbu_csrf"], "last_day": "2028-01-01"}
    )
    assert late.status_code == 303
    assert late.headers["location"] == "/residents/w1?problem=away_day#policy"
    assert _away_until(running, "w1") is None
    forged = client.post("/residents/w1/away", data={"last_day": "2026-12-05"})
    assert forged.status_code == 403
    assert _away_until(running, "w1") is None
    client.close()
    open_page(page, running, "/residents/w1?problem=away_day")
    expect(page.get_by_test_id("problem")).to_contain_text("365일")


def test_an_official_sees_only_their_district_and_no_numbers(start_hub: Any, page: Page) -> None:
    running, _ = three_closed_alerts(start_hub)
    sign_in(page, running, _user(running, "official", "유성구"), "/residents")
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_have_attribute("data-resident", "r1")
    open_page(page, running, f"/residents?district={WEST}")
    expect(_rows(page)).to_have_count(1)  # not theirs: the condition is dropped, not obeyed
    expect(_rows(page).first).to_have_attribute("data-resident", "r1")
    refused = open_page(page, running, "/residents/w1")
    assert refused is not None and refused.status == 404
    open_page(page, running, "/residents/r1")
    expect(page.get_by_test_id("contact").first).to_contain_text("010-****-0000")
    assert page.locator('a[href^="tel:"]').count() == 0
    assert page.get_by_test_id("away-form").count() == 0
    assert axe_problems(page) == []


def _shown(running: Any, resident: str) -> dict[str, Any]:
    response = running.http.get(f"/api/v1/residents/{resident}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_resident_is_edited_deactivated_and_reactivated_from_the_profile(
    start_hub: Any, page: Page
) -> None:
    running, _ = three_closed_alerts(start_hub)
    sign_in(page, running, ADMIN_TOKEN, "/residents/w1")
    page.get_by_test_id("edit-open").click()
    page.get_by_test_id("edit-name").fill("박순자")
    page.get_by_test_id("edit-district").fill("동구")
    page.get_by_test_id("edit-address").fill("대전 동구 중앙로 1")
    page.get_by_test_id("edit-phone").fill("010-2222-3333")
    page.get_by_test_id("edit-save").click()
    expect(page.get_by_test_id("flash")).to_have_text("기본 정보를 고쳤습니다.")
    expect(page.get_by_test_id("profile-title")).to_contain_text("박순자 어르신")
    shown = _shown(running, "w1")
    assert (shown["name"], shown["district"], shown["phone"]) == (
        "박순자",
        "대전광역시 동구",
        "+821022223333",
    )
    expect(page.get_by_test_id("resident-phone")).to_have_text("010-2222-3333")

    # A district the hub does not have: refused with the reason, nothing changed.
    page.get_by_test_id("edit-open").click()
    page.get_by_test_id("edit-district").fill("없는구")
    page.get_by_test_id("edit-save").click()
    expect(page.get_by_test_id("problem")).to_contain_text("그런 지역(구)이 없습니다")
    assert _shown(running, "w1")["district"] == "대전광역시 동구"

    # Deactivated: the reason chosen by keyboard (Tab from the reason reaches the button).
    page.get_by_test_id("deactivate-reason").select_option(label="이사")
    page.get_by_test_id("deactivate-reason").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.dataset.testid") == "deactivate"
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("flash")).to_contain_text("보호를 끝냈습니다")
    expect(page.get_by_test_id("ended")).to_contain_text("까닭 이사")
    expect(page.get_by_test_id("state")).to_have_text("보호 종료")
    assert (_shown(running, "w1")["active"], _shown(running, "w1")["inactive_reason"]) == (
        False,
        "moved",
    )
    expect(page.get_by_test_id("closed-alerts").locator("a")).to_have_count(1)  # history kept
    assert page.get_by_test_id("away-form").count() == 0, "no one's away who is not watched"
    assert axe_problems(page) == []
    shot(page, "resident-deactivated")

    open_page(page, running, "/residents")
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_have_attribute("data-resident", "r1")
    page.get_by_test_id("f-inactive").select_option("show")
    page.get_by_test_id("f-apply").click()
    expect(_rows(page)).to_have_count(2)
    expect(page.locator('[data-resident="w1"]').get_by_test_id("state")).to_have_text("보호 종료")
    assert axe_problems(page) == []

    open_page(page, running, "/residents/w1")
    page.get_by_test_id("reactivate").click()
    expect(page.get_by_test_id("flash")).to_have_text("다시 보호를 시작했습니다.")
    assert _shown(running, "w1")["active"] is True
    assert page.get_by_test_id("ended").count() == 0
    assert axe_problems(page) == []

    # r1's emergency is open: the deactivation is refused with the reason.
    open_page(page, running, "/residents/r1")
    page.get_by_test_id("deactivate-reason").select_option("died")
    page.get_by_test_id("deactivate").click()
    expect(page.get_by_test_id("problem")).to_contain_text("긴급 호출")
    assert _shown(running, "r1")["active"] is True


def test_only_admins_see_and_use_the_lifecycle_forms(start_hub: Any, page: Page) -> None:
    running, _ = three_closed_alerts(start_hub)
    sign_in(page, running, _user(running, "operator"), "/residents/w1")
    assert page.get_by_test_id("edit-form").count() == 0
    assert page.get_by_test_id("deactivate-form").count() == 0
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "anbu_csrf")
    forms: tuple[tuple[str, dict[str, str | float | bool]], ...] = (
        ("/residents/w1/edit", {"csrf_token": csrf, "name": "누구", "district": "서구"}),
        ("/residents/w1/deactivate", {"csrf_token": csrf, "reason": "moved"}),
        ("/residents/w1/reactivate", {"csrf_token": csrf}),
    )
    for path, form in forms:
        refused = page.request.post(f"{running.base}{path}", form=form, max_redirects=0)
        assert refused.status == 403, path
    shown = _shown(running, "w1")
    assert (shown["name"], shown["active"]) == ("박서구", True)
