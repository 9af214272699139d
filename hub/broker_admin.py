"""Requests to Mosquitto's dynamic security plugin, sent with the broker's admin identity.

Owns :class:`BrokerAdmin`: one short MQTT connection per request to the broker the hub uses
(``ANBU_MQTT_URL``'s host and port, TLS with ``ANBU_MQTT_CA_FILE``), authenticated as
``ANBU_MQTT_ADMIN_USER``; it publishes a batch of commands on ``$CONTROL/dynamic-security/v1``
and waits for the plugin's answer on ``…/response``, matched by correlation data. The plugin
runs a batch in order and answers each command; an error the caller did not say it expects
raises :class:`BrokerAdminError`. What the commands mean is :mod:`hub.provisioning`'s business.

Commands carry device passwords, so nothing of a request is logged; only command names and
the plugin's error texts are.
"""

from __future__ import annotations

import json
import secrets
import ssl
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from hub.mqtt import BrokerAddress

log = structlog.get_logger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
REQUEST_TIMEOUT_S = 10.0

Command = dict[str, Any]


class BrokerAdminError(RuntimeError):
    """The broker could not be reached, refused the admin identity, or refused a command."""


@dataclass(frozen=True, slots=True)
class Answer:
    """The plugin's answer to one command: ``error`` is None on success."""

    command: str
    error: str | None
    data: dict[str, Any] = field(default_factory=dict)


class BrokerAdmin:
    """The dynamic security plugin's API, over one MQTT connection per :meth:`request`."""

    def __init__(
        self,
        address: BrokerAddress,
        username: str,
        password: str,
        *,
        ca_file: Path | None = None,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self._address = address
        self._username = username
        self._password = password
        self._ca_file = ca_file
        self._timeout_s = timeout_s

    def __repr__(self) -> str:
        return f"<BrokerAdmin {self._username}@{self._address.host}:{self._address.port}>"

    def request(
        self, commands: Sequence[Command], *, tolerate: Collection[str] = ()
    ) -> list[Answer]:
        """Run ``commands`` in order; returns one answer each. An error not in ``tolerate``
        (the plugin's own wording, e.g. ``"Client not found"``) raises BrokerAdminError."""
        token = secrets.token_hex(8)
        tagged = [
            {**command, "correlationData": f"{token}-{i}"} for i, command in enumerate(commands)
        ]
        raw = self._exchange(json.dumps({"commands": tagged}).encode("utf-8"), token)
        answers = [
            Answer(
                command=str(item.get("command", "")),
                error=item.get("error"),
                data=item.get("data") or {},
            )
            for item in raw
        ]
        failed = [a for a in answers if a.error is not None and a.error not in tolerate]
        if failed:
            what = "; ".join(f"{a.command}: {a.error}" for a in failed)
            log.warning("broker_admin.refused", errors=what)
            raise BrokerAdminError(f"the broker refused: {what}")
        log.info("broker_admin.done", commands=[a.command for a in answers])
        return answers

    # -- one connection ----------------------------------------------------------------

    def _client(self) -> mqtt.Client:
        # A fresh client id each time: the admin identity has no fixed one, so the CLI and
        # a running hub can both provision without pushing each other off the broker.
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"anbu-admin-{secrets.token_hex(4)}",
            protocol=mqtt.MQTTv5,
        )
        client.username_pw_set(self._username, self._password)
        if self._address.tls:
            ca = str(self._ca_file) if self._ca_file is not None else None
            client.tls_set(ca_certs=ca, cert_reqs=ssl.CERT_REQUIRED)
        return client

    def _exchange(self, body: bytes, token: str) -> list[dict[str, Any]]:
        client = self._client()
        connected = threading.Event()
        subscribed = threading.Event()
        answered = threading.Event()
        refused: list[str] = []
        answers: list[dict[str, Any]] = []

        def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
            if rc.is_failure:
                refused.append(str(rc))
            connected.set()

        def on_subscribe(_c: mqtt.Client, _u: object, _m: int, codes: Any, _p: object) -> None:
            if any(getattr(code, "is_failure", False) for code in codes):
                refused.append("subscription to the response topic refused")
            subscribed.set()

        def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
            try:
                payload = json.loads(message.payload)
            except ValueError:
                return
            mine = [
                item
                for item in payload.get("responses", [])
                if str(item.get("correlationData", "")).startswith(f"{token}-")
            ]
            if mine:
                answers.extend(mine)
                answered.set()

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        try:
            client.connect(self._address.host, self._address.port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:
            raise BrokerAdminError(
                f"broker unreachable at {self._address.host}:{self._address.port}: {exc}"
            ) from None
        client.loop_start()
        try:
            self._wait(connected, "connect")
            if refused:
                raise BrokerAdminError(f"the broker refused the admin identity: {refused[0]}")
            client.subscribe(RESPONSE_TOPIC, qos=1)
            self._wait(subscribed, "subscribe")
            if refused:
                raise BrokerAdminError(f"the broker refused: {refused[0]}")
            client.publish(CONTROL_TOPIC, body, qos=1)
            self._wait(answered, "answer")
        finally:
            client.disconnect()
            client.loop_stop()
        return answers

    def _wait(self, event: threading.Event, what: str) -> None:
        if not event.wait(self._timeout_s):
            raise BrokerAdminError(
                f"no {what} from the broker at {self._address.host}:{self._address.port} "
                f"within {self._timeout_s:.0f}s (is the dynamic security plugin loaded?)"
            )
