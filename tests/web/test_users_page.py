"""The users view (/users) in real Chromium: an admin makes a user, the token is shown once
and signs in, revoking ends that session, and nobody but an admin gets the page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.hub.support import ADMIN_TOKEN
from tests.web.conftest import axe_problems, open_page, shot, sign_in


def _tab_order(page: Page, start: str, count: int) -> list[str]:
    page.get_by_test_id(start).focus()
    seen = []
    for _ in range(count):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.dataset.testid"))
    return seen


def _user_id(running: Any, name: str) -> int:
    listed = running.http.get("/api/v1/users", params={"include_revoked": True}).json()
    return int(next(u["id"] for u in listed if u["name"] == name))


def test_a_new_operator_gets_a_token_once_signs_in_with_it_and_is_revoked(
    start_hub: Any, page: Page, browser: Browser, capfd: pytest.CaptureFixture[str]
) -> None:
    running = start_hub()
    running.http.post(
        "/api/v1/users", json={"name": "유성구 김주무관", "role": "official", "district": "유성구"}
    ).raise_for_status()
    sign_in(page, running, ADMIN_TOKEN, "/users")
    expect(page.get_by_test_id("users")).to_contain_text("담당 공무원")
    expect(page.get_by_test_id("users")).to_contain_text("유성구")
    assert axe_problems(page) == []
    assert _tab_order(page, "name", 3) == ["role", "district", "create"]

    page.get_by_test_id("name").fill("관제 박지훈")
    page.get_by_test_id("role").select_option("operator")
    page.get_by_test_id("create").click()
    expect(page.get_by_test_id("made")).to_have_text("관제 박지훈 · 관제 요원")
    expect(page.get_by_role("note")).to_contain_text("한 번만 보입니다")
    token = page.get_by_test_id("new-token").input_value()
    assert len(token) >= 24
    assert axe_problems(page) == []
    assert _tab_order(page, "new-token", 2) == ["copy", "back"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_test_id("copy").click()
    expect(page.get_by_test_id("copied")).to_have_text("복사했습니다.")
    assert page.evaluate("navigator.clipboard.readText()") == token
    shot(page, "users-token")

    # The token is not shown again, anywhere.
    page.get_by_test_id("back").click()
    page.wait_for_url("**/users")
    assert token not in page.content()

    # The new operator signs in with it, in a browser of their own.
    other = browser.new_context(
        locale="ko-KR", timezone_id="Asia/Seoul", viewport={"width": 1440, "height": 900}
    )
    theirs = other.new_page()
    sign_in(theirs, running, token, "/board")
    assert theirs.request.get(f"{running.base}/api/v1/me").json()["role"] == "operator"

    # Revoked, after a confirmation: their session ends at their next request.
    user_id = _user_id(running, "관제 박지훈")
    page.get_by_test_id(f"revoke-{user_id}").click()
    expect(page.get_by_test_id("revoke-who")).to_contain_text("관제 박지훈")
    assert axe_problems(page) == []
    assert _tab_order(page, "confirm-revoke", 1) == ["cancel"]
    page.get_by_test_id("confirm-revoke").click()
    expect(page.get_by_test_id("users-notice")).to_have_text(
        "관제 박지훈 님의 접속을 중지했습니다."
    )
    expect(page.get_by_test_id(f"user-{user_id}")).not_to_contain_text("사용 중")
    expect(page.get_by_test_id(f"revoke-{user_id}")).to_have_count(0)
    shot(page, "users")

    assert theirs.request.get(f"{running.base}/api/v1/me").status == 401
    open_page(theirs, running, "/board")
    theirs.wait_for_url("**/login?next=*")
    other.close()

    out, err = capfd.readouterr()
    assert token not in out + err, "a token is never logged"


def test_an_official_needs_a_district(start_hub: Any, page: Page) -> None:
    running = start_hub()
    sign_in(page, running, ADMIN_TOKEN, "/users")
    page.get_by_test_id("name").fill("구청 이주무관")
    page.get_by_test_id("role").select_option("official")
    page.get_by_test_id("create").click()
    expect(page.get_by_test_id("users-error")).to_have_text(
        "담당 공무원은 담당 구를 골라야 합니다."
    )
    # What was typed stays; with a district it goes through.
    expect(page.get_by_test_id("name")).to_have_value("구청 이주무관")
    page.get_by_test_id("district").select_option("유성구")
    page.get_by_test_id("create").click()
    expect(page.get_by_test_id("made")).to_have_text("구청 이주무관 · 담당 공무원 (유성구)")


@pytest.mark.parametrize("role", ["official", "operator"])
def test_only_an_admin_gets_the_users_page(start_hub: Any, page: Page, role: str) -> None:
    running = start_hub()
    body: dict[str, Any] = {"name": "다른 사람", "role": role}
    if role == "official":
        body["district"] = "유성구"
    made = running.http.post("/api/v1/users", json=body)
    made.raise_for_status()
    sign_in(page, running, made.json()["token"], "/board")
    answer = open_page(page, running, "/users")
    assert answer.status == 403
    expect(page.get_by_test_id("forbidden")).to_contain_text("관리자만")
    assert axe_problems(page) == []
    # Nor can they make a user by posting the form themselves (with their own CSRF token).
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "anbu_csrf")
    posted = page.request.post(
        f"{running.base}/users",
        form={"name": "몰래", "role": "admin", "csrf_token": csrf},
        max_redirects=0,
    )
    assert posted.status == 403
    assert _user_count(running) == 1


def _user_count(running: Any) -> int:
    return len(running.http.get("/api/v1/users", params={"include_revoked": True}).json())
