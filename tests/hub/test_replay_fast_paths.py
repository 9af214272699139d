"""The replay's fast paths through the hub's own ingest store and decide what the slow ones do.

A replay parses each trace line once and hands the result to ingest (``Intake.ingest(parsed=)``),
and event rows go to SQLite straight through its driver; both must leave the tables as the
general paths would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from alerts.calendar import WorkingCalendar
from alerts.engine import Escalation
from hub.mqtt import Incoming
from hub.service import HubCore
from hub.settings import Settings
from hub.store.db import migrate, open_engine
from hub.store.events import add_events
from hub.store.tables import dead_letters, events
from protocol import Rejection, parse
from tests.hub.support import KST

START = datetime(2026, 9, 21, 9, 0, tzinfo=KST)


def activity(message_id: str, at: datetime) -> Incoming:
    body = {"v": 1, "id": message_id, "ts": at.isoformat(), "source": "voice"}
    return Incoming(
        topic="anbu/v1/r1/spk1/activity",
        payload=json.dumps(body).encode(),
        mid=1,
        qos=1,
        retain=False,
        generation=1,
        received_at=at,
    )


@pytest.fixture
def hub(db_url: str) -> Iterator[HubCore]:
    engine = open_engine(db_url)
    migrate(engine)
    core = HubCore(engine, Escalation(WorkingCalendar()), Settings())
    core.register_resident({"id": "r1", "name": "김영희", "district": "유성구"}, START)
    core.register_device("r1", "spk1", "speaker", START)
    yield core
    engine.dispose()


def counts(core: HubCore) -> tuple[int, int]:
    with core.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(events)).scalar_one()
        dead = conn.execute(select(func.count()).select_from(dead_letters)).scalar_one()
    return int(stored), int(dead)


def test_ingest_takes_what_the_replay_parsed_only_while_the_devices_clock_agrees(
    hub: HubCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = activity("a1", START), activity("a2", START + timedelta(minutes=1))
    parsed = [parse(m.topic, m.payload, now=m.received_at) for m in (first, second)]
    hub._intake.ingest([first, second], START + timedelta(minutes=1), parsed=parsed)
    assert counts(hub) == (2, 0)
    state = hub.state_of("r1")
    assert state is not None
    assert state.last_activity_at == START + timedelta(minutes=1)

    # A stand-in for the parse, so the test sees which one ingest used.
    refused = [Rejection("invalid_payload", "stand-in")]
    third = activity("a3", START + timedelta(minutes=2))
    hub._intake.ingest([third], START + timedelta(minutes=2), parsed=refused)
    assert counts(hub) == (2, 1)  # taken as handed in

    # With the hub's clock away from its devices', ingest judges at another time: it parses
    # again rather than take a parse made at the delivery time.
    monkeypatch.setattr(hub.device_clocks, "shift", lambda: timedelta(minutes=1))
    fourth = activity("a4", START + timedelta(minutes=3))
    hub._intake.ingest([fourth], START + timedelta(minutes=3), parsed=refused)
    assert counts(hub) == (3, 1)


def test_event_rows_on_sqlite_are_stored_as_the_insert_statement_stores_them(
    tmp_path: Path,
) -> None:
    rows: list[dict[str, Any]] = [
        {
            "seq": n,
            "resident_id": "r1",
            "device_id": "spk1",
            "event_id": f"a{n}",
            "kind": "activity",
            "ts": START + timedelta(seconds=n),
            "received_at": START + timedelta(seconds=n, microseconds=250 * n),
            "payload": '{"v": 1}',
        }
        for n in range(3)
    ]
    stored = []
    for name, write in (
        ("fast", lambda conn: add_events(conn, rows)),
        ("statement", lambda conn: conn.execute(insert(events), rows)),
    ):
        engine = open_engine(f"sqlite:///{tmp_path / name}.db")
        migrate(engine)
        with engine.begin() as conn:
            write(conn)
        with engine.connect() as conn:
            # The text SQLite keeps: times compare as text, so the form must be the same.
            stored.append(conn.exec_driver_sql("SELECT * FROM events ORDER BY seq").all())
        engine.dispose()
    assert stored[0] == stored[1]
    assert len(stored[0]) == 3
    assert stored[0][0][4].endswith(".000000")
