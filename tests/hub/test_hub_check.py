"""``anbu hub --check`` and the hub's start-up warnings, against real and closed ports.

A closed port is one :func:`tests.conftest.free_port` just released on 127.0.0.1: nothing
listens there, so a connection is refused at once.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hub.checks import plaintext_broker
from tests.conftest import free_port
from tests.hub.test_settings_errors import clean_env


def check(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", "hub", "--check"],
        env=clean_env(tmp_path, **variables),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def lines_of(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert "Traceback" not in result.stdout + result.stderr
    by_part: dict[str, str] = {}
    for line in result.stdout.strip().splitlines():
        status, part = line.split()[0], line.split()[1]
        if status == "warn":
            continue
        by_part[part] = line
        assert status in ("ok", "FAIL"), line
    return by_part


def test_everything_reachable_passes(tmp_path: Path, mosquitto: Any, pg_url: str) -> None:
    result = check(tmp_path, ANBU_DB_URL=pg_url, ANBU_MQTT_URL=mosquitto.url)
    parts = lines_of(result)
    assert result.returncode == 0, result.stdout
    assert set(parts) == {"설정", "데이터베이스", "브로커"}
    assert all(line.startswith("ok") for line in parts.values())


def test_each_unreachable_part_fails_on_its_own_line(tmp_path: Path) -> None:
    database, broker = free_port(), free_port()
    result = check(
        tmp_path,
        ANBU_DB_URL=f"postgresql+psycopg://anbu:db-pass-hidden@127.0.0.1:{database}/anbu",
        ANBU_MQTT_URL=f"mqtt://hub:mqtt-pass-hidden@127.0.0.1:{broker}",
    )
    parts = lines_of(result)
    assert result.returncode == 1
    assert parts["설정"].startswith("ok")
    assert parts["데이터베이스"].startswith("FAIL")
    assert f"127.0.0.1:{database}" in parts["데이터베이스"]
    assert "Connection refused" in parts["데이터베이스"]
    assert parts["브로커"].startswith("FAIL")
    assert f"127.0.0.1:{broker}" in parts["브로커"]
    assert "Connection refused" in parts["브로커"]
    assert "pass-hidden" not in result.stdout + result.stderr


def test_only_the_broker_fails(tmp_path: Path, pg_url: str) -> None:
    result = check(tmp_path, ANBU_DB_URL=pg_url, ANBU_MQTT_URL=f"mqtt://127.0.0.1:{free_port()}")
    parts = lines_of(result)
    assert result.returncode == 1
    assert parts["데이터베이스"].startswith("ok")
    assert parts["브로커"].startswith("FAIL")


def test_only_the_database_fails(tmp_path: Path, mosquitto: Any) -> None:
    result = check(
        tmp_path,
        ANBU_DB_URL=f"sqlite:///{tmp_path / 'no-such-dir' / 'anbu.db'}",
        ANBU_MQTT_URL=mosquitto.url,
    )
    parts = lines_of(result)
    assert result.returncode == 1
    assert parts["데이터베이스"].startswith("FAIL")
    assert "unable to open database file" in parts["데이터베이스"]
    assert parts["브로커"].startswith("ok")


def test_a_settings_mistake_stops_the_check_before_connecting(tmp_path: Path) -> None:
    result = check(tmp_path, ANBU_SMS="twilio://x")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "ANBU_SMS:" in result.stderr


def test_start_warns_about_no_admin_and_an_unreachable_broker(tmp_path: Path) -> None:
    broker = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "hub"],
        env=clean_env(
            tmp_path,
            ANBU_MQTT_URL=f"mqtt://hub:broker-pass-hidden@127.0.0.1:{broker}",
            ANBU_HTTP=f"127.0.0.1:{free_port()}",
            ANBU_SMS=f"log:{tmp_path / 'sms.jsonl'}",
        ),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:  # the watch warns after 5 s; pytest-timeout bounds this
            seen.append(line)
            if "hub.broker_unreachable" in line:
                break
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=30)
    output = "".join(seen) + rest
    assert "Traceback" not in output
    assert any("hub.no_admin_token" in line for line in seen), output
    warning = next(line for line in seen if "hub.broker_unreachable" in line)
    assert f"127.0.0.1:{broker}" in warning
    assert "retrying" in warning
    assert "broker-pass-hidden" not in output


def test_no_warning_about_sign_in_with_an_admin_token(tmp_path: Path, mosquitto: Any) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "hub"],
        env=clean_env(
            tmp_path,
            ANBU_MQTT_URL=mosquitto.url,
            ANBU_HTTP=f"127.0.0.1:{free_port()}",
            ANBU_ADMIN_TOKEN="test-admin-token-0123456789",
            ANBU_SMS=f"log:{tmp_path / 'sms.jsonl'}",
        ),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if "mqtt.connected" in line:
                break
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=30)
    output = "".join(seen) + rest
    assert "mqtt.connected" in output
    assert "hub.no_admin_token" not in output
    assert "hub.broker_unreachable" not in output


def test_a_running_hub_is_asked_not_taken_over(tmp_path: Path, start_hub: Any, db_url: str) -> None:
    running = start_hub()
    settings = running.hub.settings
    result = check(
        tmp_path,
        ANBU_DB_URL=db_url,
        ANBU_MQTT_URL=running.mqtt_url,
        ANBU_MQTT_CLIENT_ID=settings.mqtt_client_id,
        ANBU_HTTP=settings.http,
    )
    parts = lines_of(result)
    assert result.returncode == 0, result.stdout
    assert f"via the hub at {settings.http}" in parts["브로커"]
    # Its session was never touched: it is still connected on its first connection.
    assert running.hub.bridge.connected.is_set()
    assert running.http.get("/health").json()["mqtt"] is True


def test_checking_as_the_hub_leaves_its_queued_messages_to_it(
    tmp_path: Path, start_hub: Any, db_url: str
) -> None:
    first = start_hub(mqtt_client_id="anbu-hub-checked")
    first.resident("r1")
    device = first.device("r1", "spk1")
    first.hub.stop()  # the broker now queues the hub's messages in its persistent session
    queued = [device.activity() for _ in range(5)]
    result = check(
        tmp_path,
        ANBU_DB_URL=db_url,
        ANBU_MQTT_URL=first.mqtt_url,
        ANBU_MQTT_CLIENT_ID="anbu-hub-checked",
        ANBU_HTTP=f"127.0.0.1:{free_port()}",  # no hub answers there
    )
    assert result.returncode == 0, result.stdout
    assert lines_of(result)["브로커"].startswith("ok")
    again = start_hub(mqtt_client_id="anbu-hub-checked")
    again.taken(device)
    with again.hub.engine.connect() as conn:
        from sqlalchemy import select

        from hub.store.tables import events

        stored = set(
            conn.execute(select(events.c.event_id).where(events.c.resident_id == "r1")).scalars()
        )
    assert set(queued) <= stored
    device.close()


def test_no_warning_about_sign_in_when_an_admin_user_exists(tmp_path: Path, mosquitto: Any) -> None:
    env = clean_env(
        tmp_path,
        ANBU_MQTT_URL=mosquitto.url,
        ANBU_HTTP=f"127.0.0.1:{free_port()}",
        ANBU_SMS=f"log:{tmp_path / 'sms.jsonl'}",
    )
    for command in (["db", "upgrade"], ["users", "add", "--name", "설치담당", "--role", "admin"]):
        done = subprocess.run(
            [sys.executable, "-m", "hub", *command],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "hub"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if "mqtt.connected" in line:
                break
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=30)
    output = "".join(seen) + rest
    assert "hub.started" in output
    assert "hub.no_admin_token" not in output


def test_plain_mqtt_to_another_machine_is_warned_about(tmp_path: Path, pg_url: str) -> None:
    """A TEST-NET address (RFC 5737): nothing answers, the warning comes all the same."""
    remote = check(tmp_path, ANBU_DB_URL=pg_url, ANBU_MQTT_URL="mqtt://hub:pw-hidden@192.0.2.1")
    local = check(tmp_path, ANBU_DB_URL=pg_url, ANBU_MQTT_URL=f"mqtt://127.0.0.1:{free_port()}")
    tls = check(tmp_path, ANBU_DB_URL=pg_url, ANBU_MQTT_URL="mqtts://hub:pw-hidden@192.0.2.1")

    warned = [line for line in remote.stdout.splitlines() if line.startswith("warn")]
    assert len(warned) == 1 and "mqtts://" in warned[0], remote.stdout
    assert "pw-hidden" not in remote.stdout + remote.stderr
    assert not [line for line in local.stdout.splitlines() if line.startswith("warn")]
    assert not [line for line in tls.stdout.splitlines() if line.startswith("warn")]


def test_a_hub_whose_http_hangs_is_not_taken_over(tmp_path: Path, mosquitto: Any) -> None:
    """A process that takes the connection at ANBU_HTTP and never answers may be a hub
    whose HTTP is stuck: the check must not connect to the broker as the hub (it did, and
    took that hub's session over). The stand-in hub here is a client on the hub's id."""
    import socket
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from hub.mqtt import BrokerAddress
    from tests.hub.support import wait_until

    address = BrokerAddress.parse(mosquitto.url)
    hub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="anbu-hub", protocol=mqtt.MQTTv5)
    connected, dropped = threading.Event(), threading.Event()
    hub.on_connect = lambda *_: connected.set()
    hub.on_disconnect = lambda *_: dropped.set()
    hub.connect(address.host, address.port)
    hub.loop_start()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        wait_until(connected.is_set, timeout=10)
        result = check(tmp_path, ANBU_MQTT_URL=mosquitto.url, ANBU_HTTP=f"127.0.0.1:{port}")
        parts = lines_of(result)
        assert result.returncode == 1
        assert "did not answer" in parts["브로커"], parts
        assert not dropped.is_set(), "the check connected as the hub and took its session"
    finally:
        listener.close()
        hub.loop_stop()
        hub.disconnect()


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("mqtt://hub:pw@10.0.0.5:1883", True),
        ("mqtt://broker.district.example", True),
        ("mqtt://127.0.0.1:1883", False),
        ("mqtt://localhost", False),
        ("mqtt://[::1]:1883", False),
        ("mqtts://hub:pw@10.0.0.5:8883", False),
        ("embedded", False),
    ],
)
def test_plaintext_broker_means_plain_mqtt_off_this_machine(url: str, warned: bool) -> None:
    warning = plaintext_broker(url)
    assert (warning is not None) is warned
    assert warning is None or ":pw@" not in warning
