"""The hub's own check-in commands are not mistaken for a device publishing on a hub topic."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from alerts.clock import FakeClock
from hub.store.tables import dead_letters, outbox
from tests.hub.support import DEFAULT_TEST_START, wait_until


def test_hub_does_not_dead_letter_its_own_commands(start_hub: Any) -> None:
    running = start_hub(clock=FakeClock(DEFAULT_TEST_START))
    running.resident("r1", policy={"checkin_after": "PT1S", "guardian_after": "PT30S"})
    wait_until(
        lambda: (
            running.http.get("/api/v1/notifications", params={"resident": "r1"}).status_code == 200
        )
    )
    # Past the check-in's time: the command has gone out and the broker has acknowledged it.
    running.run_until(DEFAULT_TEST_START + timedelta(seconds=1.5))
    with running.hub.engine.connect() as conn:
        sent = conn.execute(
            select(outbox.c.recipient)
            .where(outbox.c.channel == "mqtt")
            .where(outbox.c.state == "sent")
        ).scalars()
        assert "anbu/v1/r1/spk1/cmd" in set(sent)
    # The broker handed the hub its own command before anything published after it: once a
    # device's later message is stored, the hub has been through its command too.
    device = running.device("r1", "spk1")
    running.taken(device)
    device.close()
    with running.hub.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(dead_letters)).scalar_one()
    assert count == 0
