"""The health centre's home-visit page over plain HTTP against a running hub: a visiting
nurse (role ``health_center``) signs in, sees her district's residents only and none of the
alert work, records readings that the hub's vitals rules judge (out of range: the health
centre's alert), a form sent twice is one reading, bad values come back with Korean errors,
and the nurse's readings make no device of the home "online"; the form in Chromium, its
errors and its answer passing axe. Plus the form's checks alone, and ``anbu users add
--role health_center``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from typer.testing import CliRunner

from hub.store.db import open_engine, reading
from hub.store.tables import dead_letters, events
from hub.visits import VISIT_DEVICE, checked_readings, form_time, new_form_id
from tests.hub.support import KST, OffsetClock
from tests.hub.test_cli_ops import cli, migrated, run  # noqa: F401 - fixtures
from tests.web.conftest import axe_problems, shot, sign_in

TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=KST)
HEALTH_PHONE = "+8242000000"


def test_the_form_takes_what_can_be_typed_and_says_what_cannot() -> None:
    readings, errors = checked_readings(
        {"systolic": "170", "diastolic": "95", "weight": "52,5", "spo2": ""}
    )
    assert errors == {}
    assert readings == {"blood_pressure": (170.0, 95.0), "weight": 52.5}
    _, errors = checked_readings({"systolic": "300", "diastolic": "95", "glucose": "많음"})
    assert errors == {
        "systolic": "수축기 혈압은(는) 60–260 mmHg 사이로 적어 주세요.",
        "glucose": "혈당은(는) 숫자로 적어 주세요 (mg/dL).",
    }
    assert checked_readings({"systolic": "120"})[1] == {
        "diastolic": "혈압은 수축기와 이완기를 함께 적어 주세요."
    }
    assert checked_readings({"systolic": "90", "diastolic": "95"})[1] == {
        "diastolic": "이완기 혈압은 수축기 혈압보다 낮아야 합니다."
    }
    assert checked_readings({"spo2": "nan"})[1] == {
        "spo2": "산소포화도은(는) 50–100 % 사이로 적어 주세요."
    }
    assert checked_readings({})[1] == {"form": "적어도 한 가지 수치를 적어 주세요."}


def test_a_form_id_carries_when_it_was_shown_and_expires() -> None:
    shown = datetime(2026, 11, 24, 1, 0, 5, tzinfo=UTC)
    form_id = new_form_id(shown)
    assert form_time(form_id, shown + timedelta(hours=1)) == shown
    assert form_time(form_id, shown + timedelta(hours=13)) is None  # left open overnight
    assert form_time(form_id, shown - timedelta(minutes=5)) is None  # from the future
    assert form_time("v1-x/../", shown) is None
    assert form_time("nurse", shown) is None


def test_users_add_makes_a_nurse_of_a_district(cli: CliRunner, migrated: str) -> None:  # noqa: F811
    made = run(
        cli, "users", "add", "--name", "이간호", "--role", "health_center", "--district", "유성구"
    )
    assert made.exit_code == 0, made.output
    assert "health_center (유성구)" in made.output
    refused = run(cli, "users", "add", "--name", "이간호", "--role", "health_center")
    assert refused.exit_code == 2
    assert "--district" in refused.output


def _form_id(page: str) -> str:
    found = re.search(r'name="form_id" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def _nurse(running: Any) -> httpx.Client:
    body = {"name": "이간호", "role": "health_center", "district": "유성구"}
    made = running.http.post("/api/v1/users", json=body)
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    # Every read of the API is the alert work's (or an admin's): none is hers.
    spec = running.http.get("/openapi.json").json()
    reads = [
        path.replace("{resident_id}", "r1")
        for path, ops in spec["paths"].items()
        if "get" in ops and path.startswith("/api/v1/") and not path.startswith("/api/v1/links")
    ]
    assert "/api/v1/alerts" in reads
    bearer = {"Authorization": f"Bearer {token}"}
    answers = {path: httpx.get(running.base + path, headers=bearer).status_code for path in reads}
    assert set(answers.values()) == {403}, answers
    nurse = httpx.Client(base_url=running.base, timeout=10)
    signed = nurse.post("/login", data={"token": token, "next": "/board"})
    assert signed.status_code == 303
    # Her landing page is the visits', not the board.
    assert nurse.get("/board").headers["location"] == "/visits"
    return nurse


def _stored(db_url: str) -> tuple[list[str], int]:
    engine = open_engine(db_url)
    try:
        with reading(engine) as conn:
            ids = conn.execute(
                select(events.c.event_id)
                .where(events.c.device_id == VISIT_DEVICE)
                .order_by(events.c.event_id)
            ).scalars()
            dead = conn.execute(select(func.count()).select_from(dead_letters)).scalar_one()
            return list(ids), dead
    finally:
        engine.dispose()


def test_a_nurse_records_a_visit_and_the_hub_judges_it(start_hub: Any, db_url: str) -> None:
    running = start_hub(clock=OffsetClock(TUESDAY_10), health_center_phones=[HEALTH_PHONE])
    running.resident("r1")
    west = {"id": "w1", "name": "박서구", "district": "서구"}
    assert running.http.post("/api/v1/residents", json=west).status_code == 201
    devices_before = running.http.get("/api/v1/residents/r1").json()["devices"]
    nurse = _nurse(running)
    csrf = nurse.cookies["anbu_csrf"]
    try:
        listing = nurse.get("/visits")
        assert listing.status_code == 200
        assert 'data-resident="r1"' in listing.text
        assert 'data-resident="w1"' not in listing.text  # another district
        assert 'href="/visits"' in listing.text
        for other in ('href="/board"', 'href="/residents"', 'href="/history"'):
            assert other not in listing.text  # none of the alert work in her menu
        assert nurse.get("/residents").status_code == 403
        assert nurse.get("/history").status_code == 403
        assert nurse.get("/api/v1/alerts").status_code == 403
        assert nurse.get("/visits/w1").status_code == 404

        page = nurse.get("/visits/r1")
        assert page.status_code == 200
        assert "mmHg" in page.text and "mg/dL" in page.text and "kg" in page.text
        assert "아직 기록된 수치가 없습니다" in page.text
        form_id = _form_id(page.text)
        filled = {"systolic": "170", "diastolic": "95", "glucose": "110"}

        no_token = nurse.post("/visits/r1", data={**filled, "form_id": form_id})
        assert no_token.status_code == 403
        wrong = nurse.post(
            "/visits/r1",
            data={**filled, "systolic": "300", "form_id": form_id, "csrf_token": csrf},
        )
        assert wrong.status_code == 422
        assert "수축기 혈압은(는) 60–260 mmHg 사이로 적어 주세요." in wrong.text
        assert 'value="300"' in wrong.text and _form_id(wrong.text) == form_id  # kept
        assert _stored(db_url)[0] == []

        sent = {**filled, "form_id": form_id, "csrf_token": csrf}
        for _ in range(2):  # a double tap: one reading per kind
            saved = nurse.post("/visits/r1", data=sent)
            assert saved.status_code == 303
            assert saved.headers["location"] == "/visits/r1?done=saved#recent"
        ids, dead = _stored(db_url)
        assert ids == [f"{form_id}-blood_pressure", f"{form_id}-glucose"]
        assert dead == 0

        # The same form again with other numbers: intake keeps the first and says so.
        changed = nurse.post("/visits/r1", data={**sent, "glucose": "120"})
        assert changed.headers["location"] == "/visits/r1?problem=conflict#recent"
        assert _stored(db_url) == (ids, 1)

        shown = nurse.get("/visits/r1?done=saved")
        assert "수치를 기록했습니다" in shown.text
        assert "170/95 mmHg" in shown.text and "110 mg/dL" in shown.text
        assert shown.text.count("방문 기록</td>") == 2
    finally:
        nurse.close()

    # The hub's vitals rules judged it: 170 mmHg is out of range, the health centre's alert.
    alerts = running.http.get("/api/v1/alerts", params={"resident": "r1"}).json()
    assert [(a["kind"], a["stage"], a["reason"]) for a in alerts] == [
        ("vital_out_of_range", "health_center", "systolic_high")
    ]
    # ... and the nurse is no device of the home: none added, none seen (or made online).
    assert running.http.get("/api/v1/residents/r1").json()["devices"] == devices_before
    assert [d["id"] for d in devices_before] == ["spk1"]
    coverage = running.http.get("/api/v1/coverage").json()
    assert (coverage["watched"], coverage["heard"]) == (2, 0)  # nobody's device was heard


def test_the_form_in_a_browser_keeps_its_errors_accessible(start_hub: Any, page: Page) -> None:
    running = start_hub(clock=OffsetClock(TUESDAY_10))
    running.resident("r1")
    body = {"name": "이간호", "role": "health_center", "district": "유성구"}
    token = running.http.post("/api/v1/users", json=body).json()["token"]
    sign_in(page, running, token, "/visits")
    page.get_by_role("link", name="김영희").click()
    page.get_by_test_id("r-systolic").fill("150")
    page.get_by_test_id("visit-save").click()  # the diastolic is missing: the server says so
    expect(page.get_by_test_id("error-diastolic")).to_have_text(
        "혈압은 수축기와 이완기를 함께 적어 주세요."
    )
    expect(page.get_by_test_id("r-diastolic")).to_have_attribute("aria-invalid", "true")
    assert axe_problems(page) == []
    shot(page, "visit-errors")
    page.get_by_test_id("r-diastolic").fill("85")
    page.get_by_test_id("visit-save").click()
    expect(page.get_by_test_id("visit-done")).to_contain_text("수치를 기록했습니다")
    expect(page.get_by_test_id("recent-row")).to_have_count(1)
    expect(page.get_by_test_id("recent-row")).to_contain_text("150/85 mmHg")
    assert axe_problems(page) == []
