"""Fixtures that run a real hub in-process against a real broker and database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from alerts.clock import Clock, FakeClock
from hub.runtime import Hub
from hub.settings import Settings
from hub.store import outbox as outbox_rows
from hub.store.db import migrate, open_engine
from hub.store.tables import events, outbox
from tests.conftest import free_port
from tests.hub.support import (
    ADMIN_TOKEN,
    DEFAULT_TEST_START,
    Device,
    OffsetClock,
    wait_until,
)


class RunningHub:
    """A started hub plus what tests need to reach it."""

    def __init__(self, hub: Hub, sms_log: Path, mqtt_url: str) -> None:
        self.hub = hub
        self.sms_log = sms_log
        self.mqtt_url = mqtt_url
        self.clock = hub.clock
        self.base = f"http://{hub.settings.http}"
        self.http = httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
        )

    def resident(
        self,
        resident_id: str,
        devices: dict[str, str] | None = None,
        policy: dict[str, Any] | None = None,
        guardians: int = 1,
        official: bool = True,
    ) -> None:
        body: dict[str, Any] = {"id": resident_id, "name": "김영희", "district": "유성구"}
        if policy:
            body["policy"] = policy
        response = self.http.post("/api/v1/residents", json=body)
        assert response.status_code == 201, response.text
        for device, kind in (devices or {"spk1": "speaker"}).items():
            response = self.http.post(
                f"/api/v1/residents/{resident_id}/devices", json={"id": device, "kind": kind}
            )
            assert response.status_code == 201, response.text
        for index in range(guardians):
            self.contact(resident_id, "guardian", f"+8210000000{index:02d}")
        if official:
            self.contact(resident_id, "official", "+821099990000")

    def device(self, resident_id: str, device_id: str) -> Device:
        """A test device on this hub's broker, stamping this hub's clock."""
        return Device(self.mqtt_url, resident_id, device_id, clock=self.clock.now)

    # -- deciding what has (not) happened, without sleeping ---------------------------------

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until the hub has done all that is due by its clock's now, and sent it.

        Two calls through the ingest worker: it fires every due step before it takes the
        next call, so the second returns only once all that is due by now has fired (the
        first may be answered before). Then until the dispatcher has nothing due left and
        nothing in the middle of sending. After this, "nobody was paged" is decided: what
        the hub would have sent by now, it has sent.
        """
        self.hub.call(lambda _now: None)
        self.hub.call(lambda _now: None)
        wait_until(self._dispatched, timeout)

    def _dispatched(self) -> bool:
        now = self.clock.now()
        with self.hub.engine.connect() as conn:
            due = outbox_rows.due(conn, now, 1)
            sending = conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.state == "sending")
            ).scalar_one()
        return not due and sending == 0

    def taken(self, device: Device, timeout: float = 10.0) -> str:
        """Wait until the hub has ingested everything ``device`` has published so far.

        A heartbeat sent now on the device's connection is the marker: QoS 1 messages of one
        client reach the hub in order and its one worker ingests them in order, so once the
        heartbeat is stored, all before it have been taken. Returns the marker's event id.
        """
        marker = device.send("heartbeat", interval_s=3600)

        def stored() -> bool:
            with self.hub.engine.connect() as conn:
                found = conn.execute(
                    select(events.c.event_id)
                    .where(events.c.resident_id == device.resident)
                    .where(events.c.device_id == device.device)
                    .where(events.c.event_id == marker)
                ).first()
            return found is not None

        wait_until(stored, timeout)
        return marker

    def run_until(self, until: datetime) -> None:
        """Step a :class:`FakeClock` hub through every due time up to ``until``, as
        ``tests/hub/test_core_virtual_time.py``'s harness steps a bare core: the clock is set
        to each due time in turn and the hub settled there, so every step fires, and is sent,
        at exactly its due time (an SMS's ``ts`` is its step's due time)."""
        clock = self.clock
        assert isinstance(clock, FakeClock), "run_until needs a hub started on a FakeClock"
        while True:
            due = self.hub.call(lambda _now: self.hub.core.next_due())
            if due is None or due > until:
                break
            clock.set(max(due, clock.now()))
            self.settle()
        clock.set(until)
        self.settle()

    def contact(self, resident_id: str, role: str, phone: str) -> None:
        response = self.http.post(
            f"/api/v1/residents/{resident_id}/contacts",
            json={"role": role, "name": "담당자", "phone": phone},
        )
        assert response.status_code == 201, response.text


@pytest.fixture
def start_hub(mosquitto: Any, db_url: str, tmp_path: Path) -> Iterator[Callable[..., RunningHub]]:
    started: list[RunningHub] = []

    def start(clock: Clock | None = None, **overrides: Any) -> RunningHub:
        sms_log = tmp_path / "sms.jsonl"
        values: dict[str, Any] = {
            "mqtt_url": mosquitto.url,
            "db_url": db_url,
            "http": f"127.0.0.1:{free_port()}",
            "admin_token": SecretStr(ADMIN_TOKEN),
            "sms": f"log:{sms_log}",
            "control_center_phones": ["+8220000000"],
            "supervisor_phones": ["+8220000001"],
            "mqtt_client_id": f"anbu-hub-test-{len(started)}",
            # The tests' districts are 대전's (유성구, 동구, 서구): a shared name means its one.
            "sido": "대전광역시",
        }
        settings = Settings(**{**values, **overrides})
        hub = Hub(settings, clock=clock or OffsetClock(DEFAULT_TEST_START)).start()
        assert hub.wait_ready(15), "hub did not connect to the broker"
        running = RunningHub(hub, sms_log, mosquitto.url)
        started.append(running)
        return running

    yield start
    for running in started:
        running.http.close()
        running.hub.stop()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated database of each supported kind, disposed afterwards."""
    made = open_engine(db_url)
    migrate(made)
    yield made
    made.dispose()
