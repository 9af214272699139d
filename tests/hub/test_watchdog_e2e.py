"""``anbu watchdog`` against a real hub, a real broker and the ``log:`` SMS provider.

The hub runs in-process (stopped and started again on the same database and port, as a
killed hub that its supervisor brings back); the watchdog runs as the ``anbu watchdog``
process, killed and started again to show that its state file keeps it from paging twice.
Bounds are short (down after 3 s, /health asked every 0.3 s) so the whole story takes a few
seconds; every wait is a deadline on a condition.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from hub.runtime import Hub
from hub.settings import Settings
from hub.watchdog import Watchdog
from hub.watchdog_settings import WatchdogSettings
from tests.conftest import free_port
from tests.hub.support import ADMIN_TOKEN, DEFAULT_TEST_START, OffsetClock, read_sms, wait_until

DOWN_AFTER_S = 3.0
PROBE_S = 0.3
CENTRE = "+8220000000"
SUPERVISOR = "+821020000001"


def _hub(mosquitto: Any, tmp_path: Path, port: int, run: int) -> Hub:
    settings = Settings(
        mqtt_url=mosquitto.url,
        db_url=f"sqlite:///{tmp_path / 'hub.db'}",
        http=f"127.0.0.1:{port}",
        admin_token=SecretStr(ADMIN_TOKEN),
        sms=SecretStr(f"log:{tmp_path / 'hub-sms.jsonl'}"),
        mqtt_client_id=f"anbu-hub-watchdog-{run}",
    )
    hub = Hub(settings, clock=OffsetClock(DEFAULT_TEST_START), heartbeat_s=0.3).start()
    assert hub.wait_ready(15), "hub did not come up"
    return hub


class WatchdogProcess:
    """``python -m hub watchdog`` with its settings in the environment, its log in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self._offset = 0

    def start(self) -> None:
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub", "watchdog", "--json-logs"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def events(self) -> list[str]:
        """The events this run has logged so far."""
        if not self.log.exists():
            return []
        with self.log.open("rb") as handle:
            handle.seek(self._offset)
            lines = handle.read().decode("utf-8", "replace").splitlines()
        found = []
        for line in lines:
            try:
                found.append(json.loads(line).get("event", ""))
            except ValueError:
                continue
        return found

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def watchdog_process(mosquitto: Any, tmp_path: Path) -> Iterator[WatchdogProcess]:
    port = free_port()
    env = {
        **os.environ,
        "ANBU_WATCHDOG_HUB_URL": f"http://127.0.0.1:{port}",
        "ANBU_WATCHDOG_MQTT_URL": mosquitto.url,
        "ANBU_WATCHDOG_DOWN_AFTER": str(DOWN_AFTER_S),
        "ANBU_WATCHDOG_PROBE_S": str(PROBE_S),
        "ANBU_WATCHDOG_PROBE_TIMEOUT_S": "1",
        "ANBU_WATCHDOG_SMS": f"log:{tmp_path / 'watchdog-sms.jsonl'}",
        "ANBU_WATCHDOG_CONTROL_CENTER_PHONES": json.dumps(["02-000-0000"]),
        "ANBU_WATCHDOG_SUPERVISOR_PHONES": json.dumps(["010-2000-0001"]),
        "ANBU_WATCHDOG_STATE_FILE": str(tmp_path / "watchdog-state.json"),
    }
    process = WatchdogProcess(env, tmp_path / "watchdog.log")
    process.port = port  # type: ignore[attr-defined]
    yield process
    process.stop()


def _pages(path: Path, kind: str) -> list[dict[str, Any]]:
    return [line for line in read_sms(path) if line["kind"] == f"watchdog_{kind}"]


