"""Vitals end to end: a reading published over a real broker reaches the health centre or
the control centre by SMS, per the resident's ranges and the working calendar."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from alerts.calendar import WorkingCalendar
from alerts.clock import FakeClock
from alerts.engine import Escalation, make_alert_id
from hub.mqtt import Incoming
from hub.service import HubCore
from hub.settings import Settings
from hub.store.db import migrate, open_engine
from hub.store.tables import digest_items, outbox
from tests.hub.support import KST, Device, OffsetClock, read_sms, wait_until

TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=KST)
SATURDAY_03 = datetime(2026, 11, 28, 3, 0, tzinfo=KST)
MONDAY_09 = datetime(2026, 11, 30, 9, 0, tzinfo=KST)
SATURDAY_A_WEEK_AGO = datetime(2026, 11, 21, 7, 0, tzinfo=KST)
CENTRE = "+8220000000"  # the start_hub fixture's ANBU_CONTROL_CENTER_PHONES
HEALTH_SETTING = "+8242000000"
HEALTH_CONTACT = "+821077770000"
# What an SMS must never say about a reading (and no number but its time).
DETAILS = ("혈당", "혈압", "산소", "체중", "mg", "mmHg", "%")
SMS_TIME = re.compile(r"\(\d+월 \d+일 \d\d:\d\d\)")
HEALTH = "[안부] 김영희 어르신 건강 측정값(11월 24일 10:00) 확인이 필요합니다."
HEALTH_TOLD_CENTRE = (
    "[안부] 김영희 어르신 건강 측정값(11월 24일 10:00) 확인 필요. 관제센터에 알렸습니다."
)


_IDS = itertools.count(1)


def _measure(device: Device, vital: str, value: Any, unit: str) -> str:
    """Publish a ``vitals`` reading at the device's clock; returns its id."""
    event_id = f"v-{next(_IDS)}"
    body = {"v": 1, "id": event_id, "ts": device.ts(), "kind": vital, "value": value, "unit": unit}
    device.raw("vitals", json.dumps(body))
    return event_id


