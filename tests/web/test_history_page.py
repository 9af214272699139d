"""The alert history in real Chromium: closed alerts filtered by district, kind, outcome and
day (the URL carries the filters), one alert read-only with its timeline, officials limited
to their district, keyboard order and axe on both views.

The hub runs on a :class:`FakeClock` (Tuesday 10:00 in Korea): three alerts of three kinds
are opened by devices and the clock, and closed through the API with three outcomes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import insert, select

from alerts.clock import FakeClock
from hub.store import history_reads
from hub.store.db import Engine, migrate, open_engine
from hub.store.history_reads import NO_OUTCOME, HistoryFilter
from hub.store.tables import alert_timeline, alerts, residents
from tests.hub.support import ADMIN_TOKEN, KST, wait_until
from tests.web.conftest import axe_problems, open_page, shot, sign_in

TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=KST)
OPERATOR = "관제요원 박지민"
WEST = "대전광역시 서구"  # "서구" as stored: several 시도 have one (hub/store/districts.csv)
QUIET_POLICY = {
    "checkin_after": "PT1M",
    "guardian_after": "PT3M",
    "control_center_after": "PT33M",
}


def _alert_of(running: Any, resident: str, kind: str) -> str:
    def found() -> str | None:
        rows = running.http.get("/api/v1/alerts", params={"resident": resident}).json()
        return next((a["id"] for a in rows if a["kind"] == kind and a["state"] != "resolved"), None)

    return str(wait_until(found, 10))


def _work(running: Any, alert_id: str, *, ack: bool, outcome: str, note: str | None) -> None:
    if ack:
        running.http.post(
            f"/api/v1/alerts/{alert_id}/ack", json={"by": OPERATOR}
        ).raise_for_status()
    if note:
        running.http.post(
            f"/api/v1/alerts/{alert_id}/actions",
            json={"by": OPERATOR, "step": "note", "note": note},
        ).raise_for_status()
    running.http.post(
        f"/api/v1/alerts/{alert_id}/resolve", json={"by": OPERATOR, "outcome": outcome}
    ).raise_for_status()


def three_closed_alerts(start_hub: Any) -> tuple[Any, dict[str, str]]:
    """A hub with r1 (유성구) and w1 (서구) and three closed alerts, plus one still open:

    * r1 긴급 호출, 접수 after 90 s, 오경보, with a memo;
    * r1 건강 수치 이상, never 접수, 방문 확인;
    * w1 활동 없음, 접수, 전화로 확인;
    * r1 긴급 호출 again, left open (never in the history).
    """
    clock = FakeClock(TUESDAY_10)
    running = start_hub(clock=clock)
    running.resident("r1", official=False)
    running.http.post(
        "/api/v1/residents",
        json={"id": "w1", "name": "박서구", "district": "서구", "policy": QUIET_POLICY},
    ).raise_for_status()
    running.http.post(
        "/api/v1/residents/w1/devices", json={"id": "spk9", "kind": "speaker"}
    ).raise_for_status()
    running.contact("w1", "guardian", "+821055556666")

    r1 = running.device("r1", "spk1")
    w1 = running.device("w1", "spk9")
    w1.activity()
    r1.activity()
    r1.emergency()
    emergency = _alert_of(running, "r1", "emergency")
    clock.advance(timedelta(seconds=90))
    _work(running, emergency, ack=True, outcome="false_alarm", note="어르신이 잘못 누르셨다고 함")

    clock.advance(timedelta(minutes=1))
    body = {"v": 1, "id": "v-1", "ts": r1.ts(), "kind": "glucose", "value": 450, "unit": "mg/dL"}
    r1.raw("vitals", json.dumps(body))
    vital = _alert_of(running, "r1", "vital_out_of_range")
    clock.advance(timedelta(minutes=1))
    _work(running, vital, ack=False, outcome="visited", note=None)

    running.run_until(clock.now() + timedelta(minutes=4))
    quiet = _alert_of(running, "w1", "inactivity")
    _work(running, quiet, ack=True, outcome="resolved_by_phone", note=None)

    clock.advance(timedelta(minutes=1))
    r1.emergency()
    still_open = _alert_of(running, "r1", "emergency")
    running.settle()
    r1.close()
    w1.close()
    ids = {"emergency": emergency, "vital": vital, "inactivity": quiet, "open": still_open}
    return running, ids


def _operator(running: Any) -> str:
    made = running.http.post("/api/v1/users", json={"name": OPERATOR, "role": "operator"})
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


def _official(running: Any) -> str:
    made = running.http.post(
        "/api/v1/users", json={"name": "유성구 주무관", "role": "official", "district": "유성구"}
    )
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


def _rows(page: Page) -> Any:
    return page.get_by_test_id("history-row")


def test_filters_narrow_the_history_and_the_address_carries_them(
    start_hub: Any, page: Page
) -> None:
    running, ids = three_closed_alerts(start_hub)
    sign_in(page, running, _operator(running), "/history")

    expect(_rows(page)).to_have_count(3)
    shown = [_rows(page).nth(n).get_attribute("data-alert") for n in range(3)]
    assert shown == [ids["inactivity"], ids["vital"], ids["emergency"]], "newest opened first"
    assert ids["open"] not in (page.locator("body").inner_text()), "an open alert is not history"
    first = _rows(page).first
    expect(first).to_contain_text("활동 없음")
    expect(first).to_contain_text("박서구")
    expect(first).to_contain_text("전화로 확인")
    emergency_row = page.locator(f'[data-alert="{ids["emergency"]}"]')
    expect(emergency_row.get_by_test_id("acked")).to_contain_text("(1분 30초 후)")
    expect(emergency_row).to_contain_text("오경보")
    expect(emergency_row).to_contain_text(OPERATOR)
    expect(emergency_row).to_contain_text("어르신이 잘못 누르셨다고 함")
    vital_row = page.locator(f'[data-alert="{ids["vital"]}"]')
    expect(vital_row.get_by_test_id("acked")).to_have_text("접수 없이 종료")
    expect(vital_row).to_contain_text("방문 확인")
    expect(first.get_by_test_id("resident-link")).to_have_attribute("href", "/residents/w1")
    assert axe_problems(page) == []
    shot(page, "history")

    # htmx swaps the results and pushes the filtered address.
    page.get_by_test_id("f-kind").select_option("emergency")
    expect(_rows(page)).to_have_count(1)
    expect(page).to_have_url(re.compile(r"kind=emergency"))
    expect(_rows(page).first).to_have_attribute("data-alert", ids["emergency"])
    page.get_by_test_id("f-kind").select_option("")
    page.get_by_test_id("f-outcome").select_option("visited")
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_have_attribute("data-alert", ids["vital"])
    page.get_by_test_id("f-outcome").select_option("")
    page.get_by_test_id("f-district").select_option(WEST)
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_have_attribute("data-alert", ids["inactivity"])

    # The address alone gives the same list: a link to share.
    open_page(page, running, "/history?outcome=false_alarm&district=유성구")
    expect(_rows(page)).to_have_count(1)
    expect(page.get_by_test_id("f-outcome")).to_have_value("false_alarm")
    # Local days of opening, both ends included.
    open_page(page, running, "/history?from=2026-11-24&to=2026-11-24")
    expect(_rows(page)).to_have_count(3)
    open_page(page, running, "/history?from=2026-11-25")
    expect(_rows(page)).to_have_count(0)
    expect(page.get_by_test_id("history-count")).to_contain_text("없습니다")
    open_page(page, running, "/history?to=2026-11-23")
    expect(_rows(page)).to_have_count(0)
    open_page(page, running, "/history?kind=nonsense&from=yesterday")
    expect(_rows(page)).to_have_count(3)
    expect(page.get_by_role("alert").first).to_be_visible()


def test_tab_reaches_the_filters_then_the_first_row_link(start_hub: Any, page: Page) -> None:
    running, ids = three_closed_alerts(start_hub)
    sign_in(page, running, _operator(running), "/history")
    expect(_rows(page)).to_have_count(3)
    page.locator("body").focus()
    order: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        testid = page.evaluate("() => document.activeElement.dataset.testid || ''")
        if testid and (not order or order[-1] != testid):
            order.append(testid)
        if testid == "history-link":
            break
    filters = ["f-district", "f-kind", "f-outcome", "f-from", "f-to", "f-apply"]
    assert [t for t in order if t.startswith("f-")][: len(filters)] == filters, order
    assert order[-1] == "history-link", order
    assert page.evaluate("() => document.activeElement.getAttribute('href')") == (
        f"/history/{ids['inactivity']}"
    )


def test_detail_shows_the_centres_work_first_and_messages_per_recipient(
    start_hub: Any, page: Page
) -> None:
    running, ids = three_closed_alerts(start_hub)
    sign_in(page, running, _operator(running), "/history")
    page.locator(f'[data-alert="{ids["emergency"]}"]').get_by_test_id("history-link").click()
    expect(page).to_have_url(re.compile(f"/history/{ids['emergency']}$"))
    expect(page.get_by_test_id("detail-title")).to_have_text("김영희 어르신 · 긴급 호출")
    expect(page.get_by_test_id("acked")).to_contain_text("발생 1분 30초 후")
    expect(page.get_by_test_id("outcome")).to_have_text("오경보")
    log = page.get_by_test_id("centre-log").locator("li")
    texts = [line.split(" · ", 1)[1] for line in log.all_inner_texts()]
    assert texts == [
        f"접수 — {OPERATOR}",
        f"메모 — {OPERATOR}: 어르신이 잘못 누르셨다고 함",
        f"종료 — {OPERATOR} (결과: 오경보)",
    ], texts
    expect(page.get_by_test_id("timeline")).to_contain_text("경보 발생")
    groups = page.get_by_test_id("recipient")
    expect(groups.first).to_be_visible()
    assert groups.count() >= 2, "the centre and the guardian at least"
    for n in range(groups.count()):
        assert groups.nth(n).get_attribute("open") is None, "collapsed until opened"
    expect(page.get_by_test_id("notifications")).to_contain_text("관제센터 · 02-****-0000")
    expect(page.get_by_test_id("notifications")).not_to_contain_text("2000-0000")
    groups.first.locator("summary").click()
    expect(groups.first.locator("ol li").first).to_be_visible()
    assert axe_problems(page) == []
    shot(page, "history-detail")


def test_an_official_sees_only_their_districts_history(start_hub: Any, page: Page) -> None:
    running, ids = three_closed_alerts(start_hub)
    sign_in(page, running, _official(running), "/history")
    expect(_rows(page)).to_have_count(2)
    expect(page.get_by_test_id("history-results")).not_to_contain_text("박서구")
    assert page.locator("#f-district option").all_inner_texts() == ["전체 지역", "유성구"]
    open_page(page, running, f"/history?district={WEST}")
    expect(_rows(page)).to_have_count(2)  # not a district of theirs: the condition is dropped
    expect(page.get_by_test_id("history-results")).not_to_contain_text("박서구")
    refused = open_page(page, running, f"/history/{ids['inactivity']}")
    assert refused is not None and refused.status == 404
    opened = open_page(page, running, f"/history/{ids['emergency']}")
    assert opened is not None and opened.status == 200
    assert page.get_by_test_id("notifications").count() == 0, "the message log is the centre's"
    assert axe_problems(page) == []


def test_without_a_session_the_history_sends_to_login(start_hub: Any, page: Page) -> None:
    running = start_hub()
    open_page(page, running, "/history?kind=emergency")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_test_id("token").fill(ADMIN_TOKEN)
    page.get_by_test_id("signin").click()
    expect(page).to_have_url(re.compile(r"/history\?kind=emergency$"))


# -- the store's reads and the page's paging, on rows written straight into the tables -------


@pytest.fixture
def store(db_url: str) -> Iterator[Engine]:
    """A migrated database of each kind, for the store's reads alone."""
    made = open_engine(db_url)
    migrate(made)
    yield made
    made.dispose()


