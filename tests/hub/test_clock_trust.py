"""Time you can trust, on a real database (SQLite and PostgreSQL alike): a wrong hub clock
neither drops an emergency nor pages a guardian whose resident is sending activity.

The hub here runs in-process at ``hub_now``; its devices run on the "right" clock, 1 h ahead
of it or 13 h behind it. The same with a real ``anbu hub`` under libfaketime is in
``tests/hub/test_faketime.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from alerts.calendar import WorkingCalendar
from alerts.engine import Escalation
from hub.metrics import HubMetrics
from hub.mqtt import Incoming
from hub.service import HubCore
from hub.settings import Settings
from hub.store.db import Engine, migrate, open_engine
from hub.store.tables import dead_letters, events, outbox
from tests.hub.support import KST

START = datetime(2026, 9, 23, 10, 0, tzinfo=KST)  # a Wednesday morning, by the hub's clock
SLOW = timedelta(hours=-1)  # hub clock minus the right time
FAST = timedelta(hours=13)


def incoming(kind: str, body: dict[str, Any], device: str = "spk1") -> Incoming:
    return Incoming(
        topic=f"anbu/v1/r1/{device}/{kind}",
        payload=json.dumps(body, ensure_ascii=False).encode(),
        mid=1,
        qos=1,
        retain=False,
        generation=1,
    )


DEVICES = ("spk1", "phone1", "sensors1")


class Hub:
    """An in-process hub core whose clock is ``skew`` off the devices' (right) clock."""

    def __init__(self, engine: Engine, skew: timedelta, *, warm: bool = True) -> None:
        self.engine = engine
        self.skew = skew
        self.now = START
        self.core = HubCore(
            engine,
            Escalation(WorkingCalendar()),
            Settings(control_center_phones=["+8220000000"]),
            metrics=HubMetrics(),
        )
        self.core.register_resident({"id": "r1", "name": "김영희", "district": "유성구"}, START)
        for device in DEVICES:
            self.core.register_device("r1", device, "speaker", START)
        self.core.add_contact("r1", "guardian", "김보호", "+821000000001", START)
        self._ids = iter(range(1, 10**6))
        # The hub has been hearing its devices: a heartbeat votes on the hub's clock only
        # when it came live (its gap to the device's previous one the same by both clocks),
        # and only when at least three devices agree (hub.clock_check).
        # What the warm-up leaves (heartbeats judged before the shift was known) is not
        # what the tests look at.
        for minutes in (10, 5) if warm else ():
            self.now = START - timedelta(minutes=minutes)
            self.beat()
        self.now = START
        self._warm = self._dead_ids()
        self._warm_stored = set(self.stored())

    def device_ts(self, ago: timedelta = timedelta(0)) -> str:
        """What a device on the right clock stamps now (or ``ago`` before now)."""
        return (self.now - self.skew - ago).isoformat()

    def send(self, kind: str, device: str = "spk1", **fields: Any) -> str:
        body = {"v": 1, "id": f"{kind[0]}-{next(self._ids)}", "ts": self.device_ts(), **fields}
        self.core.ingest([incoming(kind, body, device)], self.now)
        return str(body["id"])

    def beat(self) -> None:
        for device in DEVICES:
            self.send("heartbeat", device, interval_s=300)

    def pages(self, kind: str) -> list[Any]:
        with self.engine.connect() as conn:
            query = select(outbox.c.role, outbox.c.step).where(outbox.c.kind == kind)
            return list(conn.execute(query))

    def _dead_ids(self) -> set[int]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(dead_letters.c.id)).scalars())

    def dead(self) -> list[tuple[str, str]]:
        """Dead letters since the warm-up."""
        warm = getattr(self, "_warm", set())
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(dead_letters.c.id, dead_letters.c.reason, dead_letters.c.detail).order_by(
                    dead_letters.c.id
                )
            )
            return [(row.reason, row.detail) for row in rows if row.id not in warm]

    def stored(self) -> list[str]:
        """Events stored since the warm-up."""
        warm = getattr(self, "_warm_stored", set())
        with self.engine.connect() as conn:
            ids = conn.execute(select(events.c.event_id).order_by(events.c.seq)).scalars()
            return [event_id for event_id in ids if event_id not in warm]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("skew", [SLOW, FAST], ids=["hub-1h-slow", "hub-13h-fast"])
