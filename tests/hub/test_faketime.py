"""A real ``anbu hub`` under libfaketime, its clock 1 h slow or 13 h fast, while residents on
the right clock send activity and one emergency: the emergency is paged, no guardian is
paged for inactivity, nothing live is dead-lettered, and ``/health`` reports the skew.

The test command installs Debian's ``faketime`` (``scripts/test.sh``). The hub runs inside the
suite's moved clock (``tests/clockguard``) with libfaketime's offset on top; its devices run
in pytest, on the suite's clock. ``tests/hub/faketime_site`` says what libfaketime needs to
leave Python's waits alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.hub.support import ADMIN_TOKEN, Device, read_sms, wait_until

RESIDENTS = 4
SENDING_S = 30.0
POLICY = {"checkin_after": "PT10S", "guardian_after": "PT20S", "control_center_after": "PT40S"}
REPO = Path(__file__).resolve().parents[2]


def suite_now() -> datetime:
    """The devices' clock: the suite's (moved like every Python process of the run)."""
    return datetime.now(UTC)


class FakedHub:
    """``anbu hub`` as a child process under ``faketime -f OFFSET``."""

    def __init__(self, env: dict[str, str], offset: str, log: Path) -> None:
        self.base = f"http://{env['ANBU_HTTP']}"
        self.log = log
        faketime = shutil.which("faketime")
        assert faketime is not None
        env = {
            **env,
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "ANBU_CLOCKGUARD_SITE": str(REPO / "tests" / "clockguard" / "sitecustomize.py"),
            "PYTHONPATH": os.pathsep.join(
                [str(REPO / "tests" / "hub" / "faketime_site"), str(REPO)]
            ),
        }
        handle = log.open("ab")
        self.proc = subprocess.Popen(
            [faketime, "-f", offset, sys.executable, "-m", "hub", "hub"],
            env=env,
            stdout=handle,
            stderr=handle,
            # faketime runs the hub as its child: a group of their own, so stop() ends both
            # (terminating faketime alone left the hub running after the test).
            start_new_session=True,
        )
        wait_until(self._up, timeout=30, interval=0.2)

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(self.log.read_text()[-3000:])
        try:
            return httpx.get(f"{self.base}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.base}/health", timeout=5).json()
        return body

    def stop(self) -> None:
        """End faketime and the hub under it: the whole process group this test started."""
        group = self.proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            # poll() reaps faketime (a zombie still counts as alive to killpg).
            wait_until(
                lambda: self.proc.poll() is not None and not _group_alive(group),
                # Under libfaketime the hub may not get round to its SIGTERM handler (its
                # waits are on the faked clock); a test hub has nothing to keep: killed then.
                timeout=3,
                interval=0.1,
            )
        except AssertionError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _register(base: str) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
        for index in range(RESIDENTS):
            resident = f"r{index}"
            body = {"id": resident, "name": "어르신", "district": "대전 동구", "policy": POLICY}
            assert http.post("/api/v1/residents", json=body).status_code == 201
            device = {"id": "spk", "kind": "speaker"}
            assert http.post(f"/api/v1/residents/{resident}/devices", json=device).status_code == (
                201
            )
            contact = {"role": "guardian", "name": "보호자", "phone": f"+82100000{index:04d}"}
            assert (
                http.post(f"/api/v1/residents/{resident}/contacts", json=contact).status_code == 201
            )


def _clock(base: str) -> dict[str, Any]:
    clock: dict[str, Any] = httpx.get(f"{base}/health", timeout=5).json()["clock"]
    return clock


def _dead_letters(base: str) -> dict[str, int]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    body = httpx.get(f"{base}/api/v1/dead-letters", headers=headers, timeout=10).json()
    counts: dict[str, int] = body.get("counts", {}) if isinstance(body, dict) else {}
    return counts


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
    env = dict(os.environ)
    env.update(
        ANBU_MQTT_URL=mosquitto.url,
        ANBU_DB_URL=db_url,
        ANBU_HTTP=f"127.0.0.1:{free_port()}",
        ANBU_ADMIN_TOKEN=ADMIN_TOKEN,
        ANBU_SMS=f"log:{sms}",
        ANBU_CONTROL_CENTER_PHONES='["+8220000000"]',
        ANBU_SIDO="대전광역시",
    )
    hub = FakedHub(env, offset, tmp_path / "hub.log")
    devices: list[Device] = []
    try:
        _register(hub.base)
        devices = [Device(mosquitto.url, f"r{i}", "spk", clock=suite_now) for i in range(RESIDENTS)]
        for device in devices:  # an edge agent's first heartbeat goes out as it connects
            device.send("heartbeat", interval_s=300)
        # A heartbeat tells the hub its clock only when it came live (its gap to the
        # device's previous one the same by both clocks), from at least three devices: the
        # first ones, judged before that, are not what this test looks at.
        time.sleep(1)  # the gap between an agent's first two heartbeats; nothing asserted on it
        for device in devices:
            device.send("heartbeat", interval_s=300)
        wait_until(lambda: _clock(hub.base)["source"] == "devices", timeout=15)
        warm = _dead_letters(hub.base)
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
        dead = _dead_letters(hub.base)
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