def _write_closed(engine: Engine, count: int, *, start: datetime = TUESDAY_10) -> list[str]:
    """``count`` resolved alerts of r1 (유성구), one a minute from ``start``; their ids."""
    ids = [f"a{n:03d}" for n in range(count)]
    with engine.begin() as conn:
        if conn.execute(select(residents.c.id).where(residents.c.id == "r1")).first() is None:
            conn.execute(
                insert(residents).values(
                    id="r1", name="김영희", district="유성구", policy={}, created_at=start
                )
            )
        for n, alert_id in enumerate(ids):
            at = start + timedelta(minutes=n)
            conn.execute(
                insert(alerts).values(
                    id=alert_id,
                    resident_id="r1",
                    kind="emergency",
                    state="resolved",
                    stage="control_center",
                    reason="voice",
                    opened_at=at,
                    resolved_at=at + timedelta(minutes=5),
                    resolved_by=OPERATOR,
                    outcome="false_alarm",
                    updated_at=at,
                )
            )
    return ids


def test_only_the_centres_acknowledgement_counts_as_its_and_days_bound_the_history(
    store: Engine,
) -> None:
    (alert_id,) = _write_closed(store, 1)
    with store.begin() as conn:
        for at, what, note in (
            (TUESDAY_10 + timedelta(seconds=20), "acknowledged", "guardian"),
            (TUESDAY_10 + timedelta(seconds=75), "acknowledged", "control_center"),
            (TUESDAY_10 + timedelta(seconds=80), "note", "첫 메모"),
            (TUESDAY_10 + timedelta(seconds=90), "note", "나중 메모"),
            (TUESDAY_10 + timedelta(minutes=5), "resolved", "resolved"),
        ):
            conn.execute(
                insert(alert_timeline).values(alert_id=alert_id, at=at, what=what, note=note)
            )
        (row,) = history_reads.closed_alerts(conn, HistoryFilter(), limit=10)
        assert row.centre_ack_at == TUESDAY_10 + timedelta(seconds=75), (
            "a guardian's tap is not 접수"
        )
        assert row.note == "나중 메모"
        assert row.close_reason == "resolved"
        day = datetime(2026, 11, 24, tzinfo=KST)  # 10:00 KST is 01:00 UTC the same day
        assert history_reads.count_closed(conn, HistoryFilter(opened_from=day)) == 1
        assert history_reads.count_closed(conn, HistoryFilter(opened_before=day)) == 0
        assert history_reads.count_closed(conn, HistoryFilter(outcome=NO_OUTCOME)) == 0
        assert history_reads.count_closed(conn, HistoryFilter(districts=frozenset())) == 0
        assert history_reads.count_closed(conn, HistoryFilter(kind="inactivity")) == 0


