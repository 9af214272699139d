"""A real ``anbu hub`` whose wall clock is stepped while it runs (libfaketime reading its
offset from a file the test rewrites): 13 h forward, then an hour back, while residents on
the right clock send activity. No guardian is paged, nothing live is dead-lettered, an
emergency sent after the steps is paged, and ``/health`` reports the step it holds.

Before ``hub/steady_clock.py`` the hub took the step at once: every resident looked 13 h
silent and every guardian was paged within seconds.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.hub.faketime_support import (
    RESIDENTS,
    FakedHub,
    dead_letter_counts,
    hub_clock,
    hub_env,
    libfaketime,
    register,
)
from tests.hub.support import Device, read_sms, wait_until

# Real time is part of what this checks (a heartbeat counts for the hub's clock only when it
# came live): it runs alone, after the parallel part (scripts/test.sh); under the parallel
# part's load a heartbeat delayed in the queue read as not live (one future_ts too many).
pytestmark = pytest.mark.serial

SENDING_S = 36.0
STEPS = {6.0: "+13h", 18.0: "+12h"}  # seconds into the run: the wall clock's new offset


def suite_now() -> datetime:
    return datetime.now(UTC)


def test_a_step_of_the_hub_clock_while_it_runs_pages_no_guardian(
    mosquitto: Any, db_url: str, tmp_path: Path
) -> None:
    if shutil.which("faketime") is None or libfaketime() is None:
        pytest.fail(
            "libfaketime is missing; ./scripts/test.sh installs it (apt-get install -y faketime)",
            pytrace=False,
        )
    sms = tmp_path / "sms.jsonl"
    offset_file = tmp_path / "faketime"
    env = hub_env(mosquitto.url, db_url, sms)
    hub = FakedHub(env, "+0", tmp_path / "hub.log", offset_file=offset_file)
    devices: list[Device] = []
    try:
        register(hub.base)
        devices = [Device(mosquitto.url, f"r{i}", "spk", clock=suite_now) for i in range(RESIDENTS)]
        warm = dead_letter_counts(hub.base)
        steps = dict(STEPS)
        started = time.monotonic()
        rounds = 0
        while time.monotonic() - started < SENDING_S:
            elapsed = time.monotonic() - started
            for at in [at for at in steps if at <= elapsed]:
                offset_file.write_text(steps.pop(at))
            for device in devices:
                device.activity(wait=False)
                if rounds % 3 == 0:
                    device.send("heartbeat", wait=False, interval_s=300)
            rounds += 1
            # The pace of the residents' activity; nothing is asserted on it.
            time.sleep(2)
        assert not steps, "every step was made"
        # 30 s after the first step, with guardian_after 20 s: a hub that took the step
        # would have paged every guardian by now.
        inactivity = [line for line in read_sms(sms) if line["kind"] == "inactivity"]
        assert inactivity == [], f"guardians paged for a step of the hub's clock: {inactivity}"
        wait_until(lambda: hub_clock(hub.base).get("steps") == len(STEPS), timeout=10)
        devices[0].emergency(wait=False)
        wait_until(lambda: all(device.published() for device in devices), timeout=10)

        def emergency_paged() -> bool:
            roles = {line["role"] for line in read_sms(sms) if line["kind"] == "emergency"}
            return {"guardian", "control_center"} <= roles

        wait_until(emergency_paged, timeout=15)
        inactivity = [line for line in read_sms(sms) if line["kind"] == "inactivity"]
        assert inactivity == [], f"guardians paged for a step of the hub's clock: {inactivity}"
        dead = dead_letter_counts(hub.base)
        for reason in ("future_ts", "ts_too_old"):
            assert dead.get(reason, 0) == warm.get(reason, 0), (warm, dead)

        health = httpx.get(f"{hub.base}/health", timeout=5)
        clock = health.json()["clock"]
        assert clock["steps"] == len(STEPS)
        assert abs(clock["held_s"] + 12 * 3600) < 60, clock
        assert abs((datetime.fromisoformat(clock["hub_time"]) - suite_now()).total_seconds()) < 60
        assert health.status_code == 503
        assert "clock_step" in health.json()["problems"]
    finally:
        for device in devices:
            device.close()
        hub.stop()
