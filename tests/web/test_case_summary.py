"""The case summary for the integrated support meeting (GET /residents/{id}/summary) in real
Chromium against a real hub, on SQLite and PostgreSQL: twelve weeks of a resident's life in
virtual time (the hub on a FakeClock stepped through each day), with an emergency that ended
in hospital, a hospital stay in away mode, a false alarm, a visit, a phone that dropped off
twice and activity that fell by more than half; the page shows each, prints on one A4 page
and passes axe."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import select

from alerts.clock import FakeClock
from hub.store.tables import events
from tests.hub.support import DEFAULT_TEST_START, KST, Device, read_sms, wait_until
from tests.web.conftest import ARTIFACTS, axe_problems, open_page, shot, sign_in

LINK = re.compile(r"http://\S+/g/([A-Za-z0-9_-]+)")
END = DEFAULT_TEST_START
DAYS = 88
START = END - timedelta(days=DAYS)
# Stages days apart, so a day's activity keeps the watch quiet and a three-day silence is an
# inactivity alert; devices beat once a day (missed 3 times: offline after three days).
POLICY = {
    "checkin_after": "PT60H",
    "guardian_after": "PT66H",
    "control_center_after": "PT72H",
    "trend_watch": True,
}
DAY_BEAT = 86_400
EMERGENCY_DAY, HOSPITAL_DAYS = 21, 7
FALSE_ALARM_SILENCE = range(35, 38)  # no activity on these days
VISITED_SILENCE = range(55, 58)
PHONE_DOWN = (60, 62)  # Last Will on day 60, back on day 62
ACTIVITY_DROPS_ON = 63


def _stored(running: Any, device: Device, marker: str) -> None:
    def stored() -> bool:
        with running.hub.engine.connect() as conn:
            return (
                conn.execute(
                    select(events.c.event_id)
                    .where(events.c.device_id == device.device)
                    .where(events.c.event_id == marker)
                ).first()
                is not None
            )

    wait_until(stored, 10)


def _beat(running: Any, device: Device) -> None:
    """A day's heartbeat, waited for until stored: everything sent before it is taken."""
    _stored(running, device, device.send("heartbeat", interval_s=DAY_BEAT))


def _last_will(running: Any, device: Device) -> None:
    """The broker's Last Will for ``device``, stored before the clock moves on (its receipt
    time is when the device counts as offline)."""
    ts = device.ts()
    device.raw("status", json.dumps({"state": "offline", "ts": ts}))
    _stored(running, device, f"status:offline:{ts}")


def _alert_of(running: Any, kind: str, resident: str = "c1") -> dict[str, Any]:
    def unresolved() -> dict[str, Any] | None:
        found = running.http.get("/api/v1/alerts", params={"resident": resident}).json()
        return next((a for a in found if a["kind"] == kind and a["state"] != "resolved"), None)

    found: dict[str, Any] = wait_until(unresolved, 10)
    return found


def _work(running: Any, alert_id: str, outcome: str, step: str | None = None) -> None:
    post = running.http.post
    assert post(f"/api/v1/alerts/{alert_id}/ack", json={"by": "관제요원 박"}).status_code == 200
    if step:
        response = post(f"/api/v1/alerts/{alert_id}/actions", json={"step": step})
        assert response.status_code == 200, response.text
    running.hub.clock.advance(timedelta(minutes=40))
    response = post(f"/api/v1/alerts/{alert_id}/resolve", json={"outcome": outcome})
    assert response.status_code == 200, response.text
    running.settle()


