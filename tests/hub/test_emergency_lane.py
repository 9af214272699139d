"""An emergency that arrives while a storm of due steps drains is stored before the storm is.

A real hub on a real broker: hundreds of residents all due at once (the clock moved past
their first check-in), then one resident's emergency. The worker fires the storm in slices
and serves its queue between them, so the emergency's rows reach the outbox while storm
residents are still to be decided: the outbox's own order (its ids) says so. Before the
lane the worker fired every due step before it read its queue again, and every storm row
came before the emergency's.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from alerts.clock import FakeClock
from hub.runtime import Hub
from hub.service import HubCore
from hub.settings import Settings
from hub.store.tables import outbox
from tests.hub.support import KST, Device, wait_until

pytestmark = pytest.mark.serial

# A Tuesday morning: the first due step of everyone registered now is the evening check-in.
START = datetime(2026, 9, 22, 10, 0, tzinfo=KST)
STORM = 600


def _register(core: HubCore, resident_ids: list[str], now: datetime) -> None:
    for resident in resident_ids:
        core.register_resident({"id": resident, "name": "김영희", "district": "유성구"}, now)
        core.register_device(resident, "spk", "speaker", now)
        core.add_contact(resident, "guardian", "보호자", "+821011112222", now)


@pytest.fixture
def hub(mosquitto: Any, tmp_path: Path) -> Iterator[Hub]:
    settings = Settings(
        mqtt_url=mosquitto.url,
        db_url=f"sqlite:///{tmp_path / 'anbu.db'}",
        admin_token=None,
        sms=f"log:{tmp_path / 'sms.jsonl'}",
        control_center_phones=["+8220000000"],
        mqtt_client_id="anbu-hub-lane-test",
        sido="대전광역시",
    )
    started = Hub(settings, serve_http=False, clock=FakeClock(START)).start()
    try:
        assert started.wait_ready(15), "hub did not connect to the broker"
        yield started
    finally:
        started.stop()


def test_an_emergency_queued_behind_a_storm_is_stored_before_the_storm_is_done(
    hub: Hub, mosquitto: Any
) -> None:
    storm = [f"s{i:03d}" for i in range(STORM)]
    for start in range(0, STORM, 100):
        hub.call(partial(_register, hub.core, storm[start : start + 100]))
    hub.call(partial(_register, hub.core, ["alarm"]))
    due = hub.core.due_of([*storm, "alarm"])
    storm_at = max(when for when in due.values() if when is not None) + timedelta(seconds=1)
    device = Device(mosquitto.url, "alarm", "spk", clock=hub.clock.now)
    try:
        clock = hub.clock
        assert isinstance(clock, FakeClock)
        clock.set(storm_at)
        hub.call(lambda _now: None)  # the worker is awake: its next look finds the storm
        device.emergency()

        def emergency_rows() -> list[int]:
            with hub.engine.connect() as conn:
                return list(
                    conn.execute(
                        select(outbox.c.id).where(
                            outbox.c.resident_id == "alarm",
                            outbox.c.kind == "emergency",
                            outbox.c.channel == "sms",
                        )
                    ).scalars()
                )

        rows = wait_until(lambda: len(emergency_rows()) >= 2, timeout=30)
        assert rows
        paged_at = max(emergency_rows())

        def storm_done() -> bool:
            following = hub.core.next_due()
            return following is None or following > storm_at

        assert wait_until(storm_done, timeout=60)
        with hub.engine.connect() as conn:
            per_resident: dict[str, int] = dict(
                conn.execute(
                    select(outbox.c.resident_id, func.count())
                    .where(outbox.c.resident_id.in_(storm), outbox.c.channel == "mqtt")
                    .group_by(outbox.c.resident_id)
                ).all()
            )
            after = conn.execute(
                select(func.count()).where(outbox.c.resident_id.in_(storm), outbox.c.id > paged_at)
            ).scalar_one()
    finally:
        device.close()
    # Every storm resident got its check-in, once; and many of them only after the
    # emergency's pages were in.
    assert per_resident == dict.fromkeys(storm, 1)
    assert after > 0, "the emergency waited for the whole storm"
