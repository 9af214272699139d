"""The roster view (/roster) in real Chromium: upload, the dry run by row, then "적용".

The sample is the one the README and ``anbu roster import`` use (deploy/roster-sample.csv);
the file full of errors is checked against what :func:`hub.roster.read_roster` reports for
it, so every error the roster code finds is on the page, at its row and column.
"""

from __future__ import annotations

import csv
import io
import socket
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import Page, expect

from hub.api.roster_page import PendingUploads
from hub.districts import index_in
from hub.roster import read_roster
from hub.roster_format import MAX_UPLOAD_BYTES, MSG_NO_DEVICE
from tests.broker_identity import connect
from tests.hub import test_broker_security as secure_broker
from tests.hub.support import ADMIN_TOKEN
from tests.web.conftest import axe_problems, shot, sign_in

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "roster-sample.csv"
ERRORS = (
    "id,이름,행정구역,전화,보호자1,보호자1 전화,기기\n"
    "bad id!,김하나,유성구,,,,\n"
    "ys-2,,유성구,,,,\n"
    "ys-3,박셋,유성구,010-12,,,\n"
    "ys-4,최넷,없는구,,,,\n"
    "ys-5,정다섯,유성구,,이보호,,spk:radio\n"
    "ys-5,한여섯,유성구,,,,\n"
    "ys-8,오여덟,유성구,,,,\n"
)


def _rows(page: Page, test_id: str) -> list[tuple[str, str, str]]:
    cells = (
        page.get_by_test_id(test_id)
        .locator("tbody tr")
        .evaluate_all("rows => rows.map(r => [...r.children].map(c => c.textContent.trim()))")
    )
    return [tuple(row) for row in cells]


def _upload(page: Page, path: Path) -> None:
    page.get_by_test_id("file").set_input_files(str(path))
    page.get_by_test_id("check").click()
    page.wait_for_url("**/roster")
    expect(page.get_by_test_id("summary")).to_be_visible()


def _operator(running: Any) -> str:
    made = running.http.post("/api/v1/users", json={"name": "관제 김", "role": "operator"})
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


def test_the_sample_roster_is_checked_then_applied_from_the_browser(
    start_hub: Any, page: Page
) -> None:
    running = start_hub()
    sign_in(page, running, ADMIN_TOKEN, "/roster")
    assert axe_problems(page) == []
    page.get_by_test_id("file").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.testid") == "check"

    _upload(page, SAMPLE)
    expect(page.get_by_test_id("adding-count")).to_have_text("3")
    expect(page.get_by_test_id("existing-count")).to_have_text("0")
    expect(page.get_by_test_id("errors")).to_have_count(0)
    adding = _rows(page, "adding")
    assert [row[1] for row in adding] == ["gn-0001", "gn-0002", "gn-0003"]
    assert adding[0][6] == "spk1 (AI 스피커), ph1 (휴대전화), zb1 (가정용 센서)"
    assert adding[2][6] == "없음"
    # gn-0003 (row 4) has no device: a warning at its row, in Korean.
    assert ("4", "기기", MSG_NO_DEVICE) in _rows(page, "warnings")
    assert running.http.get("/api/v1/residents").json() == [], "checking writes nothing"
    assert axe_problems(page) == []
    page.get_by_test_id("apply").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.testid") == "again"
    shot(page, "roster")
    upload = page.locator("input[name=upload]").get_attribute("value")

    page.get_by_test_id("apply").click()
    page.wait_for_url("**/roster/apply")
    expect(page.get_by_test_id("created")).to_have_text("3")
    expect(page.get_by_test_id("devices")).to_have_text("4")
    expect(page.get_by_test_id("failed")).to_have_text("0")
    expect(page.get_by_test_id("provisioning-off")).to_be_visible()
    assert axe_problems(page) == []
    shot(page, "roster-applied")
    listed = running.http.get("/api/v1/residents").json()
    assert sorted(r["id"] for r in listed) == ["gn-0001", "gn-0002", "gn-0003"]

    # The held file was used once: the same "적용" again is refused, and nothing doubles.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "anbu_csrf")
    again = page.request.post(
        f"{running.base}/roster/apply", form={"upload": upload or "", "csrf_token": csrf}
    )
    assert again.status == 410
    assert "다시 올려 주세요" in again.text()

    # The same file once more: everyone is there already and nothing is offered to apply.
    page.goto(f"{running.base}/roster")
    _upload(page, SAMPLE)
    expect(page.get_by_test_id("existing-count")).to_have_text("3")
    expect(page.get_by_test_id("apply")).to_have_count(0)
    expect(page.get_by_test_id("nothing")).to_be_visible()


def test_a_file_full_of_errors_shows_each_at_its_row_and_column(
    start_hub: Any, page: Page, tmp_path: Path
) -> None:
    running = start_hub()
    bad = tmp_path / "명단-오류.csv"
    bad.write_text(ERRORS, encoding="utf-8")
    expected = read_roster(
        bad.read_bytes(), bad.name, index_in(running.hub.engine, running.hub.settings.sido)
    )
    assert len(expected.errors) >= 6

    sign_in(page, running, ADMIN_TOKEN, "/roster")
    _upload(page, bad)
    shown = _rows(page, "errors")
    assert shown == [(str(e.row), e.column or "", e.message) for e in expected.errors]
    # Some by hand, as the district reads them (row 1 is the header).
    assert ("3", "이름", "이름이 없습니다") in shown
    assert ("4", "전화", "전화번호 형식이 올바르지 않습니다") in shown
    assert ("7", "id", "ID가 중복됩니다 (6행과 같음)") in shown
    assert {row for row, _, _ in shown} == {"2", "3", "4", "5", "6", "7"}
    expect(page.get_by_test_id("rejected-count")).to_have_text("6")
    # The one good row may still be applied, the others are left out.
    expect(page.get_by_test_id("adding-count")).to_have_text("1")
    assert [row[1] for row in _rows(page, "adding")] == ["ys-8"]
    expect(page.get_by_test_id("apply")).to_be_visible()
    assert axe_problems(page) == []
    shot(page, "roster-errors")
    assert running.http.get("/api/v1/residents").json() == []


