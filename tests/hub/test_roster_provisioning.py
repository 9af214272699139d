"""A roster import provisions the devices it registers, with a real Mosquitto (TLS, dynsec).

* Over the API: a dry run provisions nothing; applying gives each new device its own
  credentials, once, in the answer, and a device connects over TLS with them and publishes
  as itself only (its events stored by the hub).
* ``anbu roster import --apply --configs DIR``, through the running hub and on its own: one
  config file per new device (mode 600, never overwriting), no password in the output; it
  refuses to start without DIR, or with a DIR that already holds one of those files.
* The broker unreachable, or gone in the middle: every resident stays registered, and the
  answer names each device that was provisioned and each that must be provisioned again.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from hub.broker_admin import BrokerAdmin
from hub.cli import app
from hub.mqtt import BrokerAddress
from hub.provisioning import Provisioner
from hub.roster_provision import provision_roster
from hub.store import resident_reads
from hub.store.db import migrate, open_engine, reading
from tests.broker_identity import connect
from tests.conftest import free_port
from tests.hub import test_broker_security as secure_broker
from tests.hub.conftest import RunningHub
from tests.hub.support import ADMIN_TOKEN, wait_until
from tests.hub.test_broker_security import (
    ADMIN_USER,
    HUB_CLIENT_ID,
    SecureBroker,
    activity,
    as_device,
    stored,
)

# The secure broker and the hub on it, as test_broker_security has them.
tls_dir = secure_broker.tls_dir
secure = secure_broker.secure
start_secure_hub = secure_broker.start_secure_hub

ROSTER = (
    "id,이름,행정구역,보호자1,보호자1 전화,기기\n"
    "gn-1,김순자,강남구,이민수,010-0000-0001,spk1:speaker; ph1:phone\n"
    "gn-2,최영길,강남구,최하나,010-0000-0003,door:sensors\n"
    "gn-3,정말순,강남구,,,\n"
).encode()
NEW_DEVICES = {"gn-1.spk1", "gn-1.ph1", "gn-2.door"}


def device_clients(secure: SecureBroker) -> set[str]:
    """The device identities the broker has (the hub's own is not one: it has no '.')."""
    admin = BrokerAdmin(
        BrokerAddress.parse(secure.broker.url),
        ADMIN_USER,
        secure.admin_password,
        ca_file=secure.ca_file,
    )
    answer = admin.request([{"command": "listClients"}])[0]
    return {name for name in answer.data.get("clients", []) if "." in name}


def post_roster(running: RunningHub, data: bytes, *, apply: bool) -> dict[str, Any]:
    response = running.http.post(
        "/api/v1/roster",
        params={"filename": "명단.csv", "apply": str(apply).lower()},
        content=data,
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_the_api_provisions_each_new_device_once_and_a_dry_run_nothing(
    secure: SecureBroker,
    start_secure_hub: Callable[[], RunningHub],
    capfd: pytest.CaptureFixture[str],
) -> None:
    running = start_secure_hub()
    dry = post_roster(running, ROSTER, apply=False)
    assert (dry["applied"], dry["provisioning"]) == (None, None)
    assert device_clients(secure) == set(), "a dry run provisions nothing"

    answer = post_roster(running, ROSTER, apply=True)
    assert answer["applied"]["created"] == 3
    provisioning = answer["provisioning"]
    assert (provisioning["provisioned"], provisioning["not_provisioned"]) == (3, [])
    assert provisioning["error"] is None
    creds = {c["username"]: c for c in provisioning["credentials"]}
    assert set(creds) == NEW_DEVICES == device_clients(secure)
    ph = creds["gn-1.ph1"]
    assert (ph["client_id"], ph["kind"]) == ("gn-1.ph1", "phone")
    assert ph["ca_pem"] == secure.ca_file.read_text(encoding="ascii")
    config = tomllib.loads(ph["config_toml"])
    assert (config["resident"], config["device"], config["kind"]) == ("gn-1", "ph1", "phone")
    assert len({c["password"] for c in creds.values()}) == 3

    phone = as_device(secure, ph)
    assert phone.connected, phone.connack
    assert phone.publish("anbu/v1/gn-1/ph1/activity", activity(running, "own-1")) == "Success"
    for topic in ("anbu/v1/gn-1/spk1/activity", "anbu/v1/gn-2/door/activity"):
        assert phone.publish(topic, activity(running, f"fake-{topic}")) == "Not authorized"
    wait_until(lambda: stored(running, "gn-1", "ph1") == 1)
    assert stored(running, "gn-1", "spk1") == 0
    phone.close()

    # Applying again registers no one, so it provisions no one: the passwords stay valid.
    again = post_roster(running, ROSTER, apply=True)
    assert again["applied"]["created"] == 0
    assert (again["provisioning"]["provisioned"], again["provisioning"]["credentials"]) == (0, [])
    still = as_device(secure, ph)
    assert still.connected, "a second import must not replace a device's credentials"
    still.close()
    logged = "".join(capfd.readouterr())
    for secret in [c["password"] for c in creds.values()] + [secure.admin_password]:
        assert secret not in logged, "a password reached the logs"


@pytest.fixture
def cli_env(
    secure: SecureBroker, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    """The CLI set up as the hub is: the secure broker, its admin, the database; ANBU_HTTP
    where no hub listens (a test that starts one points it there)."""
    for key in list(os.environ):
        if key.startswith("ANBU_") and key != "ANBU_TEST_NOW":
            monkeypatch.delenv(key)
    env = {
        "ANBU_MQTT_URL": secure.hub_url(),
        "ANBU_MQTT_CLIENT_ID": HUB_CLIENT_ID,
        "ANBU_MQTT_CA_FILE": str(secure.ca_file),
        "ANBU_MQTT_ADMIN_USER": ADMIN_USER,
        "ANBU_MQTT_ADMIN_PASSWORD": secure.admin_password,
        "ANBU_DB_URL": db_url,
        "ANBU_HTTP": f"127.0.0.1:{free_port()}",
        "ANBU_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield CliRunner()


def roster_import(cli: CliRunner, roster: Path, *args: str) -> Result:
    return cli.invoke(app, ["roster", "import", str(roster), *args])


def check_config_file(secure: SecureBroker, path: Path, output: str) -> dict[str, Any]:
    """A config file as the CLI must write it; returns the parsed config."""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    password = BrokerAddress.parse(config["mqtt_url"]).password
    assert password, path
    assert password not in output, "the password goes to the file only"
    return config


def test_the_cli_writes_one_config_per_new_device_through_the_running_hub(
    secure: SecureBroker,
    start_secure_hub: Callable[[], RunningHub],
    cli_env: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = start_secure_hub()
    monkeypatch.setenv("ANBU_HTTP", running.hub.settings.http)
    roster = tmp_path / "명단.csv"
    roster.write_bytes(ROSTER)
    configs = tmp_path / "configs"

    refused = roster_import(cli_env, roster, "--apply")
    assert refused.exit_code == 2, refused.output
    assert "--configs" in refused.output
    assert running.http.get("/api/v1/residents").json() == [], "refused before registering"

    result = roster_import(cli_env, roster, "--apply", "--configs", str(configs), "--json")
    assert result.exit_code == 0, result.output
    assert "the hub at" in result.stdout
    assert stat.S_IMODE(configs.stat().st_mode) == 0o700
    files = {p.name for p in configs.iterdir()}
    assert files == {f"{name}.toml" for name in NEW_DEVICES} | {"anbu-ca.crt"}
    assert (configs / "anbu-ca.crt").read_text(encoding="ascii") == secure.ca_file.read_text(
        encoding="ascii"
    )
    config = check_config_file(secure, configs / "gn-2.door.toml", result.output)
    assert (config["resident"], config["device"], config["kind"]) == ("gn-2", "door", "sensors")
    address = BrokerAddress.parse(config["mqtt_url"])
    assert address.password is not None
    door = connect(
        secure.port, address.username, address.password, "gn-2.door", ca_file=secure.ca_file
    )
    assert door.connected, door.connack
    assert door.publish("anbu/v1/gn-2/door/activity", activity(running, "door-1")) == "Success"
    assert door.publish("anbu/v1/gn-1/ph1/activity", activity(running, "x")) == "Not authorized"
    wait_until(lambda: stored(running, "gn-2", "door") == 1)
    door.close()

    # A new resident whose config file is already in the folder: nothing is applied.
    more = roster.with_name("추가.csv")
    more.write_bytes(ROSTER + "gn-4,박영희,강남구,,,spk:speaker\n".encode())
    (configs / "gn-4.spk.toml").write_text("someone's file\n", encoding="utf-8")
    clash = roster_import(cli_env, more, "--apply", "--configs", str(configs))
    assert clash.exit_code == 2, clash.output
    assert "gn-4.spk.toml" in clash.output
    assert (configs / "gn-4.spk.toml").read_text(encoding="utf-8") == "someone's file\n"
    assert "gn-4" not in {r["id"] for r in running.http.get("/api/v1/residents").json()}
    assert "gn-4.spk" not in device_clients(secure)


def registered(db_url: str) -> set[str]:
    engine = open_engine(db_url)
    try:
        with reading(engine) as conn:
            return {
                f"{resident.id}.{device.id}"
                for resident in resident_reads.list_residents(conn, None)
                for device in resident_reads.devices_of(conn, resident.id)
            }
    finally:
        engine.dispose()


def test_the_cli_on_its_own_provisions_and_an_unreachable_broker_is_said_per_device(
    secure: SecureBroker,
    cli_env: CliRunner,
    db_url: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    engine = open_engine(db_url)
    migrate(engine)
    engine.dispose()
    roster = tmp_path / "명단.csv"
    roster.write_bytes(ROSTER)
    configs = tmp_path / "configs"

    dry = roster_import(cli_env, roster, "--configs", str(configs))
    assert dry.exit_code == 0, dry.output
    assert "would create 3" in dry.output
    assert not configs.exists(), "a dry run writes no file"
    assert device_clients(secure) == set(), "a dry run provisions nothing"

    result = roster_import(cli_env, roster, "--apply", "--configs", str(configs))
    assert result.exit_code == 0, result.output
    assert "this command" in result.output
    assert "3 devices provisioned, 0 not" in result.output
    passwords = [
        BrokerAddress.parse(
            check_config_file(secure, configs / f"{name}.toml", result.output)["mqtt_url"]
        ).password
        for name in sorted(NEW_DEVICES)
    ]
    assert device_clients(secure) == NEW_DEVICES
    logged = "".join(capfd.readouterr())
    for secret in [*passwords, secure.admin_password]:
        assert secret is not None
        assert secret not in logged, "a password reached the logs"

    # The broker is down for the next file: the residents are registered, and each device
    # is named with the command that provisions it once the broker is back.
    secure.broker.stop()
    more = roster.with_name("추가.csv")
    more.write_bytes(ROSTER + "gn-4,박영희,강남구,,,spk:speaker; ph:phone\n".encode())
    down = roster_import(cli_env, more, "--apply", "--configs", str(configs))
    assert down.exit_code == 1, down.output
    assert "created 1" in down.output
    assert "0 devices provisioned, 2 not" in down.output
    for device in ("spk", "ph"):
        assert f"anbu devices provision gn-4 {device} --out gn-4.{device}.toml" in down.output
    assert not (configs / "gn-4.spk.toml").exists()
    assert {"gn-4.spk", "gn-4.ph"} <= registered(db_url)
    assert secure.admin_password not in down.output


def test_a_broker_gone_midway_leaves_each_device_said_provisioned_or_not(
    secure: SecureBroker,
) -> None:
    class GoesAwayAfterOneRequest(BrokerAdmin):
        """The real admin; the real broker stops once it has answered the first request."""

        def request(self, *args: Any, **kwargs: Any) -> Any:
            answers = super().request(*args, **kwargs)
            secure.broker.stop()
            return answers

    address = BrokerAddress.parse(secure.broker.url)
    admin = GoesAwayAfterOneRequest(
        address, ADMIN_USER, secure.admin_password, ca_file=secure.ca_file, timeout_s=3
    )
    run = Provisioner(admin, secure.broker.url).provision_many(
        [("r1", "d0"), ("r1", "d1"), ("r1", "d2")], batch=2
    )
    assert [c.device for c in run.provisioned] == ["d0", "d1"]
    assert run.not_provisioned == [("r1", "d2")]
    assert run.error is not None
    assert "unreachable" in run.error

    # What the run said is what the broker holds once it is back.
    secure.broker.start()
    assert device_clients(secure) == {"r1.d0", "r1.d1"}
    d0 = run.provisioned[0]
    probe = connect(secure.port, d0.username, d0.password, d0.client_id, ca_file=secure.ca_file)
    assert probe.connected, probe.connack
    probe.close()


def test_an_id_the_topics_reserve_is_said_and_the_others_provisioned(
    secure: SecureBroker,
) -> None:
    admin = BrokerAdmin(
        BrokerAddress.parse(secure.broker.url),
        ADMIN_USER,
        secure.admin_password,
        ca_file=secure.ca_file,
    )
    devices = [
        {"resident": "_hub", "device": "x", "kind": "speaker"},
        {"resident": "r1", "device": "d0", "kind": "sensors"},
    ]
    answer = provision_roster(devices, Provisioner(admin, secure.broker.url))
    assert [c["username"] for c in answer["credentials"]] == ["r1.d0"]
    assert answer["credentials"][0]["kind"] == "sensors"
    (missing,) = answer["not_provisioned"]
    assert (missing["resident"], missing["device"], missing["kind"]) == ("_hub", "x", "speaker")
    assert "reserved" in missing["message"]
    assert missing["retry"] == "anbu devices provision _hub x --out _hub.x.toml"
    assert device_clients(secure) == {"r1.d0"}