def test_a_resident_sending_activity_is_never_paged_whatever_the_hub_clock(
    engine: Engine, skew: timedelta
) -> None:
    hub = Hub(engine, skew)
    # Twelve hours of a resident active every 20 minutes, with heartbeats (the
    # guardian's stage is 12 h; 13 h fast made every live message look 13 h old).
    for _ in range(12 * 3):
        hub.beat()
        hub.send("activity", source="voice")
        hub.now += timedelta(minutes=20)
        hub.core.run_due(hub.now)

    assert hub.pages("inactivity") == [], "a resident sending activity was paged"
    assert [reason for reason, _ in hub.dead()] == [], "live messages were dead-lettered"
    assert len(hub.stored()) == 12 * 3 * (len(DEVICES) + 1)


@pytest.mark.parametrize("skew", [SLOW, FAST], ids=["hub-1h-slow", "hub-13h-fast"])
def test_a_silent_resident_is_still_paged_on_time(engine: Engine, skew: timedelta) -> None:
    hub = Hub(engine, skew)
    hub.beat()
    hub.send("activity", source="voice")
    # Only heartbeats from now on: devices alive, the resident silent.
    for _ in range(12 * 12 - 1):
        hub.now += timedelta(minutes=5)
        hub.beat()
        hub.core.run_due(hub.now)
    assert hub.pages("inactivity") == []
    for _ in range(3):
        hub.now += timedelta(minutes=5)
        hub.beat()
        hub.core.run_due(hub.now)

    assert ("guardian", "guardian") in hub.pages("inactivity"), "12 h of silence went unpaged"


@pytest.mark.parametrize("skew", [SLOW, FAST], ids=["hub-1h-slow", "hub-13h-fast"])
def test_buffered_activity_keeps_its_age_under_a_wrong_hub_clock(
    engine: Engine, skew: timedelta
) -> None:
    hub = Hub(engine, skew)
    hub.beat()
    # A phone cut off for 13 h replays what it kept: it says the resident was up then.
    body = {"v": 1, "id": "a-old", "ts": hub.device_ts(ago=timedelta(hours=13)), "source": "app"}
    hub.core.ingest([incoming("activity", body, "phone1")], hub.now)
    hub.core.run_due(hub.now)

    assert ("guardian", "guardian") in hub.pages("inactivity"), (
        "13-hour-old activity was taken as activity now"
    )


@pytest.mark.parametrize(
    ("skew", "ts", "reason"),
    [
        # A live emergency 1 h ahead of the hub, before any heartbeat told the hub so.
        (SLOW, None, "future_ts"),
        (FAST, "0001-01-01T00:00:00+14:00", "ts_too_old"),
        (timedelta(0), "9999-12-31T23:59:59-14:00", "future_ts"),
        (timedelta(0), "2026-09-23T10:00:00", "invalid_payload"),  # no offset
    ],
)
def test_an_emergency_from_any_time_is_paged_now_and_its_time_kept(
    engine: Engine, skew: timedelta, ts: str | None, reason: str
) -> None:
    hub = Hub(engine, skew, warm=False)  # before any heartbeat told the hub its skew
    body = {"v": 1, "id": "e-1", "ts": ts or hub.device_ts(), "trigger": "voice"}
    message = incoming("emergency", body)

    hub.core.ingest([message], hub.now)
    hub.core.ingest([message], hub.now + timedelta(seconds=30))  # the broker redelivers it

    pages = hub.pages("emergency")
    assert ("control_center", "open") in pages
    assert ("guardian", "open") in pages
    assert len(pages) == len(set(pages)), "paged twice"
    assert hub.stored() == ["e-1"]
    [(dead_reason, detail)] = hub.dead()
    assert dead_reason == reason
    assert "paged all the same" in detail
    with engine.connect() as conn:
        row = conn.execute(
            select(events.c.ts, events.c.payload).where(events.c.event_id == "e-1")
        ).one()
    assert row.ts == hub.now, "taken at its arrival"
    assert json.loads(row.payload)["ts"] == body["ts"], "the device's own time is kept"