def _to(lines: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_phone: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_phone.setdefault(line["to"], []).append(line)
    return by_phone


def _no_details(lines: list[dict[str, Any]]) -> None:
    assert lines
    for line in lines:
        assert "건강 측정값" in line["body"]
        rest = SMS_TIME.sub("", line["body"], count=1)
        assert not any(word in rest for word in DETAILS), line["body"]
        assert re.search(r"[0-9]", rest) is None, line["body"]


def test_vitals_page_the_health_centre_then_the_control_centre(start_hub: Any) -> None:
    clock = OffsetClock(TUESDAY_10)
    running = start_hub(clock=clock, health_center_phones=[HEALTH_SETTING])
    running.resident("rv1", devices={"spk1": "speaker", "bp1": "sensors"})
    running.contact("rv1", "health_center", HEALTH_CONTACT)
    patched = running.http.patch(
        "/api/v1/residents/rv1/policy", json={"policy": {"glucose_high": 300}}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["policy"]["glucose_high"] == 300.0
    sms = running.sms_log
    device = running.device("rv1", "bp1")
    try:
        _measure(device, "glucose", value=250, unit="mg/dL")  # in this resident's range
        first = _measure(device, "glucose", value=320, unit="mg/dL")
        wait_until(lambda: {HEALTH_SETTING, HEALTH_CONTACT} <= set(_to(read_sms(sms))), 5)
        alert_id = make_alert_id("rv1", "vital_out_of_range", f"bp1|{first}")
        alerts = running.http.get("/api/v1/alerts", params={"resident": "rv1"}).json()
        assert [(a["id"], a["stage"], a["reason"]) for a in alerts] == [
            (alert_id, "health_center", "glucose_high")
        ]
        lines = read_sms(sms)
        assert {line["role"] for line in lines} == {"health_center"}  # no guardian, no official
        assert [line["body"] for line in lines] == [HEALTH, HEALTH]

        # Out of range again: the same episode, nobody is paged twice.
        _measure(device, "blood_pressure", {"systolic": 170, "diastolic": 95}, "mmHg")
        # Then critical: the same alert moves to the control centre, paged at once.
        _measure(device, "glucose", value=30, unit="mg/dL")
        wait_until(lambda: CENTRE in _to(read_sms(sms)), 5)
        running.settle()  # the health centre's "told the centre" goes with it: all sent now
    finally:
        device.close()
    lines = read_sms(sms)
    by_phone = _to(lines)
    assert [line["body"] for line in by_phone[CENTRE]] == [
        "[안부 관제] 김영희 어르신 건강 측정값(11월 24일 10:00) 즉시 확인이 필요합니다."
    ]
    for phone in (HEALTH_SETTING, HEALTH_CONTACT):
        assert [line["body"] for line in by_phone[phone]] == [HEALTH, HEALTH_TOLD_CENTRE]
    _no_details(lines)
    alerts = running.http.get("/api/v1/alerts", params={"resident": "rv1"}).json()
    assert [(a["id"], a["stage"], a["state"]) for a in alerts] == [
        (alert_id, "control_center", "open")
    ]
    detail = running.http.get(f"/api/v1/alerts/{alert_id}").json()
    notes = [(t["what"], t["note"]) for t in detail["timeline"]]
    assert ("vital_repeated", "systolic_high") in notes
    assert ("vital_critical", "glucose_critical_low") in notes


def test_critical_at_night_pages_the_centre_and_holds_the_health_centre(start_hub: Any) -> None:
    clock = OffsetClock(SATURDAY_03)
    running = start_hub(clock=clock, health_center_phones=[HEALTH_SETTING])
    running.resident("rv2", devices={"ox1": "sensors"})
    device = running.device("rv2", "ox1")
    try:
        _measure(device, "spo2", value=85, unit="%")
        wait_until(lambda: read_sms(running.sms_log), 5)
        running.settle()  # all that is due has been sent: nobody else is paged tonight
    finally:
        device.close()
    lines = read_sms(running.sms_log)
    assert [(line["to"], line["role"]) for line in lines] == [(CENTRE, "control_center")]
    _no_details(lines)
    with running.hub.engine.connect() as conn:
        items = conn.execute(select(digest_items)).all()
    assert [(i.recipient, i.role, i.message, i.deliver_at) for i in items] == [
        (HEALTH_SETTING, "health_center", "vital_critical_health_center", MONDAY_09)
    ]
    # The board's out-of-hours list is the officials' digest: the health centre's is not in it.
    digest = running.http.get("/api/v1/digest")
    assert digest.status_code == 200
    assert digest.json() == []


# --- the digest itself, in virtual time (no broker) -----------------------------------------


@pytest.fixture
def core(db_url: str) -> Iterator[tuple[HubCore, FakeClock]]:
    engine = open_engine(db_url)
    migrate(engine)
    settings = Settings(control_center_phones=[CENTRE], health_center_phones=[HEALTH_SETTING])
    yield HubCore(engine, Escalation(WorkingCalendar()), settings), FakeClock(SATURDAY_A_WEEK_AGO)
    engine.dispose()


def _publish(core: HubCore, clock: FakeClock, n: int, **fields: Any) -> None:
    body = {"v": 1, "id": f"m{n}", "ts": clock.now().isoformat(), **fields}
    core.ingest(
        [Incoming("anbu/v1/rv3/sc1/vitals", json.dumps(body).encode(), n, 1, False, 1)],
        clock.now(),
    )


def test_the_health_centres_digest_is_its_own(core: tuple[HubCore, FakeClock]) -> None:
    hub, clock = core
    # Away mode pauses the inactivity rules (vitals go on), so only the scale speaks here.
    resident = {"id": "rv3", "name": "박철수", "district": "서대문구"}
    hub.register_resident(
        {**resident, "policy": {"away_until": "2027-01-01T00:00:00+09:00"}}, clock.now()
    )
    hub.register_device("rv3", "sc1", "sensors", clock.now())
    hub.add_contact("rv3", "official", "담당", "+821033334444", clock.now())
    hub.add_contact("rv3", "health_center", "간호사", HEALTH_CONTACT, clock.now())
    _publish(hub, clock, 1, kind="weight", value=58.0, unit="kg")
    clock.set(datetime(2026, 11, 29, 20, 0, tzinfo=KST))  # Sunday evening, 8 days later
    _publish(hub, clock, 2, kind="weight", value=61.0, unit="kg")  # +3 kg: out of range

    due = hub.next_due()
    assert due == MONDAY_09
    clock.set(MONDAY_09)
    hub.run_due(clock.now())
    with hub.engine.connect() as conn:
        sent = conn.execute(select(outbox).where(outbox.c.channel == "sms")).all()
    # One digest per health-centre number, under its own role; the official gets none.
    assert sorted((row.recipient, row.role, row.kind) for row in sent) == [
        (HEALTH_CONTACT, "health_center", "digest"),
        (HEALTH_SETTING, "health_center", "digest"),
    ]
    assert sent[0].body.splitlines() == [
        "[안부] 근무시간 외 알림 1건 (11월 30일 09:00 기준)",
        "- 박철수 어르신: 11월 29일 20:00 건강 측정값 확인 필요",
    ]
