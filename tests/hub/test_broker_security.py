"""Broker security with a real Mosquitto (TLS, dynamic security) and a real hub.

* Takeover: a device's credentials presenting the hub's client id, or another device's, are
  refused; the hub is never pushed off, its persistent session survives, and every event the
  broker acknowledged is stored (1,000 in flight while the hub is up, 200 queued while it is
  down, attacks throughout).
* A device publishes only as itself, over TLS, with the credentials the hub provisioned when
  it was registered; a revoked device is disconnected and refused within seconds.
* ``anbu devices init|provision|revoke`` do the same from the shell.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from typer.testing import CliRunner

from edge.link import MqttLink
from edge.outbox import Outbox
from hub.broker import Broker, BrokerSecurity, MosquittoBroker, make_test_ca
from hub.broker_admin import BrokerAdmin
from hub.cli import app
from hub.mqtt import BrokerAddress
from hub.provisioning import Provisioner
from hub.runtime import Hub
from hub.settings import Settings
from hub.store.tables import events
from protocol.models import Emergency, to_json
from tests.broker_identity import Probe, connect
from tests.conftest import free_port
from tests.hub.conftest import RunningHub
from tests.hub.support import ADMIN_TOKEN, DEFAULT_TEST_START, OffsetClock, wait_until

HUB_USER = "anbu-hub"
HUB_CLIENT_ID = "anbu-hub"
ADMIN_USER = "anbu-admin"
IN_FLIGHT = 1000
WHILE_DOWN = 200
REVOKE_WITHIN_S = 5.0


@pytest.fixture(scope="session")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and server certificate made by deploy/mosquitto/make-ca.sh, once per run."""
    return make_test_ca(tmp_path_factory.mktemp("tls"), "localhost")


@dataclass
class SecureBroker:
    broker: MosquittoBroker
    ca_file: Path
    admin_password: str
    hub_password: str

    @property
    def port(self) -> int:
        return self.broker.port

    def hub_url(self) -> str:
        return f"mqtts://{HUB_USER}:{self.hub_password}@127.0.0.1:{self.port}"


@pytest.fixture
def secure(tmp_path: Path, tls_dir: Path) -> Iterator[SecureBroker]:
    """Mosquitto as shipped (TLS, dynsec, no anonymous), with the hub's identity made."""
    admin_password = secrets.token_urlsafe(16)
    security = BrokerSecurity(tls_dir, ADMIN_USER, admin_password)
    broker = Broker.mosquitto(workdir=tmp_path / "mosquitto", security=security)
    try:
        setup = SecureBroker(broker, security.ca_file, admin_password, secrets.token_urlsafe(16))
        admin = BrokerAdmin(
            BrokerAddress.parse(broker.url), ADMIN_USER, admin_password, ca_file=setup.ca_file
        )
        Provisioner(admin, broker.url).ensure_hub(HUB_USER, setup.hub_password, HUB_CLIENT_ID)
        yield setup
    finally:
        broker.close()


@pytest.fixture
def start_secure_hub(
    secure: SecureBroker, db_url: str, tmp_path: Path
) -> Iterator[Callable[[], RunningHub]]:
    started: list[RunningHub] = []

    def start() -> RunningHub:
        settings = Settings(
            mqtt_url=secure.hub_url(),
            mqtt_client_id=HUB_CLIENT_ID,
            mqtt_ca_file=secure.ca_file,
            mqtt_admin_user=ADMIN_USER,
            mqtt_admin_password=SecretStr(secure.admin_password),
            db_url=db_url,
            http=f"127.0.0.1:{free_port()}",
            admin_token=SecretStr(ADMIN_TOKEN),
            sms=SecretStr(f"log:{tmp_path / 'sms.jsonl'}"),
            control_center_phones=["+8220000000"],
        )
        hub = Hub(settings, clock=OffsetClock(DEFAULT_TEST_START)).start()
        assert hub.wait_ready(15), "hub did not connect to the secure broker"
        running = RunningHub(hub, tmp_path / "sms.jsonl", secure.broker.url)
        started.append(running)
        return running

    yield start
    for running in started:
        running.http.close()
        running.hub.stop()


def register(running: RunningHub, resident: str, devices: dict[str, str]) -> dict[str, Any]:
    """Register a resident and devices; returns each device's credentials (shown once)."""
    body = {"id": resident, "name": "김영희", "district": "유성구"}
    assert running.http.post("/api/v1/residents", json=body).status_code == 201
    credentials = {}
    for device, kind in devices.items():
        response = running.http.post(
            f"/api/v1/residents/{resident}/devices", json={"id": device, "kind": kind}
        )
        assert response.status_code == 201, response.text
        credentials[device] = response.json()["credentials"]
    return credentials


