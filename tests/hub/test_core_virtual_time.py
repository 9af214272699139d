"""The hub's core with its real database, in virtual time: a week of the default policy.

No broker here: messages go straight into :class:`HubCore` as the ingest worker would hand
them over, and the clock is a FakeClock, so 12 h / 24 h stages run in milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from alerts.calendar import WorkingCalendar
from alerts.clock import FakeClock
from alerts.engine import Escalation
from hub.mqtt import Incoming
from hub.service import HubCore
from hub.settings import Settings
from hub.store.db import migrate, open_engine
from hub.store.tables import devices, events, outbox
from tests.hub.support import KST

# Friday 2026-09-18 … Monday 2026-09-28: a weekend, then 추석 (Sep 24–26) and a weekend.
START = datetime(2026, 9, 18, 8, 0, tzinfo=KST)


class Harness:
    def __init__(self, db_url: str) -> None:
        self.engine = open_engine(db_url)
        migrate(self.engine)
        self.clock = FakeClock(START)
        self.core = HubCore(
            self.engine, Escalation(WorkingCalendar()), Settings(control_center_phones=["+821"])
        )
        self.ids = 0

    def publish(self, resident: str, device: str, kind: str, **fields: Any) -> None:
        self.ids += 1
        body = {"v": 1, "id": f"m{self.ids}", "ts": self.clock.now().isoformat(), **fields}
        message = Incoming(
            topic=f"anbu/v1/{resident}/{device}/{kind}",
            payload=json.dumps(body).encode(),
            mid=self.ids,
            qos=1,
            retain=False,
            generation=1,
        )
        self.core.ingest([message], self.clock.now())

    def run_until(self, until: datetime) -> None:
        """Fire every due step in order, as the worker does, up to ``until``."""
        while True:
            due = self.core.next_due()
            if due is None or due > until:
                break
            self.clock.set(max(due, self.clock.now()))
            self.core.run_due(self.clock.now())
        self.clock.set(until)

    def sms(self) -> list[Any]:
        with self.engine.connect() as conn:
            return conn.execute(
                select(outbox).where(outbox.c.channel == "sms").order_by(outbox.c.id)
            ).all()


@pytest.fixture
def harness(db_url: str) -> Iterator[Harness]:
    made = Harness(db_url)
    yield made
    made.engine.dispose()


def test_default_policy_week_routes_official_by_working_hours(harness: Harness) -> None:
    core, now = harness.core, harness.clock.now
    core.register_resident({"id": "r1", "name": "김영희", "district": "유성구"}, now())
    core.register_device("r1", "spk", "speaker", now())
    core.add_contact("r1", "guardian", "보호자", "+821011112222", now())
    core.add_contact("r1", "official", "담당", "+821033334444", now())

    # Friday 08:00 last activity: guardian at 20:00 Fri, control centre at 08:00 Sat
    # (a weekend: the official's message waits for Monday 09:00).
    harness.publish("r1", "spk", "activity", source="voice")
    harness.run_until(datetime(2026, 9, 21, 8, 59, tzinfo=KST))
    sent = harness.sms()
    assert [row.role for row in sent] == ["guardian", "control_center", "guardian"]
    assert _local(sent[0].created_at) == datetime(2026, 9, 18, 20, 0, tzinfo=KST)
    assert _local(sent[1].created_at) == datetime(2026, 9, 19, 8, 0, tzinfo=KST)

    harness.run_until(datetime(2026, 9, 21, 9, 1, tzinfo=KST))
    digest = [row for row in harness.sms() if row.role == "official"]
    assert len(digest) == 1
    assert _local(digest[0].created_at) == datetime(2026, 9, 21, 9, 0, tzinfo=KST)
    assert digest[0].kind == "digest"

    # Activity Monday resolves; then quiet from Tuesday 10:00 → control centre Wednesday
    # 10:00 (a working day): the official is paged at once.
    harness.publish("r1", "spk", "activity", source="door")
    harness.clock.set(datetime(2026, 9, 22, 10, 0, tzinfo=KST))
    harness.publish("r1", "spk", "activity", source="power")
    before = len(harness.sms())
    harness.run_until(datetime(2026, 9, 23, 10, 30, tzinfo=KST))
    new = harness.sms()[before:]
    officials = [row for row in new if row.role == "official"]
    assert len(officials) == 1
    assert officials[0].kind == "inactivity"
    assert _local(officials[0].created_at) == datetime(2026, 9, 23, 10, 0, tzinfo=KST)

    # Quiet from Wednesday 10:30: control centre stage Thursday 10:30 is 추석 → digest on
    # Monday 09:00, the first working morning after the holiday and the weekend.
    harness.publish("r1", "spk", "activity", source="voice")
    before = len(harness.sms())
    harness.run_until(datetime(2026, 9, 28, 9, 30, tzinfo=KST))
    new = harness.sms()[before:]
    officials = [row for row in new if row.role == "official"]
    assert [row.kind for row in officials] == ["digest"]
    assert _local(officials[0].created_at) == datetime(2026, 9, 28, 9, 0, tzinfo=KST)
    _assert_no_duplicates(harness.sms())


def test_last_will_after_online_marks_device_offline(harness: Harness) -> None:
    core, now = harness.core, harness.clock.now
    core.register_resident({"id": "r2", "name": "박순자", "district": "동구"}, now())
    core.register_device("r2", "spk", "speaker", now())
    will_ts = harness.clock.now().isoformat()  # a Will carries the time of connecting
    harness.clock.advance(timedelta(seconds=1))
    harness.publish("r2", "spk", "status", state="online")
    harness.clock.advance(timedelta(minutes=5))
    message = Incoming(
        topic="anbu/v1/r2/spk/status",
        payload=json.dumps({"state": "offline", "ts": will_ts}).encode(),
        mid=99,
        qos=1,
        retain=True,
        generation=1,
    )
    core.ingest([message], now())
    with harness.engine.connect() as conn:
        online = conn.execute(select(devices.c.online).where(devices.c.id == "spk")).scalar()
    assert online is False
    state = core.state_of("r2")
    assert state is not None
    assert not state.devices["spk"].online
    # The same retained Will again (on a resubscribe) changes nothing.
    core.ingest([message], now())
    assert core.state_of("r2") == state
    # Both statuses are kept as events, once each and in the order taken (an exported trace
    # replays the device going offline).
    with harness.engine.connect() as conn:
        rows = conn.execute(
            select(events.c.kind, events.c.event_id, events.c.seq)
            .where(events.c.device_id == "spk")
            .order_by(events.c.seq)
        ).all()
    assert [(row.kind, row.event_id.split(":")[1]) for row in rows] == [
        ("status", "online"),
        ("status", "offline"),
    ]
    assert rows[0].seq < rows[1].seq


def _local(value: datetime) -> datetime:
    return value.astimezone(KST)


def _assert_no_duplicates(rows: list[Any]) -> None:
    keys = [row.key for row in rows]
    assert len(keys) == len(set(keys))


def test_a_guardian_sms_held_for_the_night_is_withdrawn_when_the_alert_ends(
    harness: Harness,
) -> None:
    core, now = harness.core, harness.clock.now
    harness.clock.set(datetime(2026, 9, 22, 15, 0, tzinfo=KST))  # Tuesday afternoon
    policy = {"guardian_night": "23:00-07:00"}
    core.register_resident(
        {"id": "r3", "name": "최말순", "district": "동구", "policy": policy}, now()
    )
    core.register_device("r3", "spk", "speaker", now())
    core.add_contact("r3", "guardian", "보호자", "+821011112222", now())
    harness.publish("r3", "spk", "activity", source="voice")
    harness.publish("r3", "spk", "heartbeat", interval_s=300)  # then the Wi-Fi goes: dark
    harness.run_until(datetime(2026, 9, 23, 6, 0, tzinfo=KST))
    held = [row for row in harness.sms() if row.role == "guardian"]
    assert len(held) == 1
    assert _local(held[0].created_at) == datetime(2026, 9, 23, 3, 0, tzinfo=KST)
    assert held[0].state == "pending"
    assert _local(held[0].next_attempt_at) == datetime(2026, 9, 23, 7, 0, tzinfo=KST)
    # 06:10 the speaker is back and heard the resident: the alert is over before 07:00.
    harness.clock.set(datetime(2026, 9, 23, 6, 10, tzinfo=KST))
    harness.publish("r3", "spk", "heartbeat", interval_s=300)
    harness.publish("r3", "spk", "activity", source="voice")
    rows = [row for row in harness.sms() if row.role == "guardian"]
    assert [(row.message, row.state) for row in rows] == [("inactivity_guardian", "withdrawn")]


def test_the_centre_s_time_at_night_tells_the_centre_and_the_guardian_in_the_morning(
    harness: Harness,
) -> None:
    core, now = harness.core, harness.clock.now
    harness.clock.set(datetime(2026, 9, 22, 2, 0, tzinfo=KST))  # Tuesday 02:00
    resident = {"id": "r4", "name": "한옥자", "district": "동구"}
    core.register_resident({**resident, "policy": {"guardian_night": "23:00-07:00"}}, now())
    core.register_device("r4", "spk", "speaker", now())
    core.add_contact("r4", "guardian", "보호자", "+821011112222", now())
    harness.publish("r4", "spk", "activity", source="voice")
    harness.run_until(datetime(2026, 9, 23, 2, 30, tzinfo=KST))
    rows = [
        (row.role, row.message, _local(row.created_at), row.next_attempt_at)
        for row in harness.sms()
    ]
    # 14:00 the guardian (the day: at once); 02:00 the centre at once, the guardian's
    # reminder waits for 07:00 (the centre is working it).
    assert [(r[0], r[1], r[2].hour) for r in rows] == [
        ("guardian", "inactivity_guardian", 14),
        ("control_center", "inactivity_control_center", 2),
        ("guardian", "inactivity_guardian_reminder", 2),
    ]
    assert rows[0][3] is None or _local(rows[0][3]) <= rows[0][2]
    assert _local(rows[2][3]) == datetime(2026, 9, 23, 7, 0, tzinfo=KST)


def test_a_held_guardian_sms_goes_at_once_when_staff_close_the_alert_as_an_incident(
    harness: Harness,
) -> None:
    from alerts.inputs import Resolve

    core, now = harness.core, harness.clock.now
    harness.clock.set(datetime(2026, 9, 22, 15, 0, tzinfo=KST))
    resident = {"id": "r5", "name": "윤복순", "district": "동구"}
    core.register_resident({**resident, "policy": {"guardian_night": "23:00-07:00"}}, now())
    core.register_device("r5", "spk", "speaker", now())
    core.add_contact("r5", "guardian", "보호자", "+821011112222", now())
    harness.publish("r5", "spk", "activity", source="voice")
    harness.publish("r5", "spk", "heartbeat", interval_s=300)  # then dark
    harness.run_until(datetime(2026, 9, 23, 4, 0, tzinfo=KST))
    (held,) = [row for row in harness.sms() if row.message == "inactivity_guardian"]
    assert _local(held.next_attempt_at) == datetime(2026, 9, 23, 7, 0, tzinfo=KST)
    # 04:00 the centre found the resident on the floor and closed it: the family hears now.
    core.operator_input(held.alert_id, Resolve(held.alert_id, "관제 김", "transported"), now())
    (row,) = [r for r in harness.sms() if r.message == "inactivity_guardian"]
    assert row.state == "pending"
    assert _local(row.next_attempt_at) == datetime(2026, 9, 23, 4, 0, tzinfo=KST)


def test_a_step_that_fell_due_while_no_hub_ran_fires_once_from_the_next(
    harness: Harness,
) -> None:
    """The restart of ``test_escalation_e2e`` in virtual time: the due time is kept in the
    database, so a new core fires the overdue guardian step at once, once, and the centre's
    step at its own time."""
    core, now = harness.core, harness.clock.now
    core.register_resident({"id": "r6", "name": "정말순", "district": "동구"}, now())
    core.register_device("r6", "spk", "speaker", now())
    core.add_contact("r6", "guardian", "보호자", "+821011112222", now())
    harness.publish("r6", "spk", "activity", source="voice")  # Friday 08:00
    harness.run_until(START + timedelta(hours=1))
    assert harness.sms() == []

    # The hub is down from 09:00 to 21:00; the guardian's time (20:00) passes meanwhile.
    harness.clock.set(START + timedelta(hours=13))
    harness.core = HubCore(
        harness.engine, Escalation(WorkingCalendar()), Settings(control_center_phones=["+821"])
    )
    harness.run_until(START + timedelta(hours=13))
    guardian = [row for row in harness.sms() if row.role == "guardian"]
    assert len(guardian) == 1
    assert _local(guardian[0].created_at) == START + timedelta(hours=13)

    harness.run_until(START + timedelta(hours=24, minutes=1))
    rows = harness.sms()
    # The guardian's page is not sent again; the centre's time brings its reminder.
    assert [(row.role, row.message) for row in rows] == [
        ("guardian", "inactivity_guardian"),
        ("control_center", "inactivity_control_center"),
        ("guardian", "inactivity_guardian_reminder"),
    ]
    assert _local(rows[1].created_at) == START + timedelta(hours=24)
    _assert_no_duplicates(rows)
