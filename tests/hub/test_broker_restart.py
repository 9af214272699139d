"""A broker restart in the middle of traffic: the hub reconnects and every event lands once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from hub.store.tables import events
from tests.hub.support import wait_until

EVENTS = 300


def _stored(running: Any, but: str = "") -> int:
    """Events stored, but for the marker ``but`` (``running.taken``'s heartbeat)."""
    with running.hub.engine.connect() as conn:
        query = select(func.count()).select_from(events).where(events.c.event_id != but)
        return int(conn.execute(query).scalar_one())


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
    marker = running.taken(device)  # a re-sent copy, if any, came before it: all are in
    assert _stored(running, but=marker) == EVENTS
    with running.hub.engine.connect() as conn:
        query = select(events.c.event_id).where(events.c.event_id != marker)
        ids = {row.event_id for row in conn.execute(query)}
    assert ids == set(sent)
    assert running.hub.health()["mqtt"] is True
    device.close()
