"""A real ``anbu hub`` under libfaketime, its clock 1 h slow or 13 h fast, while residents on
the right clock send activity and one emergency: the emergency is paged, no guardian is
paged for inactivity, nothing live is dead-lettered, and ``/health`` reports the skew.
(A step of the clock while the hub runs: ``tests/hub/test_clock_step.py``.)

The test command installs Debian's ``faketime`` (``scripts/test.sh``). The hub runs inside the
suite's moved clock (``tests/clockguard``) with libfaketime's offset on top; its devices run
in pytest, on the suite's clock. ``tests/hub/faketime_site`` says what libfaketime needs to
leave Python's waits alone.
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
    register,
)
from tests.hub.support import Device, read_sms, wait_until

# Real time is part of what this checks (a heartbeat counts for the hub's clock only when it
# came live): it runs alone, after the parallel part (scripts/test.sh); under the parallel
# part's load a heartbeat delayed in the queue read as not live (one future_ts too many).
pytestmark = pytest.mark.serial

SENDING_S = 30.0


def suite_now() -> datetime:
    """The devices' clock: the suite's (moved like every Python process of the run)."""
    return datetime.now(UTC)


@pytest.mark.parametrize(
    ("offset", "skew_s"), [("-1h", -3600), ("+13h", 13 * 3600)], ids=["1h-back", "13h-forward"]
)
def test_a_hub_clock_moved_pages_the_emergency_and_no_guardian(
    mosquitto: Any, db_url: str, tmp_path: Path, offset: str, skew_s: int
) -> None:
    if shutil.which("faketime") is None:
        pytest.fail(
            "faketime is missing; ./scripts/test.sh installs it (apt-get install -y faketime)",
            pytrace=False,
        )
    sms = tmp_path / "sms.jsonl"
    env = hub_env(mosquitto.url, db_url, sms)
    hub = FakedHub(env, offset, tmp_path / "hub.log")
    devices: list[Device] = []
    try:
        register(hub.base)
        devices = [Device(mosquitto.url, f"r{i}", "spk", clock=suite_now) for i in range(RESIDENTS)]
        for device in devices:  # an edge agent's first heartbeat goes out as it connects
            device.send("heartbeat", interval_s=300)
        # A heartbeat tells the hub its clock only when it came live (its gap to the
        # device's previous one the same by both clocks), from at least three devices: the
        # first ones, judged before that, are not what this test looks at.
        time.sleep(1)  # the gap between an agent's first two heartbeats; nothing asserted on it
        for device in devices:
            device.send("heartbeat", interval_s=300)
        wait_until(lambda: hub_clock(hub.base)["source"] == "devices", timeout=15)
        warm = dead_letter_counts(hub.base)
        emergency_sent = False
        started = time.monotonic()
        rounds = 0
        while time.monotonic() - started < SENDING_S:
            for device in devices:
                device.activity(wait=False)
                if rounds % 3 == 0:
                    device.send("heartbeat", wait=False, interval_s=300)
            if not emergency_sent and time.monotonic() - started > SENDING_S / 3:
                devices[0].emergency(wait=False)
                emergency_sent = True
            rounds += 1
            # The pace of the residents' activity; nothing is asserted on it.
            time.sleep(2)
        wait_until(lambda: all(device.published() for device in devices), timeout=10)

        def emergency_paged() -> bool:
            roles = {line["role"] for line in read_sms(sms) if line["kind"] == "emergency"}
            return {"guardian", "control_center"} <= roles

        wait_until(emergency_paged, timeout=15)
        inactivity = [line for line in read_sms(sms) if line["kind"] == "inactivity"]
        assert inactivity == [], f"guardians paged although residents were active: {inactivity}"
        dead = dead_letter_counts(hub.base)
        assert dead.get("future_ts", 0) == warm.get("future_ts", 0), (warm, dead)
        assert dead.get("ts_too_old", 0) == warm.get("ts_too_old", 0), (warm, dead)

        health = httpx.get(f"{hub.base}/health", timeout=5)
        clock = health.json()["clock"]
        hub_now = datetime.fromisoformat(clock["hub_time"])
        assert abs((hub_now - suite_now()).total_seconds() - skew_s) < 60, "faketime moved it"
        assert clock["source"] == "devices"
        assert abs(clock["skew_s"] - skew_s) < 60, clock
        assert health.status_code == 503
        assert "clock_skew" in health.json()["problems"]
    finally:
        for device in devices:
            device.close()
        hub.stop()
