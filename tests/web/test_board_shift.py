"""The board as a night shift works it, in real Chromium against a real hub and Mosquitto.

An operator, in the browser only, hears, sees and works an emergency from its arrival to its
end (sound, desktop notification, flashing title; one-time steps recorded once; a note; an
outcome chosen and confirmed); a guardian's tap on an emergency link is never the centre's
접수 (the timer and the centre's re-alerts go on until the operator acknowledges); the
keyboard reaches the queue in a fixed order. Sound and notifications are observed through
spies installed before the page's own script runs (headless Chromium plays to no speaker).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from alerts.clock import FakeClock
from protocol.glossary import glossary
from protocol.vocab import ONE_TIME_STEPS
from tests.hub.support import KST, read_sms, wait_until
from tests.web.conftest import axe_problems, shot, sign_in

LINK = re.compile(r"http://\S+/g/([A-Za-z0-9_-]+)")
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=KST)
TIMER = re.compile(r"^\d+:\d\d / 목표 60초$")
DONE_AT = re.compile(r"완료 \d\d:\d\d")

# Counts what the page asks of the browser: tones started, notifications asked for and shown.
SPIES = """
window.__spy = { tones: 0, asked: 0, shown: [] };
const startTone = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__spy.tones += 1;
  return startTone.apply(this, args);
};
if (window.Notification) {
  const Real = window.Notification;
  class Spy extends Real {
    constructor(title, options) {
      window.__spy.shown.push({ title, body: options && options.body });
      super(title, options);
    }
  }
  Object.defineProperty(Spy, "permission", { get: () => Real.permission });
  Spy.requestPermission = (...args) => {
    window.__spy.asked += 1;
    return Real.requestPermission(...args);
  };
  window.Notification = Spy;
}
"""


def _operator(running: Any, name: str = "관제요원 박지훈") -> str:
    response = running.http.post("/api/v1/users", json={"name": name, "role": "operator"})
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def _spy(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate("() => window.__spy")
    return found


def _centre_sms(running: Any) -> int:
    return sum(1 for m in read_sms(running.sms_log) if m["role"] == "control_center")


def test_operator_works_an_emergency_from_arrival_to_resolved(start_hub: Any, page: Page) -> None:
    running = start_hub()
    running.resident("r1", official=False)
    token = _operator(running)
    page.context.grant_permissions(["notifications"], origin=running.base)
    page.add_init_script(SPIES)
    sign_in(page, running, token)
    expect(page.locator("#live")).to_have_text("실시간 연결됨")
    assert page.evaluate("() => window.anbuOneTimeSteps") == sorted(ONE_TIME_STEPS)
    base_title = page.title()

    page.get_by_role("button", name="소리 켜기").click()
    expect(page.get_by_test_id("sound")).to_have_text("소리 끄기")
    assert _spy(page)["asked"] == 1, "the click on 소리 켜기 asks for desktop notifications"
    assert page.evaluate("() => localStorage.getItem('anbu.board.sound')") == "on"

    device = running.device("r1", "spk1")
    device.emergency()
    device.close()
    item = page.get_by_test_id("queue-item").first
    expect(item).to_contain_text("긴급 호출")
    expect(item.get_by_test_id("queue-state")).to_have_text("접수 전")
    expect(item.get_by_test_id("queue-timer")).to_have_text(TIMER)
    page.wait_for_function("() => document.title.startsWith('(1) 긴급 호출 · 김영희')")
    page.wait_for_function("() => window.anbuSoundsPlayed >= 1 && window.__spy.tones >= 1")
    page.wait_for_function("() => window.__spy.shown.length >= 1")
    assert _spy(page)["shown"][0]["title"] == "긴급 호출 · 김영희 어르신"
    assert axe_problems(page) == []
    shot(page, "board")

    # Opened by keyboard: the title stops calling; the detail has the focus.
    item.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#detail-title")).to_be_focused()
    expect(page.locator("#detail-title")).to_have_text("김영희 어르신 · 긴급 호출")
    page.wait_for_function(f"() => document.title === {base_title!r}")
    expect(page.get_by_test_id("alert-state")).to_have_text("접수 전")
    alert_id = running.http.get("/api/v1/alerts", params={"resident": "r1"}).json()[0]["id"]
    # The address names the alert open (history.replaceState), so a reload keeps it.
    expect(page).to_have_url(re.compile(f"/board#alert={re.escape(alert_id)}$"))

    page.get_by_test_id("do-ack").click()
    expect(page.get_by_test_id("alert-state")).to_have_text("접수됨")
    expect(page.get_by_test_id("do-ack")).to_be_disabled()
    expect(item.get_by_test_id("queue-timer")).to_have_count(0)
    page.get_by_test_id("do-called_119").dblclick()
    expect(page.get_by_test_id("do-called_119")).to_be_disabled()
    expect(page.get_by_test_id("do-called_119")).to_have_text(
        re.compile(r"^119 신고 · " + DONE_AT.pattern)
    )
    page.get_by_test_id("note-text").fill("현관문 잠김, 관리사무소에 열쇠 요청")
    page.get_by_test_id("do-note").click()
    log = page.get_by_test_id("centre-log")
    expect(log).to_contain_text("메모 — 관제요원 박지훈: 현관문 잠김, 관리사무소에 열쇠 요청")
    expect(log.locator("li").first).to_contain_text("접수 — 관제요원 박지훈")

    timeline = running.http.get(f"/api/v1/alerts/{alert_id}").json()["timeline"]
    assert [t["what"] for t in timeline].count("called_119") == 1, timeline

    groups = page.get_by_test_id("recipient")
    expect(groups.first).to_be_visible()
    expect(page.get_by_test_id("notifications")).to_contain_text("관제센터 · 02-****-0000")
    expect(page.get_by_test_id("notifications")).to_contain_text("보호자 · 010-****-0000")
    assert groups.evaluate_all("gs => gs.every(g => !g.open)"), "collapsed by default"
    groups.first.locator("summary").click()
    assert axe_problems(page) == []
    shot(page, "board-worked")

    outcome = page.get_by_test_id("outcome")
    expect(outcome).to_have_value("")
    expect(outcome.locator("option").first).to_have_text("결과를 고르세요")
    expect(page.get_by_test_id("do-resolve")).to_be_disabled()
    outcome.select_option("visited")
    page.get_by_test_id("resolve-note").fill("관리사무소와 함께 방문, 어르신 무사")
    page.get_by_test_id("do-resolve").click()
    expect(page.get_by_test_id("confirm")).to_be_visible()
    expect(page.get_by_test_id("confirm-outcome")).to_have_text("방문 확인")
    expect(page.get_by_test_id("confirm-note")).to_have_text("관리사무소와 함께 방문, 어르신 무사")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("alert-state")).to_have_text("종료 (방문 확인)")
    assert posts == [f"{running.base}/api/v1/alerts/{alert_id}/resolve"], "one request, note in it"
    expect(page.get_by_test_id("queue")).to_contain_text("열린 경보가 없습니다")

    # The choice is remembered. Chromium may carry the click's activation over the reload
    # (sound on at once) or want one gesture on the new page first (the button asks for
    # it): a click anywhere on the page is that gesture.
    page.reload()
    expect(page.locator("#detail-title")).to_have_text("김영희 어르신 · 긴급 호출")
    expect(page.get_by_test_id("alert-state")).to_have_text("종료 (방문 확인)")
    toggle = page.get_by_test_id("sound")
    expect(toggle).to_have_text(re.compile(r"^소리 (끄기|켜기 \(한 번 눌러 주세요\))$"))
    page.get_by_role("heading", name="경보 보드", exact=True).click()
    expect(toggle).to_have_text("소리 끄기")
    toggle.click()
    expect(toggle).to_have_text("소리 켜기")
    assert page.evaluate("() => localStorage.getItem('anbu.board.sound')") == "off"
    assert _spy(page)["asked"] == 0, "turning sound off asks for nothing"

    resolved = running.http.get("/api/v1/alerts", params={"state": "resolved"}).json()
    assert [(a["id"], a["outcome"]) for a in resolved] == [(alert_id, "visited")]
    steps = [
        (t["what"], t["note"])
        for t in running.http.get(f"/api/v1/alerts/{alert_id}").json()["timeline"]
        if t["what"] in {"note", "resolved"}
    ]
    assert steps == [
        ("note", "현관문 잠김, 관리사무소에 열쇠 요청"),
        ("note", "관리사무소와 함께 방문, 어르신 무사"),
        ("resolved", "resolved"),
    ]

    # The history, in the same browser: the outcome in the glossary's word, and the note.
    page.goto(f"{running.base}/history")
    row = page.locator(f'[data-testid="history-row"][data-alert="{alert_id}"]')
    expect(row.get_by_test_id("outcome")).to_have_text(glossary()["outcome"]["visited"])
    expect(row.locator("td.note")).to_have_text("관리사무소와 함께 방문, 어르신 무사")

    # A link to the alert (the residents' pages link /board#alert=<id>) opens its detail.
    page.goto(f"{running.base}/board#alert={alert_id}")
    expect(page.locator("#detail-title")).to_have_text("김영희 어르신 · 긴급 호출")
    expect(page.get_by_test_id("alert-state")).to_have_text("종료 (방문 확인)")
    expect(page.get_by_test_id("centre-log")).to_contain_text(
        "메모 — 관제요원 박지훈: 관리사무소와 함께 방문, 어르신 무사"
    )


def test_a_guardians_tap_leaves_the_emergency_to_the_centre_on_the_board(
    start_hub: Any, page: Page
) -> None:
    clock = FakeClock(TUESDAY_10)
    running = start_hub(clock=clock)
    running.resident("r1", official=False)
    token = _operator(running)
    sign_in(page, running, token)
    device = running.device("r1", "spk1")
    device.emergency()
    running.taken(device)
    running.settle()
    device.close()
    (sms,) = [
        m for m in read_sms(running.sms_log) if m["role"] == "guardian" and m["kind"] == "emergency"
    ]
    match = LINK.search(sms["body"])
    assert match, sms["body"]
    tapped = httpx.post(f"{running.base}/api/v1/links/{match.group(1)}/ack", timeout=10)
    assert tapped.status_code == 200, tapped.text
    before = _centre_sms(running)

    item = page.get_by_test_id("queue-item").first
    expect(item.get_by_test_id("queue-guardian")).to_have_text("보호자 확인 중")
    expect(item.get_by_test_id("queue-state")).to_have_text("접수 전")
    timer = item.get_by_test_id("queue-timer")
    expect(timer).to_have_text(TIMER)
    shown = timer.inner_text()
    expect(timer).not_to_have_text(shown)  # it runs
    running.run_until(TUESDAY_10 + timedelta(seconds=125))
    page.clock.set_system_time(clock.now())
    expect(timer).to_have_text(re.compile(r"^2:0\d / 목표 60초$"))
    expect(timer).to_have_class(re.compile("late"))
    assert _centre_sms(running) >= before + 2, "the centre's re-alerts go on after the tap"

    item.click()
    expect(page.get_by_test_id("guardian-checking")).to_contain_text(
        "보호자 확인 중 (관제센터 접수 전)"
    )
    expect(page.get_by_test_id("alert-state")).to_have_text("접수 전")
    expect(page.get_by_test_id("do-ack")).to_have_text("접수")
    expect(page.get_by_test_id("timeline")).to_contain_text("보호자 확인 중 (관제센터 접수 전)")
    expect(page.get_by_test_id("centre-log")).not_to_contain_text("접수")
    # Re-alerts fold into their recipient's line: one group per person, not one line each.
    centre = page.get_by_test_id("recipient").filter(has_text="관제센터 · 02-****-0000")
    expect(centre).to_have_count(1)
    expect(centre).to_contain_text(f"{_centre_sms(running)}건")
    centre.locator("summary").click()
    expect(centre.locator("li")).to_have_count(_centre_sms(running))
    assert axe_problems(page) == []
    shot(page, "board-detail")

    page.get_by_test_id("do-ack").click()
    expect(page.get_by_test_id("alert-state")).to_have_text("접수됨")
    expect(page.get_by_test_id("guardian-checking")).to_have_count(0)
    expect(item.get_by_test_id("queue-state")).to_have_text("접수됨")
    expect(item.get_by_test_id("queue-timer")).to_have_count(0)
    answered = _centre_sms(running)
    running.run_until(TUESDAY_10 + timedelta(seconds=600))
    assert _centre_sms(running) == answered, "no re-alert once the centre has acknowledged"


def test_tab_reaches_sound_then_the_queue_and_enter_opens_the_alert(
    start_hub: Any, page: Page
) -> None:
    running = start_hub()
    running.resident("r1", official=False)
    token = _operator(running)
    device = running.device("r1", "spk1")
    device.emergency()
    device.close()
    wait_until(lambda: running.http.get("/api/v1/alerts").json(), 6)
    sign_in(page, running, token)
    expect(page.get_by_test_id("queue-item")).to_have_count(1)

    page.locator("body").focus()
    order = []
    for _ in range(9):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.textContent.trim()"))
    assert order[:8] == [
        "본문으로 건너뛰기",
        "경보 보드",
        "경보 이력",
        "어르신",
        "명단 가져오기",
        "보고서",
        "소리 켜기",
        "로그아웃",
    ], order
    assert page.evaluate("() => document.activeElement.dataset.testid") == "queue-item"
    page.keyboard.press("Enter")
    expect(page.locator("#detail-title")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_test_id("do-ack")).to_be_focused()


def test_times_after_midnight_read_00_not_24(start_hub: Any, page: Page) -> None:
    """A night shift's 00:05 is "00:05", never "24:05" (some Chromium builds write that for
    hour12: false; the board asks for hourCycle h23). This Chromium passed either way."""
    running = start_hub()
    sign_in(page, running, _operator(running))
    assert page.evaluate("() => hhmm('2026-11-24T15:05:00Z')") == "00:05"
    assert page.evaluate("() => time('2026-11-24T15:05:09Z')").endswith("00:05:09")


def test_a_guardian_taking_an_inactivity_alert_is_not_the_centres_acknowledgement(
    start_hub: Any, page: Page
) -> None:
    clock = FakeClock(TUESDAY_10)
    running = start_hub(clock=clock)
    policy = {
        "checkin_after": "PT2S",
        "guardian_after": "PT3S",
        "control_center_after": "PT1H",
        "ack_resolve_within": "PT2H",
    }
    running.resident("r1", policy=policy, official=False)
    token = _operator(running)
    sign_in(page, running, token)
    running.run_until(TUESDAY_10 + timedelta(seconds=4))
    (sms,) = [m for m in read_sms(running.sms_log) if m["role"] == "guardian"]
    match = LINK.search(sms["body"])
    assert match, sms["body"]
    tapped = httpx.post(f"{running.base}/api/v1/links/{match.group(1)}/ack", timeout=10)
    assert tapped.json()["state"] == "acknowledged", "the API calls the guardian's tap that"

    item = page.get_by_test_id("queue-item").first
    expect(item).to_contain_text("활동 없음")
    expect(item.get_by_test_id("queue-guardian")).to_have_text("보호자 확인 중")
    expect(item.get_by_test_id("queue-state")).to_have_text("접수 전")
    expect(item.get_by_test_id("queue-timer")).to_have_count(0)  # emergencies only
    item.click()
    expect(page.get_by_test_id("alert-state")).to_have_text("접수 전")
    expect(page.get_by_test_id("timeline")).to_contain_text("보호자 확인 중 (관제센터 접수 아님)")
    expect(page.get_by_test_id("do-ack")).to_be_enabled()
    page.get_by_test_id("do-ack").click()
    expect(page.get_by_test_id("alert-state")).to_have_text("접수됨")
    expect(item.get_by_test_id("queue-state")).to_have_text("접수됨")
    expect(page.get_by_test_id("centre-log")).to_contain_text("접수 — 관제요원 박지훈")


def test_the_answer_timer_counts_to_the_residents_own_target_and_links_open_alerts(
    start_hub: Any, page: Page
) -> None:
    clock = FakeClock(TUESDAY_10)
    running = start_hub(clock=clock)
    running.resident("r1", policy={"emergency_ack_within": "PT5M"}, official=False)
    token = _operator(running)
    sign_in(page, running, token)
    expect(page.locator("#live")).to_have_text("실시간 연결됨")
    # A link to an alert that is not there says so in the detail, not in silence.
    page.goto(f"{running.base}/board#alert=nope")
    expect(page.get_by_test_id("detail-message")).to_contain_text("경보를 열지 못했습니다")

    device = running.device("r1", "spk1")
    device.emergency()
    running.taken(device)
    running.settle()
    device.close()
    timer = page.get_by_test_id("queue-item").first.get_by_test_id("queue-timer")
    expect(timer).to_have_text(re.compile(r"^0:\d\d / 목표 5분$"))
    expect(timer).not_to_have_class(re.compile("late"))
    running.run_until(TUESDAY_10 + timedelta(seconds=305))
    page.clock.set_system_time(clock.now())
    expect(timer).to_have_text(re.compile(r"^5:0\d / 목표 5분$"))
    expect(timer).to_have_class(re.compile("late"))

    (alert,) = running.http.get("/api/v1/alerts").json()
    page.goto(f"{running.base}/board#alert={alert['id']}")
    expect(page.locator("#detail-title")).to_have_text("김영희 어르신 · 긴급 호출")
    expect(page.get_by_test_id("alert-state")).to_have_text("접수 전")