def _live_twelve_weeks(running: Any) -> None:
    clock = running.hub.clock
    speaker = running.device("c1", "spk1")
    phone = running.device("c1", "ph1")
    for day in range(DAYS):
        running.run_until(START + timedelta(days=day))
        quiet = day in FALSE_ALARM_SILENCE or day in VISITED_SILENCE
        in_hospital = EMERGENCY_DAY < day <= EMERGENCY_DAY + HOSPITAL_DAYS
        if day == 37:
            running.run_until(START + timedelta(days=day, hours=1))
            alert = _alert_of(running, "inactivity")
            clock.advance(timedelta(minutes=12))
            _work(running, alert["id"], "false_alarm")
        if day == 57:
            running.run_until(START + timedelta(days=day, hours=1))
            alert = _alert_of(running, "inactivity")
            clock.advance(timedelta(minutes=25))
            _work(running, alert["id"], "visited", step="dispatched")
        if not quiet and not in_hospital:
            count = 40 if day < ACTIVITY_DROPS_ON else 6
            speaker.send("activity", source="voice", count=count)
        _beat(running, speaker)
        if day == PHONE_DOWN[0]:
            _last_will(running, phone)
        elif day != PHONE_DOWN[0] + 1:
            _beat(running, phone)
        if day == DAYS - 1:
            _last_will(running, phone)
        if day == EMERGENCY_DAY:
            speaker.emergency()
            alert = _alert_of(running, "emergency")
            clock.advance(timedelta(minutes=3))
            running.settle()
            _work(running, alert["id"], "transported", step="called_119")
            until = (START + timedelta(days=day + HOSPITAL_DAYS + 1)).astimezone(KST)
            response = running.http.patch(
                "/api/v1/residents/c1/policy", json={"policy": {"away_until": until.isoformat()}}
            )
            assert response.status_code == 200, response.text
    _beat(running, speaker)
    speaker.close()
    phone.close()
    running.run_until(END)


