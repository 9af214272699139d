"""The hub's own check-in commands are not mistaken for a device publishing on a hub topic."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select

from hub.store.tables import dead_letters
from tests.hub.support import wait_until


def test_hub_does_not_dead_letter_its_own_commands(start_hub: Any) -> None:
    running = start_hub()
    running.resident("r1", policy={"checkin_after": "PT1S", "guardian_after": "PT30S"})
    wait_until(
        lambda: (
            running.http.get("/api/v1/notifications", params={"resident": "r1"}).status_code == 200
        )
    )
    time.sleep(2.5)  # the check-in command went out at 1 s
    with running.hub.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(dead_letters)).scalar_one()
    assert count == 0