def test_an_operator_may_check_a_roster_but_not_apply_it(start_hub: Any, page: Page) -> None:
    running = start_hub()
    sign_in(page, running, _operator(running), "/roster")
    _upload(page, SAMPLE)
    expect(page.get_by_test_id("adding-count")).to_have_text("3")
    expect(page.get_by_test_id("apply")).to_have_count(0)
    expect(page.get_by_test_id("admin-only")).to_contain_text("관리자만")
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "anbu_csrf")
    refused = page.request.post(
        f"{running.base}/roster/apply", form={"upload": "x", "csrf_token": csrf}
    )
    assert refused.status == 403
    # An upload without the session's CSRF token is refused before it is read.
    forged = page.request.post(
        f"{running.base}/roster",
        multipart={
            "file": {"name": "r.csv", "mimeType": "text/csv", "buffer": SAMPLE.read_bytes()}
        },
    )
    assert forged.status == 403
    assert running.http.get("/api/v1/residents").json() == []


# ------------------------------------------------------------------ the held upload (memory)


def test_a_held_upload_is_for_its_session_once_and_not_for_long() -> None:
    now = [100.0]
    held = PendingUploads(ttl_s=60, limit=2, clock=lambda: now[0])
    token = held.keep("admin-a", "명단.csv", b"data")
    assert held.take("admin-b", token) is None, "another session cannot take it"
    assert held.take("admin-a", token) == ("명단.csv", b"data")
    assert held.take("admin-a", token) is None, "used once"

    late = held.keep("admin-a", "명단.csv", b"data")
    now[0] += 60
    assert held.take("admin-a", late) is None, "gone after its time"

    first = held.keep("admin-a", "1.csv", b"1")
    now[0] += 1
    second = held.keep("admin-a", "2.csv", b"2")
    third = held.keep("admin-a", "3.csv", b"3")
    assert held.take("admin-a", first) is None, "the oldest makes room"
    assert held.take("admin-a", second) == ("2.csv", b"2")
    assert held.take("admin-a", third) == ("3.csv", b"3")


# ------------------------------------------------------- provisioning (TLS broker, dynsec)

tls_dir = secure_broker.tls_dir
secure = secure_broker.secure
start_secure_hub = secure_broker.start_secure_hub


def test_applied_with_provisioning_the_passwords_are_shown_once_and_work(
    start_secure_hub: Any,
    secure: secure_broker.SecureBroker,
    page: Page,
    capfd: pytest.CaptureFixture[str],
) -> None:
    running = start_secure_hub()
    sign_in(page, running, ADMIN_TOKEN, "/roster")
    _upload(page, SAMPLE)
    page.get_by_test_id("apply").click()
    page.wait_for_url("**/roster/apply")
    expect(page.get_by_test_id("created")).to_have_text("3")
    table = page.get_by_test_id("credentials")
    expect(table.locator("code.secret")).to_have_count(4)
    expect(page.get_by_role("note")).to_contain_text("한 번만 보입니다")
    assert axe_problems(page) == []
    passwords = table.locator("code.secret").all_inner_texts()
    usernames = table.locator("tbody tr td:nth-child(4) code").all_inner_texts()
    assert all(len(p) >= 16 for p in passwords)
    # What the page shows is what the broker takes.
    first = connect(secure.port, usernames[0], passwords[0], usernames[0], ca_file=secure.ca_file)
    assert first.connected, first.connack
    first.close()
    out, err = capfd.readouterr()
    for password in passwords:
        assert password not in out + err, "a device password is never logged"


def test_an_upload_declared_too_large_is_refused_before_it_is_read(start_hub: Any) -> None:
    running = start_hub()
    host, port = running.hub.settings.http.rsplit(":", 1)
    declared = MAX_UPLOAD_BYTES * 3
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        # Headers saying 30 MB, then only a few bytes: the answer must not wait for the rest.
        conn.sendall(
            (
                "POST /roster HTTP/1.1\r\n"
                f"Host: {host}\r\n"
                "Content-Type: multipart/form-data; boundary=x\r\n"
                f"Content-Length: {declared}\r\n"
                "Connection: close\r\n\r\n"
                "--x\r\n"
            ).encode()
        )
        received = b""
        while chunk := conn.recv(65536):  # until the hub closes, as asked
            received += chunk
    head, _, body = received.decode("utf-8", "replace").partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 413"), head
    assert "파일이 너무 큽니다" in body


def test_an_xlsx_roster_is_checked_as_the_csv_is(
    start_hub: Any, page: Page, tmp_path: Path
) -> None:
    running = start_hub()
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in csv.reader(io.StringIO(SAMPLE.read_text(encoding="utf-8-sig"))):
        sheet.append(row)
    xlsx = tmp_path / "명단.xlsx"
    book.save(xlsx)
    sign_in(page, running, ADMIN_TOKEN, "/roster")
    _upload(page, xlsx)
    expect(page.get_by_test_id("filename")).to_have_text("명단.xlsx")
    expect(page.get_by_test_id("adding-count")).to_have_text("3")
    expect(page.get_by_test_id("errors")).to_have_count(0)