def as_device(secure: SecureBroker, creds: dict[str, Any], **options: Any) -> Probe:
    return connect(
        secure.port,
        creds["username"],
        creds["password"],
        creds["client_id"],
        ca_file=secure.ca_file,
        **options,
    )


def activity(running: RunningHub, event_id: str) -> bytes:
    ts = running.clock.now().isoformat()
    return json.dumps({"v": 1, "id": event_id, "ts": ts, "source": "voice"}).encode()


def stored(running: RunningHub, resident: str, device: str) -> int:
    with running.hub.engine.connect() as conn:
        count: int = conn.execute(
            select(func.count())
            .select_from(events)
            .where(events.c.resident_id == resident, events.c.device_id == device)
        ).scalar_one()
    return count


def stored_ids(running: RunningHub, resident: str, device: str) -> set[str]:
    with running.hub.engine.connect() as conn:
        rows = conn.execute(
            select(events.c.event_id).where(
                events.c.resident_id == resident, events.c.device_id == device
            )
        )
        return {row.event_id for row in rows}


class Attacker:
    """Connects again and again with identities that must all be refused; counts them."""

    def __init__(self, secure: SecureBroker, identities: list[tuple[str, str, str, str]]) -> None:
        self._secure = secure
        self._identities = identities
        self._stop = threading.Event()
        self.attempts: Counter[str] = Counter()
        self.accepted: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Attacker:
        self._thread.start()
        wait_until(lambda: sum(self.attempts.values()) >= len(self._identities), 30)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            for label, username, password, client_id in self._identities:
                # Clean start: were it accepted, it would discard the session it took over.
                probe = connect(
                    self._secure.port,
                    username,
                    password,
                    client_id,
                    ca_file=self._secure.ca_file,
                    timeout=5,
                )
                self.attempts[label] += 1
                if not probe.refused:
                    self.accepted.append(label)
                probe.close()


def test_no_takeover_of_the_hub_or_a_device_and_every_acknowledged_event_survives(
    secure: SecureBroker, start_secure_hub: Callable[[], RunningHub]
) -> None:
    running = start_secure_hub()
    creds = register(running, "r1", {"spk": "speaker", "ph": "phone"})
    spk, ph = creds["spk"], creds["ph"]
    speaker = as_device(secure, spk, clean_start=False)
    assert speaker.connected, speaker.connack
    identities = [
        ("phone as hub id", ph["username"], ph["password"], HUB_CLIENT_ID),
        ("speaker as hub id", spk["username"], spk["password"], HUB_CLIENT_ID),
        ("phone as speaker id", ph["username"], ph["password"], spk["client_id"]),
        ("hub user, phone password", HUB_USER, ph["password"], HUB_CLIENT_ID),
    ]
    topic = "anbu/v1/r1/spk/activity"
    started = time.monotonic()
    with Attacker(secure, identities) as attacker:
        # Phase 1: 1,000 events in flight at once while the attacks go on.
        before = sum(attacker.attempts.values())
        for index in range(IN_FLIGHT):
            speaker.client.publish(topic, activity(running, f"a-{index}"), qos=1)
        wait_until(lambda: len(speaker.pubacks) >= IN_FLIGHT, 60)
        wait_until(lambda: stored(running, "r1", "spk") >= IN_FLIGHT, 60)
        phase1_s = time.monotonic() - started
        during_flight = sum(attacker.attempts.values()) - before
        # Phase 2: the hub is down; its session alone holds what the speaker sends now.
        running.hub.stop()
        for index in range(IN_FLIGHT, IN_FLIGHT + WHILE_DOWN):
            speaker.client.publish(topic, activity(running, f"a-{index}"), qos=1)
        wait_until(lambda: len(speaker.pubacks) >= IN_FLIGHT + WHILE_DOWN, 60)
        wait_until(lambda: sum(attacker.attempts.values()) >= 4 * len(identities), 60)
    acknowledged = sum(1 for reason in speaker.pubacks.values() if reason == "Success")
    back = start_secure_hub()
    wait_until(lambda: stored(back, "r1", "spk") >= IN_FLIGHT + WHILE_DOWN, 60)
    total_s = time.monotonic() - started

    figures = {
        "acknowledged": acknowledged,
        "stored": stored(back, "r1", "spk"),
        "attempts": dict(attacker.attempts),
        "accepted": len(attacker.accepted),
        "attempts_while_in_flight": during_flight,
        "phase1_s": round(phase1_s, 2),
        "total_s": round(total_s, 2),
    }
    print(f"takeover figures: {json.dumps(figures, ensure_ascii=False)}")  # noqa: T201
    assert attacker.accepted == []
    assert during_flight > 0, "the attacks must overlap the events in flight"
    assert acknowledged == IN_FLIGHT + WHILE_DOWN
    assert figures["stored"] == acknowledged
    assert speaker.connected, f"the speaker was pushed off: {speaker.disconnect_reason}"
    log = secure.broker.log_path.read_text(encoding="utf-8", errors="replace")
    assert "already connected, closing old connection" not in log
    assert log.count(f" as {HUB_CLIENT_ID} (") == 2, "the hub connected other than twice"
    speaker.close()


