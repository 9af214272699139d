"""Nothing lost, nothing paged twice: SIGKILL mid-stream, and bad input mixed into good."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select

from hub.store.tables import dead_letters, events, outbox
from tests.conftest import free_port
from tests.hub.support import ADMIN_TOKEN, KST, Device, read_sms, wait_until

RESIDENTS = 10
EVENTS = 1000


def machine_now() -> datetime:
    """The hub runs in a child process on the machine's clock, so its devices do too."""
    return datetime.now(UTC)


class HubProcess:
    """``anbu hub`` as a child process, so it can be killed for real."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = f"http://{env['ANBU_HTTP']}"

    def start(self) -> None:
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "hub"], env=self.env, stdout=handle, stderr=handle
        )
        wait_until(self._healthy, timeout=30, interval=0.2)

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(self.log.read_text()[-3000:])
        try:
            return httpx.get(f"{self.base}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _hub_env(mosquitto: Any, db_url: str, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANBU_MQTT_URL=mosquitto.url,
        ANBU_DB_URL=db_url,
        ANBU_HTTP=f"127.0.0.1:{free_port()}",
        ANBU_ADMIN_TOKEN=ADMIN_TOKEN,
        ANBU_SMS=f"log:{tmp_path / 'sms.jsonl'}",
        ANBU_CONTROL_CENTER_PHONES='["+8220000000"]',
        ANBU_INGEST_BATCH="50",
    )
    return env


def _register(base: str, count: int) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
        for index in range(count):
            resident = f"r{index}"
            body = {"id": resident, "name": "어르신", "district": "대전 동구"}
            assert http.post("/api/v1/residents", json=body).status_code == 201
            device = {"id": "spk", "kind": "speaker"}
            assert (
                http.post(f"/api/v1/residents/{resident}/devices", json=device).status_code == 201
            )
            contact = {"role": "guardian", "name": "보호자", "phone": f"+82100000{index:04d}"}
            assert (
                http.post(f"/api/v1/residents/{resident}/contacts", json=contact).status_code == 201
            )


def test_sigkill_mid_stream_loses_nothing_and_pages_once(
    mosquitto: Any, db_url: str, tmp_path: Path
) -> None:
    env = _hub_env(mosquitto, db_url, tmp_path)
    hub = HubProcess(env, tmp_path / "hub.log")
    hub.start()
    try:
        _register(hub.base, RESIDENTS)
        reader = create_engine(db_url)
        devices = [
            Device(mosquitto.url, f"r{i}", "spk", clock=machine_now) for i in range(RESIDENTS)
        ]
        sent: list[tuple[str, str]] = []
        for n in range(EVENTS):
            device = devices[n % RESIDENTS]
            # One emergency per resident, early in the stream, so pages are in flight too.
            if n // RESIDENTS == 5:
                event_id = device.emergency(wait=False)
            else:
                event_id = device.activity(wait=False)
            sent.append((device.resident, event_id))
            if n == EVENTS // 3:
                wait_until(lambda: _count(reader, events) > 0, timeout=10, interval=0.01)
                hub.kill()
        for device in devices:
            device.client.loop_stop()
            device.client.loop_start()
        # The rest of the stream is with the broker while no hub runs: the restart replays it.
        wait_until(lambda: all(device.published() for device in devices), timeout=20)
        hub.start()
        wait_until(lambda: _count(reader, events) >= EVENTS, timeout=60, interval=0.2)
        wait_until(lambda: _pending(reader) == 0, timeout=20, interval=0.2)
        for device in devices:
            device.close()

        with reader.connect() as conn:
            stored = {(r.resident_id, r.event_id) for r in conn.execute(select(events))}
        assert stored == set(sent)
        assert _count(reader, events) == EVENTS

        lines = read_sms(tmp_path / "sms.jsonl")
        keys = Counter(line["key"] for line in lines)
        assert keys and max(keys.values()) == 1, "a notification was sent twice"
        per_alert = Counter((line["alert_id"], line["role"], line["to"]) for line in lines)
        assert max(per_alert.values()) == 1
        alerts_paged = {line["alert_id"] for line in lines if line["role"] == "guardian"}
        assert len(alerts_paged) == RESIDENTS
        reader.dispose()
        # Privacy: the hub's own logs carry neither phone numbers nor the admin token.
        logged = (tmp_path / "hub.log").read_text(encoding="utf-8", errors="replace")
        assert "+82100000" not in logged
        assert "+8220000000" not in logged
        assert ADMIN_TOKEN not in logged
    finally:
        hub.stop()


def _count(engine: Any, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _stored(engine: Any, resident: str, event_id: str) -> bool:
    with engine.connect() as conn:
        query = select(events.c.event_id).where(
            (events.c.resident_id == resident) & (events.c.event_id == event_id)
        )
        return conn.execute(query).first() is not None


def _pending(engine: Any) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.state != "sent")
            ).scalar_one()
        )


def _bad_messages(resident: str) -> list[tuple[str, bytes]]:
    """A varied set of rejects: each is (topic, payload) with a known reason."""
    now = machine_now()
    good = {"v": 1, "id": "x", "ts": now.astimezone(KST).isoformat(), "source": "voice"}

    def dumps(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False).encode()

    base = f"anbu/v1/{resident}/spk"
    return [
        (f"{base}/activity", b"not json at all"),
        (f"{base}/activity", b"\xff\xfe\x00garbage"),
        (f"{base}/activity", b"[1, 2, 3]"),
        (f"{base}/activity", dumps({**good, "v": 2})),
        (f"{base}/activity", dumps({**good, "source": "teleport"})),
        (f"{base}/activity", dumps({**good, "ts": "yesterday"})),
        (f"{base}/activity", dumps({**good, "ts": "2026-11-22T09:15:00"})),
        (f"{base}/activity", dumps({**good, "ts": (now + timedelta(days=2)).isoformat()})),
        (f"{base}/activity", dumps({**good, "id": "x" * 65})),
        (f"{base}/heartbeat", dumps({**good})),
        (f"{base}/emergency", dumps({**good, "trigger": 5})),
        (f"{base}/activity", dumps({**good, "pad": "가" * 4000})),
        (f"anbu/v1/{resident}/unknown-device/activity", dumps(good)),
        ("anbu/v1/nobody/spk/activity", dumps(good)),
        (f"anbu/v1/{resident}/bad id!/activity", dumps(good)),
        (f"{base}/teleport", dumps(good)),
    ]


def test_malformed_and_unauthorised_messages_are_dead_lettered(
    mosquitto: Any, db_url: str, tmp_path: Path
) -> None:
    env = _hub_env(mosquitto, db_url, tmp_path)
    hub = HubProcess(env, tmp_path / "hub.log")
    hub.start()
    try:
        _register(hub.base, 1)
        device = Device(mosquitto.url, "r0", "spk", clock=machine_now)
        bad = _bad_messages("r0")
        valid_ids = []
        for n in range(1000):
            topic, payload = bad[n % len(bad)]
            device.client.publish(topic, payload, qos=1)
            if n % 2 == 0:
                valid_ids.append(device.activity(wait=False))
        # The stream's last message: once it is stored, all before it on this connection are.
        marker = device.activity()
        reader = create_engine(db_url)
        wait_until(
            lambda: _count(reader, dead_letters) >= 1000 and _stored(reader, "r0", marker),
            timeout=60,
            interval=0.2,
        )
        assert _count(reader, dead_letters) == 1000
        assert _count(reader, events) - 1 == len(valid_ids) == 500  # and the marker
        with reader.connect() as conn:
            reasons = Counter(r.reason for r in conn.execute(select(dead_letters.c.reason)))
            assert all(r.detail for r in conn.execute(select(dead_letters.c.detail)))
        assert len(reasons) >= 6, reasons
        assert reasons["unknown_device"] >= 1000 // len(bad) * 2
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        report = httpx.get(f"{hub.base}/api/v1/dead-letters", headers=headers).json()
        assert sum(report["counts"].values()) == 1000
        assert httpx.get(f"{hub.base}/health").json()["status"] == "ok"
        device.close()
        reader.dispose()
    finally:
        hub.stop()
