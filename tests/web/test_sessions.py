"""Browser sessions (hub/api/sessions.py): the login page, the cookie, CSRF, revocation.

The staff pages run on an HttpOnly, SameSite=Strict cookie; every change made with it needs
its CSRF token, while API clients keep bearer tokens and need none.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import select

from hub.store.db import reading
from hub.store.tables import api_users, browser_sessions
from tests.hub.support import ADMIN_TOKEN
from tests.web.conftest import axe_problems, open_page


def _operator(running: Any) -> tuple[int, str]:
    response = running.http.post("/api/v1/users", json={"name": "관제 김", "role": "operator"})
    assert response.status_code == 201, response.text
    return int(response.json()["id"]), str(response.json()["token"])


def _browser_like(running: Any) -> httpx.Client:
    return httpx.Client(base_url=running.base, timeout=10, follow_redirects=False)


def _signed_in(running: Any, token: str) -> httpx.Client:
    client = _browser_like(running)
    answer = client.post("/login", data={"token": token, "next": "/history"})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/history"
    return client


def test_login_sets_a_strict_httponly_session_and_a_csrf_cookie(start_hub: Any) -> None:
    running = start_hub()
    _, token = _operator(running)
    client = _browser_like(running)
    answer = client.post("/login", data={"token": token, "next": "/board"})
    assert answer.status_code == 303
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("anbu_session="))
    csrf = next(c for c in cookies if c.startswith("anbu_csrf="))
    assert "HttpOnly" in session
    assert "samesite=strict" in session.lower()
    assert "samesite=strict" in csrf.lower()
    assert "HttpOnly" not in csrf, "the page's script must read the CSRF token"
    assert token not in session, "the token itself never goes into a cookie"
    assert client.get("/api/v1/me").json()["role"] == "operator"
    client.close()


def test_a_wrong_token_is_a_page_saying_so(start_hub: Any) -> None:
    running = start_hub()
    client = _browser_like(running)
    answer = client.post("/login", data={"token": "not-a-token", "next": "/board"})
    assert answer.status_code == 401
    assert "토큰이 맞지 않습니다" in answer.text
    assert "anbu_session" not in answer.headers.get("set-cookie", "")
    client.close()


def test_changes_made_with_the_cookie_need_the_csrf_token(start_hub: Any) -> None:
    running = start_hub()
    running.resident("r1", official=False)
    client = _signed_in(running, ADMIN_TOKEN)
    body = {"policy": {"away_until": None}}
    change = "/api/v1/residents/r1/policy"
    refused = client.patch(change, json=body)
    assert refused.status_code == 403, refused.text
    assert "CSRF" in refused.text
    wrong = client.patch(change, json=body, headers={"X-CSRF-Token": "x"})
    assert wrong.status_code == 403
    csrf = client.cookies["anbu_csrf"]
    allowed = client.patch(change, json=body, headers={"X-CSRF-Token": csrf})
    assert allowed.status_code == 200, allowed.text
    # Reading needs no token; a bearer client never needs one.
    assert client.get("/api/v1/residents").status_code == 200
    bearer = httpx.Client(base_url=running.base, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert bearer.patch(change, json=body).status_code == 200
    bearer.close()
    client.close()


def test_a_revoked_user_loses_their_session_at_once(start_hub: Any) -> None:
    running = start_hub()
    user_id, token = _operator(running)
    client = _signed_in(running, token)
    assert client.get("/api/v1/me").status_code == 200
    revoked = running.http.post(f"/api/v1/users/{user_id}/revoke")
    assert revoked.status_code == 200, revoked.text
    listed = running.http.get("/api/v1/users", params={"include_revoked": True}).json()
    assert [u["revoked_at"] is not None for u in listed if u["id"] == user_id] == [True]
    assert all("token" not in key for u in listed for key in u)
    assert client.get("/api/v1/me").status_code == 401
    client.close()


def test_logging_out_ends_the_session_everywhere(start_hub: Any) -> None:
    running = start_hub()
    _, token = _operator(running)
    client = _signed_in(running, token)
    copy = httpx.Client(base_url=running.base, timeout=10)
    copy.cookies.set("anbu_session", client.cookies["anbu_session"])
    assert copy.get("/api/v1/me").status_code == 200
    out = client.post("/logout", data={"csrf_token": client.cookies["anbu_csrf"]})
    assert out.status_code == 303
    assert copy.get("/api/v1/me").status_code == 401, "a copied cookie outlived the logout"
    copy.close()
    client.close()


def test_the_database_holds_nothing_that_signs_anyone_in(start_hub: Any) -> None:
    running = start_hub()
    _, token = _operator(running)
    client = _signed_in(running, token)
    cookie = client.cookies["anbu_session"]
    with reading(running.hub.engine) as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(browser_sessions))]
        hashes = {r.token_hash for r in conn.execute(select(api_users.c.token_hash))}
    assert len(rows) == 1
    assert cookie not in str(rows)
    # A cookie made of what the tables hold is no session.
    for forged in (rows[0]["id_hash"], rows[0]["subject"], *hashes):
        probe = httpx.Client(base_url=running.base, timeout=10)
        probe.cookies.set("anbu_session", forged)
        assert probe.get("/api/v1/me").status_code == 401
        probe.close()
    client.close()


def test_a_login_posted_from_another_site_is_refused(start_hub: Any) -> None:
    running = start_hub()
    _, token = _operator(running)
    client = _browser_like(running)
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        answer = client.post("/login", data={"token": token}, headers=headers)
        assert answer.status_code == 403, headers
        assert "anbu_session" not in answer.headers.get("set-cookie", "")
    same = client.post("/login", data={"token": token}, headers={"Origin": running.base})
    assert same.status_code == 303
    client.close()


def test_a_forged_session_cookie_is_not_a_session(start_hub: Any) -> None:
    running = start_hub()
    _, token = _operator(running)
    client = _signed_in(running, token)
    good = client.cookies["anbu_session"]
    client.cookies.set(
        "anbu_session", good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    )
    assert client.get("/api/v1/me").status_code == 401
    client.close()


def test_login_goes_back_only_to_a_page_of_this_hub(start_hub: Any) -> None:
    running = start_hub()
    _, token = _operator(running)
    for elsewhere in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        client = _browser_like(running)
        answer = client.post("/login", data={"token": token, "next": elsewhere})
        assert answer.headers["location"] == "/board", elsewhere
        client.close()


def test_a_page_without_a_session_sends_the_browser_to_log_in_and_back(
    start_hub: Any, page: Page
) -> None:
    running = start_hub()
    _, token = _operator(running)
    open_page(page, running, "/board")
    page.wait_for_url("**/login?next=*")
    page.get_by_test_id("token").fill(token)
    page.get_by_test_id("signin").click()
    page.wait_for_url("**/board")
    expect(page.get_by_role("navigation", name="주 메뉴")).to_contain_text("경보 보드")
    expect(page.locator("#live")).to_have_text("실시간 연결됨")
    page.get_by_role("button", name="로그아웃").click()
    # The login page, with or without ?next=: a board refresh that was in flight as the
    # session ended is refused and sends the browser to log in again, back to the board.
    page.wait_for_url(re.compile(r".*/login(\?next=[^&]*)?$"))
    assert not [c for c in page.context.cookies() if c["name"] == "anbu_session"]


def test_the_login_page_passes_the_accessibility_check(start_hub: Any, page: Page) -> None:
    running = start_hub()
    open_page(page, running, "/login")
    assert axe_problems(page) == []
    page.keyboard.press("Tab")  # the skip link first, then the token field and the button
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "token"


def test_a_page_not_for_the_callers_role_is_a_page_saying_so(start_hub: Any) -> None:
    running = start_hub()
    response = running.http.post(
        "/api/v1/users", json={"name": "담당 박", "role": "official", "district": "유성구"}
    )
    client = _signed_in(running, response.json()["token"])
    refused = client.get("/roster")
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "권한" in refused.text
    assert 'aria-label="주 메뉴"' in refused.text, "with the navigation, to go elsewhere"
    client.close()


def test_a_link_to_an_alert_survives_the_login(start_hub: Any, page: Page) -> None:
    running = start_hub()
    _, token = _operator(running)
    open_page(page, running, "/history#alert=a1")
    page.wait_for_url("**/login?next=*")
    page.get_by_test_id("token").fill(token)
    page.get_by_test_id("signin").click()
    page.wait_for_url("**/history#alert=a1")
