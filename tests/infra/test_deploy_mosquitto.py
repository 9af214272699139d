"""The shipped Mosquitto config (deploy/mosquitto/), run as shipped but for paths and port.

TLS only, no anonymous access, identities in the dynamic security plugin as the hub
provisions them: a device publishes only under its own topics, and nobody can present the
hub's client id or another device's. Also deploy/mosquitto/make-ca.sh.
"""

from __future__ import annotations

import getpass
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.broker import BrokerError, find_mosquitto, free_port, make_test_ca
from hub.broker.secure import BrokerSecurity, find_dynsec_plugin, init_dynsec
from hub.broker_admin import BrokerAdmin
from hub.mqtt import BrokerAddress
from hub.provisioning import DeviceCredentials, Provisioner
from tests.broker_identity import Probe, connect
from tests.hub.support import wait_until

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
SHIPPED_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"


@dataclass
class Shipped:
    port: int
    ca_file: Path
    hub_password: str
    devices: dict[str, DeviceCredentials]

    def device(self, name: str, *, client_id: str | None = None) -> Probe:
        creds = self.devices[name]
        return connect(
            self.port,
            creds.username,
            creds.password,
            client_id or creds.client_id,
            ca_file=self.ca_file,
        )


def shipped_config(port: int, tls: Path, state: Path, workdir: Path) -> str:
    config = (DEPLOY / "anbu.conf").read_text(encoding="utf-8")
    plugin = find_dynsec_plugin()
    assert plugin is not None, "Mosquitto's dynamic security plugin is not installed"
    for shipped, here in (
        ("listener 8883", f"listener {port} 127.0.0.1"),
        ("/etc/mosquitto/certs/", f"{tls}/"),
        (SHIPPED_PLUGIN, plugin),
        ("/var/lib/mosquitto/dynamic-security.json", str(state)),
    ):
        assert shipped in config, f"anbu.conf no longer says {shipped!r}"
        config = config.replace(shipped, here)
    return config + f"persistence_location {workdir}/\nuser {getpass.getuser()}\n"


@pytest.fixture
def shipped(tmp_path: Path) -> Iterator[Shipped]:
    tls = make_test_ca(tmp_path / "certs", "hub.example.go.kr")
    admin_password = secrets.token_urlsafe(16)
    state = tmp_path / "dynamic-security.json"
    init_dynsec(state, BrokerSecurity(tls, "anbu-admin", admin_password))
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(shipped_config(port, tls, state, tmp_path), encoding="utf-8")
    log = tmp_path / "mosquitto.out"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(find_mosquitto()), "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        url = f"mqtts://127.0.0.1:{port}"
        admin = BrokerAdmin(
            BrokerAddress.parse(url), "anbu-admin", admin_password, ca_file=tls / "ca.crt"
        )

        def ready() -> bool:
            assert proc.poll() is None, f"mosquitto refused the shipped config: {log.read_text()}"
            probe = connect(port, "anbu-admin", admin_password, "probe", ca_file=tls / "ca.crt")
            accepted = probe.connected
            probe.close()
            return accepted

        wait_until(ready, 10)
        provisioner = Provisioner(admin, url, ca_pem=(tls / "ca.crt").read_text(encoding="ascii"))
        hub_password = secrets.token_urlsafe(16)
        provisioner.ensure_hub("anbu-hub", hub_password, "anbu-hub")
        devices = {
            name: provisioner.provision(*name.split(".")) for name in ("r1.spk", "r1.ph", "r2.spk")
        }
        yield Shipped(port, tls / "ca.crt", hub_password, devices)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_shipped_config_is_tls_only_without_anonymous_or_hand_kept_files() -> None:
    config = (DEPLOY / "anbu.conf").read_text(encoding="utf-8")
    lines = [line.split("#")[0].strip() for line in config.splitlines()]
    settings = [line for line in lines if line]
    listeners = [line for line in settings if line.startswith("listener ")]
    assert listeners == ["listener 8883"], "one listener, TLS"
    assert "allow_anonymous false" in settings
    assert settings.index("per_listener_settings false") < settings.index("listener 8883")
    for key in ("cafile", "certfile", "keyfile", "plugin", "plugin_opt_config_file"):
        assert any(line.startswith(f"{key} ") for line in settings), key
    assert not any(line.startswith(("password_file", "acl_file")) for line in settings)
    assert not (DEPLOY / "anbu.acl").exists()