@pytest.mark.serial
def test_hub_killed_paged_once_recovery_paged_once_restart_pages_nothing(
    mosquitto: Any, tmp_path: Path, watchdog_process: WatchdogProcess
) -> None:
    sms = tmp_path / "watchdog-sms.jsonl"
    port: int = watchdog_process.port  # type: ignore[attr-defined]
    hub = _hub(mosquitto, tmp_path, port, 1)
    try:
        watchdog_process.start()
        wait_until(lambda: "watchdog.hub_seen" in watchdog_process.events(), 15)
        assert read_sms(sms) == []

        killed_at = time.monotonic()
        hub.stop()
        bound = DOWN_AFTER_S + 2 * PROBE_S + 1.5
        wait_until(lambda: len(_pages(sms, "down")) == 2, bound)
        took = time.monotonic() - killed_at
        assert DOWN_AFTER_S - PROBE_S <= took <= bound, took
        down = _pages(sms, "down")
        assert {line["to"] for line in down} == {CENTRE, SUPERVISOR}
        assert {line["role"] for line in down} == {"control_center", "supervisor"}
        assert all("허브" in line["body"] and line["resident"] is None for line in down)

        # The watchdog killed during the outage and started again: it says it had paged
        # this one, and pages nothing more, not even once a down_after of its own watching
        # has passed (a duration, because what is checked is that nothing happens in it).
        watchdog_process.kill()
        watchdog_process.start()
        wait_until(lambda: "watchdog.down_already_paged" in watchdog_process.events(), 15)
        restarted = time.monotonic()
        wait_until(lambda: time.monotonic() - restarted > DOWN_AFTER_S + 2 * PROBE_S, 10)
        assert len(_pages(sms, "down")) == 2
        assert _pages(sms, "up") == []

        hub = _hub(mosquitto, tmp_path, port, 2)
        wait_until(lambda: len(_pages(sms, "up")) == 2, 5)
        up = _pages(sms, "up")
        assert {line["to"] for line in up} == {CENTRE, SUPERVISOR}
        assert all("정상" in line["body"] for line in up)

        # Restarted once more after the recovery: it sees the hub (logged once that tick's
        # decision is carried out) and pages nothing.
        watchdog_process.kill()
        watchdog_process.start()
        wait_until(lambda: "watchdog.hub_seen" in watchdog_process.events(), 15)
        assert len(_pages(sms, "down")) == 2
        assert len(_pages(sms, "up")) == 2
        log_text = watchdog_process.log.read_text(encoding="utf-8")
        for secret in ("0000000", "20000001", ADMIN_TOKEN):
            assert secret not in log_text
    finally:
        hub.stop()


@pytest.mark.serial
def test_the_hubs_heartbeat_alone_is_a_healthy_sighting(mosquitto: Any, tmp_path: Path) -> None:
    # No /health to ask (nothing listens at the hub URL): only the MQTT heartbeat is heard.
    hub = _hub(mosquitto, tmp_path, free_port(), 1)
    stop = threading.Event()
    try:
        settings = WatchdogSettings(
            hub_url=f"http://127.0.0.1:{free_port()}",
            mqtt_url=SecretStr(mosquitto.url),
            down_after=DOWN_AFTER_S,
            probe_s=PROBE_S,
            sms=SecretStr(f"log:{tmp_path / 'sms.jsonl'}"),
            control_center_phones=["02-000-0000"],
            state_file=tmp_path / "state.json",
        )
        watchdog = Watchdog(settings)
        runner = threading.Thread(target=watchdog.run, args=(stop,), daemon=True)
        runner.start()
        wait_until(lambda: watchdog.sightings.last_ok is not None, 10)
        hub.stop()
        # Silence from here on: paged once the bound has passed.
        wait_until(lambda: len(_pages(tmp_path / "sms.jsonl", "down")) == 1, DOWN_AFTER_S + 3)
        stop.set()
        runner.join(10)
    finally:
        stop.set()
        hub.stop()


@pytest.mark.serial
def test_a_hub_that_lost_its_broker_is_paged_and_so_is_its_recovery(
    mosquitto: Any, tmp_path: Path
) -> None:
    # The hub's HTTP answers all along, but its /health says degraded (mqtt false) while
    # the broker is down: that is no healthy sighting, so it is paged like a dead hub.
    port = free_port()
    hub = _hub(mosquitto, tmp_path, port, 1)
    sms = tmp_path / "sms.jsonl"
    stop = threading.Event()
    try:
        settings = WatchdogSettings(
            hub_url=f"http://127.0.0.1:{port}",
            mqtt_url=SecretStr(mosquitto.url),
            down_after=DOWN_AFTER_S,
            probe_s=PROBE_S,
            sms=SecretStr(f"log:{sms}"),
            supervisor_phones=["010-2000-0001"],
            state_file=tmp_path / "state.json",
        )
        watchdog = Watchdog(settings)
        runner = threading.Thread(target=watchdog.run, args=(stop,), daemon=True)
        runner.start()
        wait_until(lambda: watchdog.sightings.last_ok is not None, 10)
        mosquitto.stop()
        wait_until(lambda: len(_pages(sms, "down")) == 1, DOWN_AFTER_S + 3)
        assert _pages(sms, "down")[0]["to"] == SUPERVISOR
        mosquitto.start()
        # The hub's bridge retries with a backoff of up to 10 s.
        wait_until(lambda: len(_pages(sms, "up")) == 1, 20)
        assert len(_pages(sms, "down")) == 1
        stop.set()
        runner.join(10)
    finally:
        stop.set()
        hub.stop()