def test_a_device_publishes_only_as_itself_over_tls_and_a_revoked_one_is_refused(
    secure: SecureBroker,
    start_secure_hub: Callable[[], RunningHub],
    capfd: pytest.CaptureFixture[str],
) -> None:
    running = start_secure_hub()
    creds = register(running, "r2", {"spk": "speaker", "ph": "phone"})
    ph = creds["ph"]
    assert ph["username"] == ph["client_id"] == "r2.ph"
    assert ph["broker_url"] == f"mqtts://127.0.0.1:{secure.port}"
    assert ph["password"] != creds["spk"]["password"]
    config = tomllib.loads(ph["config_toml"])
    assert config["mqtt_url"] == ph["mqtt_url"]
    assert ph["ca_pem"] == secure.ca_file.read_text(encoding="ascii")

    phone = as_device(secure, ph)
    assert phone.connected, phone.connack
    assert phone.publish("anbu/v1/r2/ph/activity", activity(running, "own-1")) == "Success"
    for topic in (
        "anbu/v1/r2/spk/activity",
        "anbu/v1/r2/spk/heartbeat",
        "anbu/v1/r2/spk/status",
        "anbu/v1/r3/ph/activity",
        "anbu/v1/r2/ph/cmd",
        "anbu/v1/_hub/alerts",
    ):
        assert phone.publish(topic, activity(running, f"fake-{topic}")) == "Not authorized", topic
    assert phone.subscribe("anbu/v1/r2/spk/cmd") == "Not authorized"
    assert phone.subscribe("anbu/v1/#") == "Not authorized"
    assert phone.subscribe("anbu/v1/r2/ph/cmd") == "Granted QoS 1"
    # The phone's own marker, sent after the fakes on the same connection, is stored: so
    # had any fake passed the broker, the hub would have it by now.
    assert phone.publish("anbu/v1/r2/ph/activity", activity(running, "own-2")) == "Success"
    wait_until(lambda: stored(running, "r2", "ph") == 2)
    assert stored(running, "r2", "spk") == 0

    plaintext = connect(secure.port, ph["username"], ph["password"], ph["client_id"], ca_file=None)
    assert plaintext.refused, "the broker must not speak MQTT without TLS"
    plaintext.close()
    wrong = connect(
        secure.port, ph["username"], "not-the-password", ph["client_id"], ca_file=secure.ca_file
    )
    assert wrong.refused
    wrong.close()

    revoked_at = time.monotonic()
    response = running.http.delete("/api/v1/residents/r2/devices/ph/credentials")
    assert response.status_code == 200, response.text
    assert response.json() == {"revoked": True}
    wait_until(lambda: phone.disconnected_at is not None, REVOKE_WITHIN_S)
    assert phone.disconnected_at is not None
    print(f"revoked device disconnected after {phone.disconnected_at - revoked_at:.3f} s")  # noqa: T201
    again = as_device(secure, ph)
    assert again.refused, "revoked credentials must be refused"
    again.close()
    phone.close()
    speaker = as_device(secure, creds["spk"])
    assert speaker.connected, "revoking the phone must leave the speaker alone"
    speaker.close()

    # Provisioning again gives new credentials; the revoked ones stay refused.
    response = running.http.post("/api/v1/residents/r2/devices/ph/credentials")
    assert response.status_code == 201, response.text
    fresh = response.json()
    assert fresh["password"] != ph["password"]
    renewed = as_device(secure, fresh)
    assert renewed.connected, renewed.connack
    renewed.close()
    assert as_device(secure, ph).refused
    logged = "".join(capfd.readouterr())
    for secret in (ph["password"], fresh["password"], secure.admin_password):
        assert secret not in logged, "a password reached the logs"