def _official(running: Any, district: str) -> str:
    response = running.http.post(
        "/api/v1/users",
        json={"name": f"{district} 주무관", "role": "official", "district": district},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def _pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    return [
        (float(w), float(h))
        for w, h in re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    ]


def test_the_case_summary_shows_a_mixed_history_and_prints_on_a4(
    start_hub: Any, page: Page
) -> None:
    running = start_hub(clock=FakeClock(START))
    running.resident("c1", devices={"spk1": "speaker", "ph1": "phone"}, policy=POLICY)
    _live_twelve_weeks(running)
    response = running.http.post(
        "/api/v1/users", json={"name": "관제요원 이수진", "role": "operator"}
    )
    assert response.status_code == 201, response.text

    sign_in(page, running, response.json()["token"], "/residents/c1/summary")
    sheet = page.get_by_test_id("case-summary")
    expect(sheet).to_contain_text("통합지원회의 사례 요약")
    expect(page.get_by_test_id("resident")).to_have_text("김영희 어르신 · 유성구")
    printed = END.astimezone(KST).strftime("%Y년 %m월 %d일 %H:%M")
    expect(page.get_by_test_id("printed")).to_have_text(printed)

    rows = page.get_by_test_id("alert-row")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("긴급 호출")
    expect(rows.nth(0)).to_contain_text("병원 이송")
    expect(rows.nth(0)).to_contain_text("119 신고")
    expect(rows.nth(0).locator("td").nth(3)).to_have_text("3분")  # to the centre's 접수
    expect(rows.nth(0).locator("td").nth(4)).to_have_text("43분")
    expect(rows.nth(1)).to_contain_text("활동 없음")
    expect(rows.nth(1)).to_contain_text("오경보")
    expect(rows.nth(2)).to_contain_text("방문 확인")
    expect(rows.nth(2)).to_contain_text("출동")
    alerts = page.get_by_test_id("alerts")
    expect(alerts.get_by_role("row", name=re.compile("^긴급 호출 1 0"))).to_have_count(1)
    expect(alerts.get_by_role("row", name=re.compile("^활동 없음 2 0"))).to_have_count(1)

    devices = page.get_by_test_id("device-row")
    expect(devices.filter(has_text="spk1")).to_contain_text("100.0%")
    # ph1: down two days from its Last Will on day 60, and since the last day's (1 day).
    expected = 100 * (DAYS - 3) / DAYS
    expect(devices.filter(has_text="ph1")).to_contain_text(f"{expected:.1f}%")
    expect(devices.filter(has_text="ph1")).to_contain_text("끊김")
    follow = page.get_by_test_id("follow-ups")
    expect(follow).to_contain_text("지금 끊긴 기기: 휴대전화 (ph1)")

    until = (START + timedelta(days=EMERGENCY_DAY + HOSPITAL_DAYS + 1)).astimezone(KST)
    away = page.get_by_test_id("away")
    expect(page.get_by_test_id("away-until")).to_contain_text(
        f"{until:%Y.%m.%d %H:%M}까지 (종료됨)"
    )
    expect(away).to_contain_text("현재 정책(버전 2)만 보관")
    expect(page.get_by_test_id("hospital")).to_contain_text("긴급 호출 → 병원 이송")

    # 13 weeks of 7 days back from the end, the first before registration. Full weeks of
    # 280 (40 a day), 160 and 120 (the silences and the stay) and 42 (6 a day): median 160,
    # and the three weeks after the drop below half of it.
    table = page.get_by_test_id("activity-table")
    expect(table.locator("tr").nth(1).locator("td")).to_have_count(13)
    expect(table).to_contain_text("관찰 전")
    expect(table.locator("td.low")).to_have_count(3)
    desc = page.locator("#chart-desc")
    expect(desc).to_contain_text("본인 중앙값 주 160건")
    expect(desc).to_contain_text("중앙값의 절반 미만인 주")
    findings = running.http.get("/api/v1/trends", params={"days": 90}).json()
    trends = page.get_by_test_id("trends")
    for finding in findings:
        expect(trends).to_contain_text(finding["detail"])
    if not findings:
        expect(trends).to_contain_text("발견된 추이가 없습니다")

    text = sheet.inner_text()
    assert "+8210" not in text and "010" not in text, "no contact's phone number on the page"
    expect(page.get_by_test_id("contacts")).to_contain_text("보호자: 담당자")

    assert axe_problems(page) == []
    shot(page, "case-summary")
    order = []
    for _ in range(12):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert order[0] == "본문으로 건너뛰기"
    assert order.index("로그아웃") < order.index("인쇄 (A4)"), order

    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "case-summary.pdf").write_bytes(pdf)
    sizes = _pdf_pages(pdf)
    assert sizes, "no page size in the PDF"
    for width, height in sizes:  # A4 in points: 595.28 x 841.89
        assert abs(width - 595.3) < 2 and abs(height - 841.9) < 2, sizes
    assert len(sizes) == 1, f"the summary took {len(sizes)} A4 pages"
    if shutil.which("pdftotext") is None:
        print("pdftotext missing: the PDF's text is not checked")  # noqa: T201
        return
    out = subprocess.run(
        ["pdftotext", "-layout", str(ARTIFACTS / "case-summary.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for word in ("김영희", "통합지원회의 사례 요약", "병원 이송", "오경보", "방문 확인"):
        assert word in out, f"{word} missing from the PDF text"


def test_the_summary_is_for_staff_and_the_residents_own_district(
    start_hub: Any, page: Page, tmp_path: Path
) -> None:
    running = start_hub()
    running.resident("c2")
    own, other = _official(running, "유성구"), _official(running, "서구")

    def get(path: str, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{running.base}{path}", headers=headers, follow_redirects=False)

    assert get("/residents/c2/summary", own).status_code == 200
    assert get("/residents/c2/summary", other).status_code == 404
    assert get("/residents/nobody/summary", own).status_code == 404
    refused = get("/residents/c2/summary", None)
    assert refused.status_code == 303 and "/login" in refused.headers["location"]

    sign_in(page, running, own, "/residents/c2/summary")
    expect(page.get_by_test_id("alerts")).to_contain_text("경보가 없었습니다")
    expect(page.get_by_test_id("follow-ups")).to_contain_text("없음")
    assert axe_problems(page) == []
    open_page(page, running, "/residents/c2/summary")
    expect(page.get_by_test_id("resident")).to_contain_text("김영희")


def test_a_guardians_hospital_stay_from_the_link_is_on_the_summary(start_hub: Any) -> None:
    """Away mode set from a guardian's link with "입원" as the reason: the note the link puts
    on the alert's timeline, the alert's end (보호자 확인) and the away mode still running."""
    running = start_hub()
    fast = {"checkin_after": "PT2S", "guardian_after": "PT3S", "control_center_after": "PT600S"}
    running.resident("c3", policy=fast)

    def link() -> str | None:
        for message in read_sms(running.sms_log):
            found = LINK.search(message["body"]) if message["role"] == "guardian" else None
            if found:
                return found.group(1)
        return None

    token = wait_until(link, 10)
    last_day = (running.clock.now().astimezone(KST) + timedelta(days=5)).date()
    response = httpx.post(
        f"{running.base}/api/v1/links/{token}/away",
        json={"last_day": last_day.isoformat(), "reason": "hospital"},
    )
    assert response.status_code == 200, response.text
    page_text = running.http.get("/residents/c3/summary").text
    assert f"입원: {last_day.month}월 {last_day.day}일까지 외출 설정 (보호자 링크)" in page_text
    assert '<td class="nw">보호자 확인</td>' in page_text  # the outcome, in the glossary's word
    assert f"{last_day + timedelta(days=1):%Y.%m.%d} 00:00까지 (지금 외출 중)" in page_text


def test_a_long_history_still_prints_on_one_page(start_hub: Any, page: Page) -> None:
    """An emergency, then eighteen silences that ended by themselves and one still open: the
    list keeps the emergency and the open alert first and fills up with the newest others,
    says how many are left out; the counts per kind keep them all; one A4 page."""
    running = start_hub(clock=FakeClock(START))
    fast = {"checkin_after": "PT2S", "guardian_after": "PT3S", "control_center_after": "PT60S"}
    running.resident("c4", policy=fast)
    speaker = running.device("c4", "spk1")
    speaker.emergency()
    _work(running, _alert_of(running, "emergency", "c4")["id"], "transported")  # 40 min
    for hour in range(1, 19):
        running.run_until(START + timedelta(hours=hour, seconds=5))
        speaker.activity()  # ends the silence's alert: 활동 재개로 자동 종료
        _beat(running, speaker)
    speaker.close()
    running.run_until(START + timedelta(hours=19))  # one more silence, left open
    found = running.http.get("/api/v1/alerts", params={"resident": "c4"}).json()
    assert found[0]["state"] == "open" and len(found) >= 20

    response = running.http.post("/api/v1/users", json={"name": "관제요원", "role": "operator"})
    sign_in(page, running, response.json()["token"], "/residents/c4/summary")
    rows = page.get_by_test_id("alert-row")
    expect(rows).to_have_count(6)
    expect(rows.first).to_contain_text("긴급 호출")
    expect(rows.first).to_contain_text("병원 이송")
    expect(rows.nth(1)).to_contain_text("활동 재개로 자동 종료")
    expect(rows.last).to_contain_text("진행 중")
    expect(page.get_by_test_id("alerts-left-out")).to_contain_text(f"나머지 {len(found) - 6}건")
    alerts = page.get_by_test_id("alerts")
    expect(alerts.get_by_role("row", name=re.compile("^긴급 호출 1 0"))).to_have_count(1)
    inactivity = sum(1 for a in found if a["kind"] == "inactivity")
    expect(alerts.get_by_role("row", name=re.compile(f"^활동 없음 {inactivity} 1"))).to_have_count(
        1
    )
    expect(page.get_by_test_id("follow-ups")).to_contain_text("열린 경보:")
    pdf = page.pdf(prefer_css_page_size=True)
    (ARTIFACTS / "case-summary-long.pdf").write_bytes(pdf)
    assert len(_pdf_pages(pdf)) == 1
