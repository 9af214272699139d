"""A real ``anbu hub`` as a child process under libfaketime, for the clock tests.

``tests/hub/faketime_site`` says what libfaketime needs to leave Python's waits alone. The
offset is fixed (``faketime -f``) or read from a file the test may rewrite while the hub
runs (``FAKETIME_TIMESTAMP_FILE``): a step of the hub's wall clock, its boot-time and
monotonic clocks left real (``FAKETIME_DONT_FAKE_MONOTONIC``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.hub.support import ADMIN_TOKEN, wait_until

RESIDENTS = 4
POLICY = {"checkin_after": "PT10S", "guardian_after": "PT20S", "control_center_after": "PT40S"}
REPO = Path(__file__).resolve().parents[2]
LIBFAKETIME = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
)


def hub_env(mosquitto_url: str, db_url: str, sms: Path) -> dict[str, str]:
    """The environment of a faked hub: this run's broker and database, a `log:` SMS file."""
    from tests.conftest import free_port

    env = dict(os.environ)
    env.update(
        ANBU_MQTT_URL=mosquitto_url,
        ANBU_DB_URL=db_url,
        ANBU_HTTP=f"127.0.0.1:{free_port()}",
        ANBU_ADMIN_TOKEN=ADMIN_TOKEN,
        ANBU_SMS=f"log:{sms}",
        ANBU_CONTROL_CENTER_PHONES='["+8220000000"]',
        ANBU_SIDO="대전광역시",
    )
    return env


def libfaketime() -> str | None:
    """Debian's libfaketime, where the package put it for this architecture."""
    return next((path for path in LIBFAKETIME if Path(path).exists()), None)


class FakedHub:
    """``anbu hub`` as a child process under ``faketime -f OFFSET``."""

    def __init__(
        self, env: dict[str, str], offset: str, log: Path, *, offset_file: Path | None = None
    ) -> None:
        self.base = f"http://{env['ANBU_HTTP']}"
        self.log = log
        faketime = shutil.which("faketime")
        assert faketime is not None
        command = [faketime, "-f", offset, sys.executable, "-m", "hub", "hub"]
        if offset_file is not None:  # read again each second: the test may step it
            library = libfaketime()
            assert library is not None, "libfaketime.so.1 not found"
            offset_file.write_text(offset)
            command = [sys.executable, "-m", "hub", "hub"]
            env = {
                **env,
                "LD_PRELOAD": library,
                "FAKETIME_TIMESTAMP_FILE": str(offset_file),
                "FAKETIME_CACHE_DURATION": "1",
            }
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
            command,
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


def register(base: str) -> None:
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


def hub_clock(base: str) -> dict[str, Any]:
    clock: dict[str, Any] = httpx.get(f"{base}/health", timeout=5).json()["clock"]
    return clock


def dead_letter_counts(base: str) -> dict[str, int]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    body = httpx.get(f"{base}/api/v1/dead-letters", headers=headers, timeout=10).json()
    counts: dict[str, int] = body.get("counts", {}) if isinstance(body, dict) else {}
    return counts
