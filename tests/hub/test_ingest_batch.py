"""Batched ingest on a real database: the dedup look-up and the one-statement state save.

Both take per-backend fast paths, so they are checked on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from alerts.calendar import WorkingCalendar
from alerts.engine import Decision, Escalation
from alerts.inputs import Input
from alerts.state import ResidentState
from hub.mqtt import Incoming
from hub.service import HubCore
from hub.settings import Settings
from hub.store.db import migrate, open_engine
from hub.store.tables import events, resident_state
from tests.hub.support import KST

START = datetime(2026, 9, 21, 9, 0, tzinfo=KST)


class CountingEscalation(Escalation):
    def __init__(self) -> None:
        super().__init__(WorkingCalendar())
        self.calls = 0

    def decide(self, state: ResidentState, event: Input, now: datetime) -> Decision:
        self.calls += 1
        return super().decide(state, event, now)


def activity(resident: str, message_id: str, at: datetime) -> Incoming:
    body = {"v": 1, "id": message_id, "ts": at.isoformat(), "source": "voice"}
    return Incoming(
        topic=f"anbu/v1/{resident}/spk1/activity",
        payload=json.dumps(body).encode(),
        mid=1,
        qos=1,
        retain=False,
        generation=1,
    )


@pytest.fixture
def core(db_url: str) -> Iterator[tuple[HubCore, CountingEscalation, Any]]:
    engine = open_engine(db_url)
    migrate(engine)
    escalation = CountingEscalation()
    hub = HubCore(engine, escalation, Settings())
    for resident in ("r1", "r2"):
        hub.register_resident({"id": resident, "name": "김영희", "district": "유성구"}, START)
        hub.register_device(resident, "spk1", "speaker", START)
    yield hub, escalation, engine
    engine.dispose()


def stored(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def test_redelivered_events_across_lookup_chunks_are_neither_stored_nor_decided(
    core: tuple[HubCore, CountingEscalation, Any],
) -> None:
    hub, escalation, engine = core
    first = [activity(f"r{1 + i % 2}", f"a{i}", START + timedelta(seconds=i)) for i in range(350)]
    hub.ingest(first, START + timedelta(minutes=10))
    assert stored(engine) == 350

    fresh = [activity("r1", f"b{i}", START + timedelta(minutes=15, seconds=i)) for i in range(10)]
    # Redeliveries (more than one look-up chunk of them), a repeat inside the batch, new ones.
    batch = first + fresh + fresh[:1]
    escalation.calls = 0
    hub.ingest(batch, START + timedelta(minutes=20))

    assert stored(engine) == 360
    assert escalation.calls == 10
    state = hub.state_of("r1")
    assert state is not None
    assert state.last_activity_at == START + timedelta(minutes=15, seconds=9)


def test_a_missing_state_row_is_written_again(
    core: tuple[HubCore, CountingEscalation, Any],
) -> None:
    hub, _, engine = core
    hub.ingest([activity("r1", "a1", START)], START)  # r1's state is now cached
    with engine.begin() as conn:
        conn.execute(delete(resident_state).where(resident_state.c.resident_id == "r1"))

    at = START + timedelta(minutes=1)
    hub.ingest([activity("r1", "a2", at), activity("r2", "a3", at)], at)

    with engine.connect() as conn:
        rows = dict(
            conn.execute(
                select(resident_state.c.resident_id, resident_state.c.last_activity_at)
            ).all()
        )
    assert rows == {"r1": at, "r2": at}