def test_the_history_pages_fifty_at_a_time_without_repeats(start_hub: Any, page: Page) -> None:
    running = start_hub(clock=FakeClock(TUESDAY_10 + timedelta(days=1)))
    ids = _write_closed(running.hub.engine, 55)
    sign_in(page, running, _operator(running), "/history")
    expect(_rows(page)).to_have_count(50)
    expect(page.get_by_test_id("history-count")).to_have_text("종료된 경보 55건 중 1–50")
    first_page = [_rows(page).nth(n).get_attribute("data-alert") for n in range(50)]
    assert first_page == ids[::-1][:50], "newest opened first"
    page.get_by_test_id("page-next").click()
    expect(page).to_have_url(re.compile(r"/history\?page=2$"))
    expect(_rows(page)).to_have_count(5)
    second_page = [_rows(page).nth(n).get_attribute("data-alert") for n in range(5)]
    assert second_page == ids[::-1][50:]
    page.get_by_test_id("page-prev").click()
    expect(_rows(page)).to_have_count(50)
    open_page(page, running, "/history?page=9")  # past the end: the last page
    expect(_rows(page)).to_have_count(5)


def test_a_page_number_that_is_no_ascii_number_is_the_first_page(start_hub: Any) -> None:
    running = start_hub(clock=FakeClock(TUESDAY_10 + timedelta(days=1)))
    _write_closed(running.hub.engine, 3)
    for odd in ("²", "٣", "-1", "0", "x"):
        answer = running.http.get("/history", params={"page": odd})
        assert answer.status_code == 200, (odd, answer.status_code)