def test_devices_cli_init_provision_revoke(
    secure: SecureBroker,
    start_secure_hub: Callable[[], RunningHub],
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = start_secure_hub()
    assert (
        running.http.post(
            "/api/v1/residents", json={"id": "r4", "name": "박순자", "district": "유성구"}
        ).status_code
        == 201
    )
    env = {
        "ANBU_MQTT_URL": secure.hub_url(),
        "ANBU_MQTT_CLIENT_ID": HUB_CLIENT_ID,
        "ANBU_MQTT_CA_FILE": str(secure.ca_file),
        "ANBU_MQTT_ADMIN_USER": ADMIN_USER,
        "ANBU_MQTT_ADMIN_PASSWORD": secure.admin_password,
        "ANBU_DB_URL": db_url,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    response = running.http.post(
        "/api/v1/residents/r4/devices", json={"id": "door", "kind": "sensors"}
    )
    assert response.status_code == 201
    # The device lost its config: the CLI provisions it again, and the old password goes.
    first = response.json()["credentials"]
    runner = CliRunner()

    result = runner.invoke(app, ["devices", "init"])
    assert result.exit_code == 0, result.output
    assert running.hub.bridge.connected.is_set(), "init must not disconnect the running hub"
    provisioner = Provisioner.from_settings(running.hub.settings)
    assert provisioner is not None
    assert provisioner.hub_problem(HUB_USER, HUB_CLIENT_ID) is None
    assert "client id 'anbu-hub'" in (provisioner.hub_problem(HUB_USER, "other") or "")
    assert "anbu devices init" in (provisioner.hub_problem("nobody", HUB_CLIENT_ID) or "")

    unknown = runner.invoke(app, ["devices", "provision", "r4", "nope"])
    assert unknown.exit_code == 2
    assert "not registered" in unknown.output

    out = tmp_path / "device" / "r4-door.toml"
    result = runner.invoke(app, ["devices", "provision", "r4", "door", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert (out.parent / "anbu-ca.crt").read_text(encoding="ascii") == secure.ca_file.read_text(
        encoding="ascii"
    )
    config = tomllib.loads(out.read_text(encoding="utf-8"))
    assert config["kind"] == "sensors"
    address = BrokerAddress.parse(config["mqtt_url"])
    assert address.password is not None
    assert address.password not in result.output, "the password goes to the file only"
    assert as_device(secure, first).refused
    door = connect(
        secure.port, address.username, address.password, "r4.door", ca_file=secure.ca_file
    )
    assert door.connected, door.connack

    result = runner.invoke(app, ["devices", "revoke", "r4", "door"])
    assert result.exit_code == 0, result.output
    assert "revoked r4/door" in result.output
    wait_until(lambda: door.disconnected_at is not None, REVOKE_WITHIN_S)
    door.close()
    result = runner.invoke(app, ["devices", "revoke", "r4", "door"])
    assert "had no credentials" in result.output


def test_the_edge_agent_link_connects_over_tls_with_the_config_the_hub_made(
    secure: SecureBroker, start_secure_hub: Callable[[], RunningHub], tmp_path: Path
) -> None:
    running = start_secure_hub()
    creds = register(running, "r5", {"spk": "speaker"})["spk"]
    config = tomllib.loads(creds["config_toml"])
    # The config names the CA where a device keeps it; here it is the test CA's path.
    url = config["mqtt_url"].replace(creds["ca_path"], str(secure.ca_file))
    outbox = Outbox(tmp_path / "outbox.db")
    when = running.clock.now()
    message = Emergency(v=1, id="e-1", ts=when, trigger="voice", text="아리아 살려줘")
    outbox.add("emergency", "e-1", when, to_json(message), urgent=True)
    link = MqttLink(
        url=url,
        resident=config["resident"],
        device=config["device"],
        outbox=outbox,
        clock=running.clock,
        on_command=lambda _payload: None,
    )
    assert link.client_id == creds["client_id"]
    link.start()
    try:
        wait_until(lambda: outbox.depth() == 0, 15)
        wait_until(lambda: "e-1" in stored_ids(running, "r5", "spk"), 15)
        assert link.stats.refused == 0
    finally:
        link.stop(announce_offline=False)
        outbox.close()


def test_the_hub_reads_what_the_secure_broker_dropped(start_secure_hub: Any) -> None:
    """The hub's role may read Mosquitto's dropped count ($SYS), nothing else of $SYS."""
    running = start_secure_hub()
    wait_until(lambda: running.http.get("/health").json()["broker_dropped"] is not None, 20)
