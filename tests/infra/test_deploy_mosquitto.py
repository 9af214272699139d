"""The shipped Mosquitto config and ACL: a device may publish only under its own topics."""

from __future__ import annotations

import getpass
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.broker import find_mosquitto, free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[int]:
    binary = find_mosquitto()
    passwd_tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    passwords = tmp_path / "anbu.passwd"
    for user, secret in (("anbu-hub", "hub-secret"), ("r1", "r1-secret"), ("r2", "r2-secret")):
        flags = ["-b"] if passwords.exists() else ["-c", "-b"]
        subprocess.run([passwd_tool, *flags, str(passwords), user, secret], check=True)
    acl = tmp_path / "anbu.acl"
    shutil.copy(DEPLOY / "anbu.acl", acl)
    port = free_port()
    config = (DEPLOY / "anbu.conf").read_text(encoding="utf-8")
    config = (
        config.replace("listener 1883", f"listener {port} 127.0.0.1")
        .replace("/etc/mosquitto/anbu.passwd", str(passwords))
        .replace("/etc/mosquitto/anbu.acl", str(acl))
    )
    config += f"persistence_location {tmp_path}/\nuser {getpass.getuser()}\n"
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(config, encoding="utf-8")
    proc = subprocess.Popen(
        [str(binary), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(0.5)
    assert proc.poll() is None, "mosquitto refused the shipped config"
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def _client(port: int, user: str, secret: str, client_id: str) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(user, secret)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def test_device_cannot_publish_as_another_resident(acl_broker: int) -> None:
    received: list[str] = []
    hub = _client(acl_broker, "anbu-hub", "hub-secret", "anbu-hub")
    hub.on_message = lambda _c, _u, message: received.append(message.topic)
    hub.subscribe("anbu/v1/+/+/+", qos=1)
    time.sleep(0.3)

    device = _client(acl_broker, "r1", "r1-secret", "spk")
    device.publish("anbu/v1/r1/spk/activity", b"{}", qos=1).wait_for_publish(5)
    device.publish("anbu/v1/r2/spk/activity", b"{}", qos=1).wait_for_publish(5)
    device.publish("anbu/v1/r1/other/activity", b"{}", qos=1).wait_for_publish(5)
    device.publish("anbu/v1/r1/spk/cmd", b"{}", qos=1).wait_for_publish(5)
    time.sleep(0.5)
    assert received == ["anbu/v1/r1/spk/activity"]

    stranger = _client(acl_broker, "r1", "wrong", "intruder")
    time.sleep(0.5)
    assert not stranger.is_connected(), "a wrong password must be refused"
    stranger.loop_stop()
    for client in (hub, device):
        client.loop_stop()
        client.disconnect()