def test_a_device_publishes_only_under_its_own_topics(shipped: Shipped) -> None:
    received: list[str] = []
    hub = connect(
        shipped.port, "anbu-hub", shipped.hub_password, "anbu-hub", ca_file=shipped.ca_file
    )
    assert hub.connected, hub.connack
    hub.client.on_message = lambda _c, _u, message: received.append(message.topic)
    assert hub.subscribe("anbu/v1/+/+/+") == "Granted QoS 1"

    speaker = shipped.device("r1.spk")
    assert speaker.connected, speaker.connack
    assert speaker.publish("anbu/v1/r1/spk/activity", b"{}") == "Success"
    for topic in ("anbu/v1/r2/spk/activity", "anbu/v1/r1/ph/activity", "anbu/v1/r1/spk/cmd"):
        assert speaker.publish(topic, b"{}") == "Not authorized", topic
    assert hub.publish("anbu/v1/r1/spk/cmd", b"{}") == "Success"
    # Allowed, but nobody listens here (MQTT 5 says so instead of "Success").
    assert hub.publish("anbu/v1/_hub/alerts", b"{}") == "No matching subscribers"
    assert hub.publish("anbu/v1/r1/spk/activity", b"{}") == "Not authorized"
    assert speaker.publish("anbu/v1/r1/spk/heartbeat", b"{}") == "Success"
    wait_until(lambda: "anbu/v1/r1/spk/heartbeat" in received)
    assert received == [
        "anbu/v1/r1/spk/activity",
        "anbu/v1/r1/spk/cmd",
        "anbu/v1/r1/spk/heartbeat",
    ]
    for probe in (hub, speaker):
        probe.close()


def test_nobody_can_present_the_hub_or_another_device(shipped: Shipped) -> None:
    hub = connect(
        shipped.port,
        "anbu-hub",
        shipped.hub_password,
        "anbu-hub",
        ca_file=shipped.ca_file,
        clean_start=False,
    )
    assert hub.connected, hub.connack
    attempts = [
        shipped.device("r1.ph", client_id="anbu-hub"),
        shipped.device("r1.ph", client_id="r1.spk"),
        shipped.device("r2.spk", client_id="r1.spk"),
        connect(shipped.port, "r1.ph", "wrong", "r1.ph", ca_file=shipped.ca_file),
        connect(shipped.port, None, None, "anbu-hub", ca_file=shipped.ca_file),
        connect(shipped.port, "anbu-hub", shipped.hub_password, "anbu-hub", ca_file=None),
    ]
    for probe in attempts:
        assert probe.refused, probe.connack
        probe.close()
    assert hub.connected, f"the hub was pushed off: {hub.disconnect_reason}"
    hub.close()


def test_make_ca_never_replaces_a_ca_whose_key_is_kept_offline(tmp_path: Path) -> None:
    """It made a new CA over the old certificate, cutting off every device trusting it."""
    make_test_ca(tmp_path, "hub.example.go.kr")
    ca = (tmp_path / "ca.crt").read_bytes()
    (tmp_path / "ca.key").unlink()  # the README's advice: keep the CA's key offline
    with pytest.raises(BrokerError, match=r"ca\.key does not"):
        make_test_ca(tmp_path, "hub.example.go.kr")
    assert (tmp_path / "ca.crt").read_bytes() == ca


def test_make_ca_keeps_its_ca_and_names_the_host(tmp_path: Path) -> None:
    make_test_ca(tmp_path, "hub.example.go.kr")
    ca = (tmp_path / "ca.crt").read_bytes()
    make_test_ca(tmp_path, "hub.example.go.kr", "10.0.0.5")
    assert (tmp_path / "ca.crt").read_bytes() == ca, "a second run must keep the CA"
    text = subprocess.run(
        [
            "openssl",
            "x509",
            "-in",
            str(tmp_path / "server.crt"),
            "-noout",
            "-ext",
            "subjectAltName",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in (
        "DNS:hub.example.go.kr",
        "IP Address:10.0.0.5",
        "DNS:localhost",
        "IP Address:127.0.0.1",
    ):
        assert name in text
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", str(tmp_path / "ca.crt"), str(tmp_path / "server.crt")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert (tmp_path / "server.key").stat().st_mode & 0o077 == 0
