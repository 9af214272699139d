"""The reports view (/reports) in real Chromium: pick a district and month, read, print, CSV.

The PDF is Chromium's own print (``page.pdf()`` prints with the print style, as the
browser's "PDF로 저장" does); its text is read back with poppler's ``pdftotext``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.web.conftest import axe_problems, open_page, shot, sign_in


def _user(running: Any, role: str, district: str | None = None) -> str:
    body: dict[str, Any] = {"name": f"{role} 사용자", "role": role}
    if district:
        body["district"] = district
    response = running.http.post("/api/v1/users", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def _month(running: Any) -> str:
    return running.clock.now().astimezone(ZoneInfo("Asia/Seoul")).strftime("%Y-%m")


def _pdf_text(page: Page, tmp_path: Path) -> str | None:
    """The printed PDF's text, or None (with the reason printed) without pdftotext."""
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF-")
    if shutil.which("pdftotext") is None:
        print("pdftotext missing (apt-get install poppler-utils): PDF text not read")  # noqa: T201
        return None
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


def _tab_order(page: Page, start: str, count: int) -> list[str]:
    """The next ``count`` controls Tab reaches after ``start`` (by test id). A month field
    takes a Tab per part (year, month), so the same control twice counts once."""
    page.get_by_test_id(start).focus()
    seen = [start]
    for _ in range(4 * count):
        page.keyboard.press("Tab")
        now = page.evaluate("document.activeElement.dataset.testid || document.activeElement.id")
        if now != seen[-1]:
            seen.append(now)
        if len(seen) > count:
            break
    return seen[1:]


def test_staff_pick_a_district_and_month_read_print_and_download(
    start_hub: Any, page: Page, tmp_path: Path
) -> None:
    running = start_hub()
    running.resident("r1")
    running.resident("r2", devices={"spk2": "speaker"})
    sign_in(page, running, _user(running, "operator"), "/reports")
    expect(page.get_by_test_id("report")).to_have_count(0)

    # The form in Tab order: district, month, then the button.
    assert _tab_order(page, "district", 2) == ["month", "show"]

    page.get_by_test_id("district").select_option("유성구")
    page.get_by_test_id("month").fill(_month(running))
    page.get_by_test_id("show").click()
    report = page.get_by_test_id("report")
    year, number = _month(running).split("-")
    expect(report).to_contain_text(f"유성구 {year}년 {int(number)}월")
    row = report.locator("tr", has_text="모니터링 대상자 수(명)")
    expect(row.locator("td")).to_have_text("2")
    # The glossary's words, not the old spellings.
    expect(report).to_contain_text("알림 종류별: 긴급 호출(건)")
    expect(report).to_contain_text("처리 결과: 전화로 확인(건)")
    expect(report).not_to_contain_text("생체 신호")
    assert axe_problems(page) == []
    # After the form: print, then the CSV link.
    assert _tab_order(page, "show", 3) == ["print", "csv", "printable"]
    shot(page, "reports")

    text = _pdf_text(page, tmp_path)
    if text is None:  # the print style at least shows the report and hides the rest
        page.emulate_media(media="print")
        expect(page.get_by_role("navigation", name="주 메뉴")).to_be_hidden()
        expect(page.get_by_test_id("district")).to_be_hidden()
        expect(report).to_be_visible()
    else:
        assert "유성구" in text
        assert re.search(r"모니터링 대상자 수\(명\)\s+2\b", text), text[:2000]
        assert "긴급 호출" in text
        assert "경보 보드" not in text, "the navigation is not printed"
        assert "보기" not in text.split("사용현황서")[0], "nor the form"

    csv_url = page.get_by_test_id("csv").get_attribute("href")
    assert csv_url is not None
    answer = page.request.get(f"{running.base}{csv_url}")
    assert answer.status == 200
    assert "text/csv" in answer.headers["content-type"]
    assert "모니터링 대상자 수(명),2" in answer.body().decode("utf-8-sig")


def test_an_official_sees_their_own_district_only(start_hub: Any, page: Page) -> None:
    running = start_hub()
    running.resident("r1")
    sign_in(page, running, _user(running, "official", "유성구"), "/reports")
    # No district to pick: the official's own report is there at once.
    expect(page.get_by_test_id("district")).to_have_count(0)
    expect(page.get_by_test_id("report")).to_contain_text("유성구")
    assert axe_problems(page) == []
    assert _tab_order(page, "month", 2) == ["show", "print"]

    answer = open_page(page, running, "/reports?district=동구")
    assert answer.status == 403
    expect(page.get_by_test_id("report-error")).to_have_text("다른 구의 보고서는 볼 수 없습니다.")
    expect(page.get_by_test_id("report")).to_have_count(0)


def test_a_month_not_written_as_a_month_says_so(start_hub: Any, page: Page) -> None:
    running = start_hub()
    sign_in(page, running, _user(running, "operator"), "/reports")
    open_page(page, running, "/reports?district=유성구&month=2026-13")
    expect(page.get_by_test_id("report-error")).to_contain_text("연도-월")
    # The month falls back to the hub's current one; the district's report is still shown.
    expect(page.get_by_test_id("report")).to_contain_text("유성구")
