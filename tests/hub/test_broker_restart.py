"""A broker restart in the middle of traffic: the hub reconnects and every event lands once."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select

from hub.store.tables import events
from tests.hub.support import wait_until

EVENTS = 300


def _stored(running: Any) -> int:
    with running.hub.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def test_broker_restart_mid_stream_loses_and_duplicates_nothing(
    start_hub: Any, mosquitto: Any
) -> None:
    running = start_hub()
    running.resident("r1")
    device = running.device("r1", "spk1")
    sent = []
    for n in range(EVENTS):
        sent.append(device.activity(wait=False))
        if n == EVENTS // 2:
            wait_until(lambda: _stored(running) > 0, timeout=10)
            mosquitto.restart()
    wait_until(lambda: _stored(running) >= EVENTS, timeout=60, interval=0.2)
    time.sleep(0.5)
    assert _stored(running) == EVENTS
    with running.hub.engine.connect() as conn:
        ids = {row.event_id for row in conn.execute(select(events.c.event_id))}
    assert ids == set(sent)
    assert running.hub.health()["mqtt"] is True
    device.close()
