"""The watchdog on the broker as shipped (TLS, dynamic security, no anonymous access).

The hub's role (``anbu devices init``'s) may publish its heartbeat, and the watchdog's own
identity, made as deploy/mosquitto/README.md says, hears it and may read nothing else.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from urllib.parse import quote

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from hub.broker_admin import BrokerAdmin
from hub.mqtt import BrokerAddress
from hub.runtime import Hub
from hub.settings import Settings
from hub.watchdog import Watchdog
from hub.watchdog_settings import WatchdogSettings
from protocol.topics import HUB_HEARTBEAT_TOPIC
from tests.conftest import free_port
from tests.hub.support import ADMIN_TOKEN, DEFAULT_TEST_START, OffsetClock, wait_until
from tests.hub.test_broker_security import (  # noqa: F401 - fixtures used by name
    ADMIN_USER,
    HUB_CLIENT_ID,
    SecureBroker,
    secure,
    tls_dir,
)

WATCHDOG = "anbu-watchdog"


def _make_watchdog_identity(broker: SecureBroker, password: str) -> None:
    admin = BrokerAdmin(
        BrokerAddress.parse(broker.broker.url),
        ADMIN_USER,
        broker.admin_password,
        ca_file=broker.ca_file,
    )
    admin.request(
        [
            {"command": "createRole", "rolename": WATCHDOG},
            *(
                {
                    "command": "addRoleACL",
                    "rolename": WATCHDOG,
                    "acltype": acltype,
                    "topic": HUB_HEARTBEAT_TOPIC,
                    "allow": True,
                }
                for acltype in ("subscribeLiteral", "publishClientReceive")
            ),
            {"command": "createClient", "username": WATCHDOG, "password": password},
            {"command": "addClientRole", "username": WATCHDOG, "rolename": WATCHDOG},
        ]
    )


def _granted(url: str, ca_file: Path, topic: str) -> bool:
    """Whether the broker grants ``topic`` to the identity of ``url``."""
    address = BrokerAddress.parse(url)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"{WATCHDOG}-probe",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(address.username, address.password)
    client.tls_set(ca_certs=str(ca_file))
    answers: list[bool] = []
    client.on_subscribe = lambda _c, _u, _m, codes, _p: answers.append(not codes[0].is_failure)
    client.on_connect = lambda c, _u, _f, _r, _p: c.subscribe(topic, qos=0)
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        wait_until(lambda: answers, 10)
    finally:
        client.disconnect()
        client.loop_stop()
    return answers[0]


def test_the_watchdog_hears_the_heartbeat_through_the_secured_broker(
    secure: SecureBroker,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    password = secrets.token_urlsafe(16)
    _make_watchdog_identity(secure, password)
    url = f"mqtts://{WATCHDOG}:{quote(password)}@127.0.0.1:{secure.port}"
    assert _granted(url, secure.ca_file, HUB_HEARTBEAT_TOPIC)
    assert not _granted(url, secure.ca_file, "anbu/v1/#")

    settings = Settings(
        mqtt_url=secure.hub_url(),
        mqtt_client_id=HUB_CLIENT_ID,
        mqtt_ca_file=secure.ca_file,
        db_url=f"sqlite:///{tmp_path / 'hub.db'}",
        http=f"127.0.0.1:{free_port()}",
        admin_token=SecretStr(ADMIN_TOKEN),
        sms=SecretStr(f"log:{tmp_path / 'hub-sms.jsonl'}"),
    )
    hub = Hub(settings, clock=OffsetClock(DEFAULT_TEST_START), heartbeat_s=0.3).start()
    stop = threading.Event()
    try:
        assert hub.wait_ready(15)
        watchdog = Watchdog(
            WatchdogSettings(
                hub_url=f"http://127.0.0.1:{free_port()}",  # nothing there: the heartbeat only
                mqtt_url=SecretStr(url),
                mqtt_ca_file=secure.ca_file,
                probe_s=0.3,
                sms=SecretStr(f"log:{tmp_path / 'sms.jsonl'}"),
                control_center_phones=["02-000-0000"],
                state_file=tmp_path / "state.json",
            )
        )
        runner = threading.Thread(target=watchdog.run, args=(stop,), daemon=True)
        runner.start()
        wait_until(lambda: watchdog.sightings.last_ok is not None, 10)
        stop.set()
        runner.join(10)
    finally:
        stop.set()
        hub.stop()
