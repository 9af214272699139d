"""The real-time fleet against a running hub: every acknowledged message is stored once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from alerts.clock import SystemClock
from hub.store.tables import events
from simulators.realtime import FleetFigures, household_ids, register, run_fleet
from tests.hub.conftest import start_hub  # noqa: F401 - the fixture
from tests.hub.support import ADMIN_TOKEN, wait_until


def test_fleet_of_clients_is_stored_by_the_hub(start_hub: Any) -> None:  # noqa: F811
    running = start_hub()
    residents = household_ids(40)
    assert register(running.base, ADMIN_TOKEN, residents) == 40
    assert register(running.base, ADMIN_TOKEN, residents) == 0  # idempotent
    seen: list[FleetFigures] = []

    figures = run_fleet(
        running.mqtt_url,
        residents,
        rate=200,
        seconds=3,
        progress=seen.append,
        clock=running.clock,
    )

    assert figures.connected == 40
    assert figures.failed == 0
    assert figures.published >= 500
    assert figures.acknowledged == figures.published
    assert seen, "progress was never reported"

    def stored() -> int:
        with running.hub.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(events)).scalar_one())

    wait_until(lambda: stored() == figures.published, timeout=20)
    with running.hub.engine.connect() as conn:
        senders = conn.execute(select(func.count(func.distinct(events.c.resident_id)))).scalar()
    assert senders == 40


def test_anbu_simulate_with_options_only_runs_the_real_time_fleet(start_hub: Any) -> None:  # noqa: F811
    # The fleet runs in a child process on the machine's clock, so the hub does too.
    running = start_hub(clock=SystemClock())
    residents = household_ids(5)
    register(running.base, ADMIN_TOKEN, residents)
    script = Path(sys.executable).with_name("anbu")
    done = subprocess.run(
        [
            str(script),
            *("simulate", "--url", running.mqtt_url, "--households", "5"),
            *("--rate", "50", "--seconds", "1"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "connected 5/5" in done.stdout

    def senders() -> int:
        with running.hub.engine.connect() as conn:
            query = select(func.count(func.distinct(events.c.resident_id)))
            return int(conn.execute(query).scalar_one())

    wait_until(lambda: senders() == 5, timeout=20)
