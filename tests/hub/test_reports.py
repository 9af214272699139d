"""The monthly district report (hub.reports) against a small, fixed data set.

Every expected figure is worked out by hand in the comments next to it, from the data set
described in ``_seed``; nothing expected is computed by the code under test. Runs on SQLite
and PostgreSQL (``db_url``).

Time line, November 2026 in Asia/Seoul (KST = UTC+9, no DST):
    month start  2026-11-01 00:00 KST = 2026-10-31 15:00Z   (hour slot 0, day 0)
    month end    2026-12-01 00:00 KST = 2026-11-30 15:00Z   (30 days = 720 hour slots)
    hour slot h  = [start + h hours, start + h + 1 hours);  day d (Nov d+1) = slots 24d..24d+23
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert

from hub.report_render import report_csv, report_html
from hub.reports import MonthlyReport, monthly_report
from hub.store.db import migrate, open_engine
from hub.store.tables import alert_timeline, alerts, devices, events, residents

KST = ZoneInfo("Asia/Seoul")
HOME = "유성구"
OTHER = "대덕구"
# Well after November, so November is a closed month and every acknowledgement is known.
AFTER = datetime(2026, 12, 15, tzinfo=UTC)


def kst(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=KST)


START = kst(11, 1)  # slot 0


def slot(hour: int, minute: int = 0) -> datetime:
    """A time ``minute`` minutes into hour slot ``hour`` of November."""
    return START + timedelta(hours=hour, minutes=minute)


class _Rows:
    def __init__(self) -> None:
        self.residents: list[dict[str, Any]] = []
        self.devices: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.alerts: list[dict[str, Any]] = []
        self.timeline: list[dict[str, Any]] = []

    def resident(self, rid: str, district: str, created: datetime) -> None:
        self.residents.append(
            {"id": rid, "name": "김영희", "district": district, "policy": {}, "created_at": created}
        )

    def device(self, rid: str, did: str, registered: datetime, kind: str = "speaker") -> None:
        self.devices.append(
            {"resident_id": rid, "id": did, "kind": kind, "registered_at": registered}
        )

    def event(self, rid: str, did: str, kind: str, ts: datetime, payload: str = "{}") -> None:
        self.events.append(
            {
                "resident_id": rid,
                "device_id": did,
                "event_id": f"e{len(self.events)}",
                "kind": kind,
                "ts": ts,
                "received_at": ts,
                "payload": payload,
            }
        )

    def checkin(self, rid: str, did: str, ts: datetime, answered: bool) -> None:
        body = {"id": "c", "ts": ts.isoformat(), "request_id": "q", "answered": answered}
        self.event(rid, did, "checkin", ts, json.dumps(body))

    def alert(
        self,
        aid: str,
        rid: str,
        kind: str,
        stage: str,
        opened: datetime,
        ack_after_s: int | None = None,
        resolved: datetime | None = None,
        outcome: str | None = None,
    ) -> None:
        acknowledged = None if ack_after_s is None else opened + timedelta(seconds=ack_after_s)
        state = "resolved" if resolved else ("acknowledged" if acknowledged else "open")
        self.alerts.append(
            {
                "id": aid,
                "resident_id": rid,
                "kind": kind,
                "state": state,
                "stage": stage,
                "reason": kind,
                "opened_at": opened,
                "acknowledged_at": acknowledged,
                "acknowledged_by": "관제센터" if acknowledged else None,
                "resolved_at": resolved,
                "resolved_by": "관제센터" if resolved and outcome else None,
                "outcome": outcome,
                "updated_at": resolved or acknowledged or opened,
            }
        )

    def step(self, aid: str, at: datetime, what: str) -> None:
        self.timeline.append({"alert_id": aid, "at": at, "what": what, "by": "관제센터"})


def _seed(engine: Engine) -> None:
    rows = _Rows()

    # --- residents and devices --------------------------------------------------------
    rows.resident("r1", HOME, kst(10, 1))
    rows.device("r1", "spk", kst(10, 1))
    rows.device("r1", "band", kst(12, 5), "sensors")  # registered after November: not counted
    rows.resident("r2", HOME, kst(10, 15))
    rows.device("r2", "spk", kst(10, 15))
    rows.device("r2", "phone", kst(11, 21), "phone")  # Nov 21 00:00 KST = slot 480
    rows.resident("r3", HOME, kst(11, 11, 9, 30))  # day index 10 (Nov 11)
    rows.device("r3", "spk", kst(11, 11, 9, 30))  # 10 days 9.5 h after start: slot 249
    rows.resident("r4", HOME, kst(12, 2))  # registered in December: not monitored in November
    rows.device("r4", "spk", kst(12, 2))
    rows.resident("x1", OTHER, kst(10, 1))  # another district: must never show up
    rows.device("x1", "spk", kst(10, 1))

    # --- heartbeats (device uptime) -----------------------------------------------------
    # r1/spk: one per slot at :05, except a 48-hour outage Nov 10 00:00 - Nov 12 00:00 KST
    # (slots 216..263, as Nov 10 is day 9 and 9 * 24 = 216).
    for hour in range(720):
        if not 216 <= hour <= 263:
            rows.event("r1", "spk", "heartbeat", slot(hour, 5))
    # r2/spk: two per slot (:00 exactly and :30); a slot is counted once.
    for hour in range(720):
        rows.event("r2", "spk", "heartbeat", slot(hour))
        rows.event("r2", "spk", "heartbeat", slot(hour, 30))
    # r2/phone: slots 480..579 only (100 slots), then silent.
    for hour in range(480, 580):
        rows.event("r2", "phone", "heartbeat", slot(hour, 10))
    # r3/spk: registered 09:30 KST in slot 249; :45 of slots 249..699 (451 slots), then silent.
    for hour in range(249, 700):
        rows.event("r3", "spk", "heartbeat", slot(hour, 45))
    # x1/spk: every slot.
    for hour in range(720):
        rows.event("x1", "spk", "heartbeat", slot(hour, 20))

    # --- activity and check-ins (days with activity) -----------------------------------
    rows.event("r1", "spk", "activity", kst(10, 31, 23, 59))  # October in KST: not counted
    rows.event("r1", "spk", "activity", kst(11, 1, 8))
    rows.event("r1", "spk", "activity", kst(11, 2, 9))
    rows.event("r1", "spk", "activity", kst(11, 2, 19))  # same day twice: one day
    rows.event("r1", "spk", "activity", kst(11, 3, 7))
    rows.event("r1", "spk", "activity", kst(11, 5, 12))
    # 2026-11-30T14:30Z = Nov 30 23:30 KST: November (slot 719, already up).
    rows.event("r1", "spk", "activity", datetime(2026, 11, 30, 14, 30, tzinfo=UTC))
    # 2026-11-30T15:30Z = Dec 1 00:30 KST: December, although it is still Nov 30 in UTC.
    rows.event("r1", "spk", "activity", datetime(2026, 11, 30, 15, 30, tzinfo=UTC))
    rows.event("r2", "spk", "activity", kst(11, 1, 10))
    rows.checkin("r2", "spk", kst(11, 1, 11), answered=True)  # same day as activity
    rows.event("r2", "spk", "activity", kst(11, 4, 10))
    rows.checkin("r2", "spk", kst(11, 7, 10), answered=True)  # a check-in answer counts
    rows.checkin("r2", "spk", kst(11, 8, 10), answered=False)  # unanswered: does not
    rows.event("r2", "phone", "activity", kst(11, 25, 0, 30))  # slot 576, already up
    rows.event("r3", "spk", "activity", kst(11, 11, 10))
    rows.event("r3", "spk", "activity", kst(11, 12, 10))
    rows.checkin("r3", "spk", kst(11, 20, 10), answered=True)
    # A payload cut short in storage: unreadable, so not counted (and no error).
    rows.event("r3", "spk", "checkin", kst(11, 21, 10), '{"answered": tr')
    rows.event("r3", "spk", "vitals", kst(11, 22, 10))  # not activity
    rows.event("r4", "spk", "activity", kst(12, 2, 10))
    for day in range(1, 31):
        rows.event("x1", "spk", "activity", kst(11, day, 12))

    # --- alerts -------------------------------------------------------------------------
    # a0: opened in October (KST), resolved Nov 1 00:10 KST -> only its outcome is November's.
    rows.alert(
        "a0", "r1", "emergency", "control_center", kst(10, 31, 23, 58), 150,
        kst(11, 1, 0, 10), "resolved_by_phone",
    )  # fmt: skip
    rows.step("a0", kst(10, 31, 23, 59), "called_119")  # October: not counted
    rows.step("a0", kst(11, 1, 0, 1), "called_resident")
    # a1: emergency, acknowledged after 30 s, a false alarm.
    rows.alert(
        "a1", "r1", "emergency", "control_center", kst(11, 3, 10), 30,
        kst(11, 3, 10, 10), "false_alarm",
    )  # fmt: skip
    rows.step("a1", kst(11, 3, 10), "stage:control_center")
    rows.step("a1", kst(11, 3, 10, 1), "called_resident")
    # a2: emergency, 90 s, taken to hospital after a dispatch and a 119 call.
    rows.alert(
        "a2", "r2", "emergency", "control_center", kst(11, 7, 14), 90,
        kst(11, 7, 15), "transported",
    )  # fmt: skip
    rows.step("a2", kst(11, 7, 14, 2), "called_resident")
    rows.step("a2", kst(11, 7, 14, 3), "no_answer")
    rows.step("a2", kst(11, 7, 14, 4), "dispatched")
    rows.step("a2", kst(11, 7, 14, 20), "called_119")
    rows.step("a2", kst(11, 7, 14, 21), "note")
    # a3: emergency, 200 s, visited after a dispatch.
    rows.alert(
        "a3", "r3", "emergency", "control_center", kst(11, 20, 9), 200,
        kst(11, 20, 10), "visited",
    )  # fmt: skip
    rows.step("a3", kst(11, 20, 9, 5), "dispatched")
    # a4: emergency Nov 30 23:50 KST, never acknowledged, resolved Dec 1 00:20 KST.
    rows.alert(
        "a4", "r1", "emergency", "control_center", kst(11, 30, 23, 50), None,
        kst(12, 1, 0, 20), "false_alarm",
    )  # fmt: skip
    rows.step("a4", kst(12, 1, 0, 5), "dispatched")  # December
    # a5: inactivity at the guardian stage, acknowledged by a guardian, resolved by them.
    rows.alert(
        "a5", "r2", "inactivity", "guardian", kst(11, 15, 9), 600,
        kst(11, 15, 11), "resolved_by_guardian",
    )  # fmt: skip
    # a6: inactivity still at the check-in stage, closed by the system (no outcome).
    rows.alert("a6", "r3", "inactivity", "checkin", kst(11, 21, 8), None, kst(11, 21, 9))
    # a7: device offline during r1's outage, still open.
    rows.alert("a7", "r1", "device_offline", "guardian", kst(11, 10, 0, 30))
    # Another district: a fast false alarm with a dispatch and a 119 call, an inactivity.
    rows.alert(
        "xa1", "x1", "emergency", "control_center", kst(11, 5, 9), 10,
        kst(11, 5, 9, 30), "false_alarm",
    )  # fmt: skip
    rows.step("xa1", kst(11, 5, 9, 1), "dispatched")
    rows.step("xa1", kst(11, 5, 9, 2), "called_119")
    rows.alert("xa2", "x1", "monitoring_lost", "control_center", kst(11, 6, 9))

    with engine.begin() as conn:
        conn.execute(insert(residents), rows.residents)
        conn.execute(insert(devices), rows.devices)
        conn.execute(insert(events), rows.events)
        conn.execute(insert(alerts), rows.alerts)
        conn.execute(insert(alert_timeline), rows.timeline)


@pytest.fixture
def engine(db_url: str) -> Engine:
    engine = open_engine(db_url)
    migrate(engine)
    _seed(engine)
    return engine


def test_november_figures_match_the_hand_computed_ones(engine: Engine) -> None:
    report = monthly_report(engine, HOME, "2026-11", now=AFTER)

    assert report.district == HOME
    assert report.month == "2026-11"
    assert report.period_start == datetime(2026, 10, 31, 15, tzinfo=UTC)
    assert report.period_end == datetime(2026, 11, 30, 15, tzinfo=UTC)

    # r1, r2, r3 (r4 was created on Dec 2; x1 lives in another district).
    assert report.residents_monitored == 3

    # Devices: r1/spk, r2/spk, r2/phone, r3/spk (r1/band and r4/spk came in December).
    assert report.devices_monitored == 4
    # Device-hours: r1/spk 720 + r2/spk 720 + r2/phone (720 - 480 =) 240
    #   + r3/spk (720 - 249 =) 471 = 2151
    assert report.device_hours == 2151
    # Up: r1/spk 720 - 48 outage = 672; r2/spk 720; r2/phone 100; r3/spk 451
    #   672 + 720 + 100 + 451 = 1943
    assert report.device_hours_up == 1943
    assert report.device_uptime_pct == pytest.approx(1943 / 2151 * 100)  # 90.33 %

    # Resident-days: r1 30 + r2 30 + r3 (Nov 11..30 =) 20 = 80
    assert report.resident_days == 80
    # Active: r1 {1, 2, 3, 5, 30} = 5; r2 {1, 4, 7, 25} = 4 (Nov 8 unanswered);
    #   r3 {11, 12, 20} = 3 (Nov 21 unreadable, Nov 22 vitals) -> 12
    assert report.resident_days_active == 12
    assert report.days_with_activity_pct == pytest.approx(15.0)  # 12 / 80 = 15 %

    # Opened in November: a1 a2 a3 a4 (emergency), a5 a6 (inactivity), a7 (device_offline);
    # a0 opened in October (KST).
    assert report.alerts_total == 7
    assert report.alerts_by_kind == {
        "emergency": 4,
        "inactivity": 2,
        "monitoring_lost": 0,
        "device_offline": 1,
        "vital_out_of_range": 0,
        "water_running": 0,
    }
    # checkin: a6; guardian: a5, a7; control_center: a1 a2 a3 a4. Every stage is listed, in
    # the escalation's order, the health centre's too (the report once left it out).
    assert report.alerts_by_stage == {
        "checkin": 1,
        "guardian": 2,
        "health_center": 0,
        "control_center": 4,
    }
    assert list(report.alerts_by_stage) == [
        "checkin",
        "guardian",
        "health_center",
        "control_center",
    ]

    # Emergencies opened in November: a1 (30 s), a2 (90 s), a3 (200 s), a4 (never).
    assert report.emergencies == 4
    assert report.emergencies_acknowledged == 3
    assert report.ack_median_s == pytest.approx(90.0)  # median of 30, 90, 200
    assert report.ack_within_60s_pct == pytest.approx(25.0)  # a1: 1 / 4
    assert report.ack_within_180s_pct == pytest.approx(50.0)  # a1, a2: 2 / 4

    # Resolved in November: a0 (Nov 1 00:10 KST) resolved_by_phone, a1 false_alarm,
    # a2 transported, a3 visited, a5 resolved_by_guardian, a6 no outcome -> auto_resolved.
    # a4 was resolved in December.
    assert report.outcomes == {
        "false_alarm": 1,
        "resolved_by_phone": 1,
        "visited": 1,
        "transported": 1,
        "resolved_by_guardian": 1,
        "other": 0,
        "auto_resolved": 1,
    }
    # Emergencies resolved in November: a0, a1, a2, a3 = 4; false alarms: a1 = 1 -> 25 %
    assert report.emergencies_resolved == 4
    assert report.false_alarms == 1
    assert report.false_alarm_rate_pct == pytest.approx(25.0)

    # dispatched: a2, a3 (a4's is Dec 1 KST) = 2; called_119: a2 (a0's is Oct 31 KST) = 1
    assert report.dispatches == 2
    assert report.calls_119 == 1

    days = dict(report.per_day_active_residents)
    assert list(days) == [date(2026, 11, day) for day in range(1, 31)]
    # Nov 1: r1 and r2; one each on 2 3 4 5 7 11 12 20 25 30; none on the other days.
    expected = {1: 2, 2: 1, 3: 1, 4: 1, 5: 1, 7: 1, 11: 1, 12: 1, 20: 1, 25: 1, 30: 1}
    assert days == {date(2026, 11, day): expected.get(day, 0) for day in range(1, 31)}


def test_month_boundaries_follow_seoul_time(engine: Engine) -> None:
    # 2026-11-30T15:30Z is Dec 1 00:30 KST: r1's activity then is December's.
    december = monthly_report(engine, HOME, "2026-12", now=datetime(2027, 1, 5, tzinfo=UTC))
    assert december.period_start == datetime(2026, 11, 30, 15, tzinfo=UTC)
    assert december.per_day_active_residents[0] == (date(2026, 12, 1), 1)
    # r4's activity on Dec 2; nobody else is active in December.
    assert december.per_day_active_residents[1] == (date(2026, 12, 2), 1)
    assert sum(count for _, count in december.per_day_active_residents) == 2
    assert december.residents_monitored == 4  # r1 r2 r3 + r4 (Dec 2)
    assert december.alerts_total == 0  # a4 opened Nov 30 23:50 KST
    # a4: resolved Dec 1 00:20 KST, a false alarm; its dispatch was Dec 1 00:05 KST.
    assert december.outcomes["false_alarm"] == 1
    assert december.emergencies_resolved == 1
    assert december.false_alarm_rate_pct == pytest.approx(100.0)
    assert december.dispatches == 1
    assert december.calls_119 == 0

    # Oct 31 23:59 KST (14:59Z) is October's; a0 opened Oct 31 23:58 KST is too.
    october = monthly_report(engine, HOME, "2026-10", now=AFTER)
    assert october.per_day_active_residents[-1] == (date(2026, 10, 31), 1)
    assert october.alerts_by_kind["emergency"] == 1
    assert october.ack_median_s == pytest.approx(150.0)
    assert october.calls_119 == 1  # a0's, Oct 31 23:59 KST
    assert october.outcomes["resolved_by_phone"] == 0  # resolved in November


def test_a_month_still_running_is_cut_at_now(engine: Engine) -> None:
    now = kst(11, 11, 9)  # slot 249 starts at 09:00 KST (2026-11-11T00:00Z)
    report = monthly_report(engine, HOME, "2026-11", now=now)
    assert report.period_end == datetime(2026, 11, 11, 0, tzinfo=UTC)
    # r3 is created at 09:30 KST, after now.
    assert report.residents_monitored == 2
    # r1/spk and r2/spk, 249 slots each (r2/phone comes Nov 21): 498
    assert report.device_hours == 498
    # r1: slots 0..215 up (216), outage from 216; r2: 249 -> 465
    assert report.device_hours_up == 465
    assert report.device_uptime_pct == pytest.approx(465 / 498 * 100)
    # Days Nov 1..11 for r1 and r2 = 22; active r1 {1,2,3,5} + r2 {1,4,7} = 7
    assert report.resident_days == 22
    assert report.resident_days_active == 7
    assert len(report.per_day_active_residents) == 11
    # a1, a2 and a7 (Nov 10 00:30 KST) were opened before now.
    assert report.alerts_total == 3


def test_another_district_never_leaks_in(engine: Engine) -> None:
    other = monthly_report(engine, OTHER, "2026-11", now=AFTER)
    # Only x1: one device up every slot, active every day, two alerts.
    assert other.residents_monitored == 1
    assert (other.device_hours_up, other.device_hours) == (720, 720)
    assert (other.resident_days_active, other.resident_days) == (30, 30)
    assert other.alerts_by_kind["emergency"] == 1
    assert other.alerts_by_kind["monitoring_lost"] == 1
    assert other.ack_median_s == pytest.approx(10.0)
    assert other.outcomes["false_alarm"] == 1
    assert (other.dispatches, other.calls_119) == (1, 1)

    home = monthly_report(engine, HOME, "2026-11", now=AFTER)
    assert home.alerts_by_kind["monitoring_lost"] == 0
    assert home.ack_median_s == pytest.approx(90.0)
    assert "대덕구" not in report_csv(home)
    assert "대덕구" not in report_html(home)


def _assert_empty(report: MonthlyReport, days: int) -> None:
    assert report.residents_monitored == 0
    assert report.devices_monitored == 0
    assert report.device_uptime_pct is None
    assert report.days_with_activity_pct is None
    assert report.alerts_total == 0
    assert set(report.alerts_by_kind.values()) == {0}
    assert set(report.alerts_by_stage.values()) == {0}
    assert report.ack_median_s is None
    assert report.ack_within_60s_pct is None
    assert report.ack_within_180s_pct is None
    assert set(report.outcomes.values()) == {0}
    assert report.false_alarm_rate_pct is None
    assert (report.dispatches, report.calls_119) == (0, 0)
    assert len(report.per_day_active_residents) == days
    assert {count for _, count in report.per_day_active_residents} <= {0}
    # Both renderings cope with nothing to show.
    assert report_csv(report).startswith("\ufeff항목,값")
    assert "<svg" in report_html(report)


def test_an_empty_month_gives_zeros_and_none(engine: Engine) -> None:
    _assert_empty(monthly_report(engine, "서구", "2026-11", now=AFTER), 30)  # nobody there
    _assert_empty(monthly_report(engine, HOME, "2025-01", now=AFTER), 31)  # before anyone

    # A month that has not begun: residents are registered, but nothing is measured yet.
    future = monthly_report(engine, HOME, "2027-03", now=AFTER)
    assert future.residents_monitored == 4  # r1 r2 r3 r4
    assert (future.device_hours, future.resident_days) == (0, 0)
    assert future.device_uptime_pct is None
    assert future.days_with_activity_pct is None
    assert future.alerts_total == 0
    assert future.per_day_active_residents == []


def test_a_bad_month_is_refused(tmp_path: Any) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'anbu.db'}")
    for month in ("2026-13", "2026-1", "November", "2026-11-01"):
        with pytest.raises(ValueError, match="month"):
            monthly_report(engine, HOME, month)


def test_csv_has_a_bom_korean_headers_and_a_per_day_section(engine: Engine) -> None:
    text = report_csv(monthly_report(engine, HOME, "2026-11", now=AFTER))
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0] == ["항목", "값"]
    figures = dict(row for row in rows[1 : rows.index([])] if len(row) == 2)
    assert figures["지역(구)"] == HOME
    assert figures["모니터링 대상자 수(명)"] == "3"
    assert figures["기기 가동률(%)"] == "90.3"  # 1943 / 2151
    assert figures["활동 확인 일수 비율(%)"] == "15.0"
    assert figures["알림 종류별: 긴급 호출(건)"] == "4"
    assert figures["최고 단계별: 관제센터 단계(건)"] == "4"
    # The glossary's words (protocol/glossary.py), as the board and staff pages say them.
    assert "알림 종류별: 건강 수치 이상(건)" in figures
    assert "처리 결과: 전화로 확인(건)" in figures
    assert figures["접수까지 걸린 시간 중앙값(초)"] == "90"
    assert figures["60초 이내 접수율(%)"] == "25.0"
    assert figures["처리 결과: 오경보(건)"] == "1"
    assert figures["출동 지시(건)"] == "2"
    assert figures["119 신고(건)"] == "1"
    assert figures["오경보율(%)"] == "25.0"
    per_day = rows[rows.index([]) + 1 :]
    assert per_day[0] == ["날짜", "활동 확인 대상자 수(명)"]
    assert per_day[1] == ["2026-11-01", "2"]
    assert len(per_day) == 1 + 30
    assert "\r\n" in text  # Excel's line ends


def test_csv_leaves_missing_figures_empty() -> None:
    report = MonthlyReport(
        district=HOME, month="2026-11", tz="Asia/Seoul",
        period_start=datetime(2026, 10, 31, 15, tzinfo=UTC),
        period_end=datetime(2026, 11, 30, 15, tzinfo=UTC),
        residents_monitored=0, devices_monitored=0, device_hours=0, device_hours_up=0,
        device_uptime_pct=None, resident_days=0, resident_days_active=0,
        days_with_activity_pct=None, alerts_total=0, alerts_by_kind={}, alerts_by_stage={},
        emergencies=0, emergencies_acknowledged=0, ack_median_s=None, ack_within_60s_pct=None,
        ack_within_180s_pct=None, outcomes={}, emergencies_resolved=0, false_alarms=0,
        false_alarm_rate_pct=None, dispatches=0, calls_119=0, per_day_active_residents=[],
    )  # fmt: skip
    rows = dict(row for row in csv.reader(io.StringIO(report_csv(report)[1:])) if len(row) == 2)
    assert rows["기기 가동률(%)"] == ""
    assert rows["접수까지 걸린 시간 중앙값(초)"] == ""


def test_html_is_a_printable_self_contained_korean_page(engine: Engine) -> None:
    page = report_html(monthly_report(engine, HOME, "2026-11", now=AFTER))
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="ko">' in page
    assert "사용현황서" in page
    assert "유성구 2026년 11월" in page
    assert "@page" in page
    assert "size: A4" in page
    assert "@media print" in page
    # No JavaScript, nothing fetched from elsewhere, no navigation.
    lowered = page.lower()
    for banned in ("<script", "javascript:", "onload=", "http://", "https://", "<link", "<nav"):
        assert banned not in lowered, banned
    # Two charts: active residents per day (30 bars) and alerts by kind (6 bars).
    assert page.count("<svg") == 2
    assert page.count('<rect class="bar"') == 30 + 6
    assert "<title>11월 1일: 2명</title>" in page
    assert "<title>긴급 호출: 4건</title>" in page
    # The figures table.
    assert '<th scope="row">기기 가동률(%)</th><td class="num">90.3</td>' in page
    assert "산출 기준" in page


def test_html_escapes_the_district_name(engine: Engine) -> None:
    page = report_html(monthly_report(engine, "<b>구", "2026-11", now=AFTER))
    assert "<b>구" not in page
    assert "&lt;b&gt;구" in page
