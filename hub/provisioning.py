"""Broker identities: each device's own credentials, the hub's reserved one, and revoking.

Owns the identity scheme and what each identity may do, as roles of Mosquitto's dynamic
security plugin (requests through :class:`hub.broker_admin.BrokerAdmin`):

* a device is the broker client ``{resident}.{device}`` (the edge's MQTT client id already),
  with that fixed client id and its own role ``anbu-device.{resident}.{device}``: publish on
  its own ``anbu/v1/{resident}/{device}/{kind}`` topics, subscribe to its own ``cmd``. The
  username, the client id and the topics all come from the identity the hub provisioned,
  never from what the device chooses to send, so a device cannot act as another;
* the hub is the client ``ANBU_MQTT_URL``'s username with the fixed client id
  ``ANBU_MQTT_CLIENT_ID`` (which has no ``.``, so no device identity can be it) and the role
  ``anbu-hub``. A device presenting the hub's client id fails authentication before the
  broker looks at sessions, so it can neither push the hub off nor discard its session.

A device's password is made here, sent to the broker (which keeps a salted PBKDF2 hash) and
handed back once in :class:`DeviceCredentials`; the hub stores no copy and logs none.
Re-provisioning replaces the password (and disconnects the old one); revoking deletes the
client and its role, which disconnects the device at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import structlog

from hub.broker_admin import BrokerAdmin, BrokerAdminError, Command
from hub.mqtt import BROKER_DROPPED_TOPIC, BrokerAddress
from hub.settings import Settings
from protocol.topics import (
    ALERTS_TOPIC,
    EVENT_KINDS,
    HUB_HEARTBEAT_TOPIC,
    PREFIX,
    cmd_topic,
    device_topic,
)

__all__ = [
    "DEVICE_CA_PATH",
    "HUB_ROLE",
    "DeviceCredentials",
    "ProvisionRun",
    "Provisioner",
    "ProvisioningError",
    "device_role",
    "device_username",
]

log = structlog.get_logger(__name__)

HUB_ROLE = "anbu-hub"
DEVICE_ROLE_PREFIX = "anbu-device"
#: Where the produced device config expects the CA certificate on the device.
DEVICE_CA_PATH = "/etc/anbu/anbu-ca.crt"
_NOT_FOUND = ("Client not found", "Role not found")
#: Devices per request in :meth:`Provisioner.provision_many`: one connection (and TLS
#: handshake) per batch instead of per device, small enough that the plugin answers a batch
#: well within the admin's request timeout.
BATCH_DEVICES = 25


class ProvisioningError(RuntimeError):
    """Provisioning is not configured, or the broker refused or could not be reached."""


def device_username(resident: str, device: str) -> str:
    """The broker username and client id of one device (``protocol.topics`` checks ids)."""
    cmd_topic(resident, device)  # raises ValueError for a bad or reserved identifier
    return f"{resident}.{device}"


def device_role(resident: str, device: str) -> str:
    return f"{DEVICE_ROLE_PREFIX}.{device_username(resident, device)}"


def _acl(acltype: str, topic: str) -> dict[str, Any]:
    return {"acltype": acltype, "topic": topic, "allow": True}


def device_acls(resident: str, device: str) -> list[dict[str, Any]]:
    """Publish on its own topics, subscribe to its own commands: nothing else."""
    acls = [
        _acl("publishClientSend", device_topic(resident, device, kind))  # type: ignore[arg-type]
        for kind in sorted(EVENT_KINDS)
    ]
    acls.append(_acl("subscribeLiteral", cmd_topic(resident, device)))
    acls.append(_acl("publishClientReceive", cmd_topic(resident, device)))
    return acls


def hub_acls() -> list[dict[str, Any]]:
    """Read every device topic and the broker's count of what it dropped; write commands,
    alert changes and its heartbeat."""
    return [
        _acl("subscribePattern", f"{PREFIX}/#"),
        _acl("publishClientReceive", f"{PREFIX}/#"),
        _acl("subscribeLiteral", BROKER_DROPPED_TOPIC),
        _acl("publishClientReceive", BROKER_DROPPED_TOPIC),
        _acl("publishClientSend", f"{PREFIX}/+/+/cmd"),
        _acl("publishClientSend", ALERTS_TOPIC),
        # Its heartbeat for `anbu watchdog` (hub/heartbeat.py).
        _acl("publishClientSend", HUB_HEARTBEAT_TOPIC),
    ]


@dataclass(frozen=True, slots=True)
class DeviceCredentials:
    """What a device needs to connect, shown once: the password is nowhere else."""

    resident: str
    device: str
    username: str
    client_id: str
    broker_url: str
    password: str = field(repr=False)
    ca_pem: str | None = field(default=None, repr=False)
    ca_path: str = DEVICE_CA_PATH

    @property
    def mqtt_url(self) -> str:
        """``mqtt[s]://user:pass@host:port``, with ``?cafile=`` for a private CA."""
        parts = urlsplit(self.broker_url)
        netloc = f"{self.username}:{self.password}@{parts.netloc}"
        query = f"cafile={self.ca_path}" if parts.scheme == "mqtts" and self.ca_pem else ""
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))

    def config_toml(self, kind: str | None = None) -> str:
        """The device's ``anbu edge --config`` file (deploy/edge/*.toml has the options)."""
        lines = [
            "# Anbu edge agent: this device's own broker credentials, made by the hub.",
            "# Shown once; the hub keeps no copy of the password. Keep this file mode 600.",
        ]
        if self.ca_pem and self.broker_url.startswith("mqtts"):
            lines.append(f"# The broker's CA certificate goes to {self.ca_path}.")
        if kind is not None:
            lines.append(f'kind = "{kind}"')
        lines += [
            f'resident = "{self.resident}"',
            f'device = "{self.device}"',
            f'mqtt_url = "{self.mqtt_url}"',
        ]
        return "\n".join(lines) + "\n"

    def as_json(self, kind: str | None = None) -> dict[str, Any]:
        return {
            "resident": self.resident,
            "device": self.device,
            "username": self.username,
            "password": self.password,
            "client_id": self.client_id,
            "broker_url": self.broker_url,
            "mqtt_url": self.mqtt_url,
            "ca_pem": self.ca_pem,
            "ca_path": self.ca_path,
            "config_toml": self.config_toml(kind),
        }


@dataclass(frozen=True, slots=True)
class ProvisionRun:
    """What :meth:`Provisioner.provision_many` did: every device asked for is in exactly one
    of ``provisioned`` and ``not_provisioned``; ``error`` says why the latter stopped."""

    provisioned: list[DeviceCredentials]
    not_provisioned: list[tuple[str, str]]
    error: str | None = None


class Provisioner:
    """Creates, replaces and revokes broker identities through the dynsec admin."""

    def __init__(self, admin: BrokerAdmin, device_url: str, *, ca_pem: str | None = None) -> None:
        self._admin = admin
        self._device_url = device_url
        self._ca_pem = ca_pem

    @classmethod
    def from_settings(cls, settings: Settings) -> Provisioner | None:
        """The provisioner ``settings`` describe, or None when ``ANBU_MQTT_ADMIN_USER`` is
        unset (or the hub runs its own embedded broker)."""
        if settings.mqtt_admin_user is None or settings.mqtt_url == "embedded":
            return None
        if settings.mqtt_admin_password is None:
            raise ProvisioningError(
                "ANBU_MQTT_ADMIN_USER is set but ANBU_MQTT_ADMIN_PASSWORD is not"
            )
        address = BrokerAddress.parse(settings.mqtt_url)
        admin = BrokerAdmin(
            address,
            settings.mqtt_admin_user,
            settings.mqtt_admin_password.get_secret_value(),
            ca_file=settings.mqtt_ca_file,
        )
        ca_pem = None
        if settings.mqtt_ca_file is not None:
            try:
                ca_pem = settings.mqtt_ca_file.read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as exc:
                raise ProvisioningError(f"ANBU_MQTT_CA_FILE is unreadable: {exc}") from None
        return cls(admin, _device_url(settings), ca_pem=ca_pem)

    def provision(self, resident: str, device: str) -> DeviceCredentials:
        """New credentials for a device; any it had stop working (and are disconnected)."""
        commands, credentials = self._provisioning(resident, device)
        self._run(commands, tolerate=_NOT_FOUND)
        log.info("provisioning.device_provisioned", resident=resident, device=device)
        return credentials

    def provision_many(
        self, devices: Sequence[tuple[str, str]], *, batch: int = BATCH_DEVICES
    ) -> ProvisionRun:
        """New credentials for many ``(resident, device)`` pairs, ``batch`` per request.

        The first request the broker fails or refuses ends the run: that batch's devices and
        all after it are ``not_provisioned`` (a broker that is down or refusing would fail
        them all anyway, one timeout each). Some of the failed batch's commands may have run;
        those credentials were never shown to anyone, and provisioning the device again
        replaces them. Ids are checked first, so a bad one fails before anything is sent."""
        prepared = [self._provisioning(resident, device) for resident, device in devices]
        done: list[DeviceCredentials] = []
        for start in range(0, len(prepared), batch):
            chunk = prepared[start : start + batch]
            try:
                self._run([c for commands, _ in chunk for c in commands], tolerate=_NOT_FOUND)
            except ProvisioningError as error:
                rest = list(devices[start:])
                log.warning(
                    "provisioning.batch_failed",
                    provisioned=len(done),
                    not_provisioned=len(rest),
                    error=str(error),
                )
                return ProvisionRun(done, rest, str(error))
            for _, credentials in chunk:
                log.info(
                    "provisioning.device_provisioned",
                    resident=credentials.resident,
                    device=credentials.device,
                )
                done.append(credentials)
        return ProvisionRun(done, [])

    def _provisioning(self, resident: str, device: str) -> tuple[list[Command], DeviceCredentials]:
        """The commands that (re)create a device's identity, and what the device gets."""
        username = device_username(resident, device)
        role = device_role(resident, device)
        password = secrets.token_urlsafe(24)
        commands: list[Command] = [
            {"command": "deleteClient", "username": username},
            {"command": "deleteRole", "rolename": role},
            {"command": "createRole", "rolename": role, "acls": device_acls(resident, device)},
            {
                "command": "createClient",
                "username": username,
                "password": password,
                "clientid": username,
                "textname": f"Anbu device {device} of resident {resident}",
                "roles": [{"rolename": role}],
            },
        ]
        return commands, DeviceCredentials(
            resident=resident,
            device=device,
            username=username,
            client_id=username,
            broker_url=self._device_url,
            password=password,
            ca_pem=self._ca_pem,
        )

    def revoke(self, resident: str, device: str) -> bool:
        """Delete the device's broker identity (connected clients are kicked at once).
        Returns whether it existed."""
        username = device_username(resident, device)
        answers = self._run(
            [
                {"command": "deleteClient", "username": username},
                {"command": "deleteRole", "rolename": device_role(resident, device)},
            ],
            tolerate=_NOT_FOUND,
        )
        existed = answers[0].error is None
        log.info("provisioning.device_revoked", resident=resident, device=device, existed=existed)
        return existed

    def ensure_hub(
        self, username: str, password: str, client_id: str, *, reset_password: bool = False
    ) -> None:
        """The hub's identity: role ``anbu-hub``, fixed client id, this password. Idempotent;
        an existing identity gets only what differs (its client id, its role), and its
        password only with ``reset_password`` (the broker disconnects clients whose password
        is set, and cannot say whether it matches), so a running hub stays connected."""
        if "." in username or "." in client_id:
            raise ProvisioningError("the hub's username and client id may not contain '.'")
        commands: list[Command] = [
            {"command": "createRole", "rolename": HUB_ROLE},
            *({"command": "addRoleACL", "rolename": HUB_ROLE, **acl} for acl in hub_acls()),
            {
                "command": "createClient",
                "username": username,
                "password": password,
                "clientid": client_id,
                "roles": [{"rolename": HUB_ROLE}],
            },
            {"command": "getClient", "username": username},
        ]
        answers = self._run(
            commands,
            tolerate=(
                "Role already exists",
                "ACL with this topic already exists",
                "Client already exists",
            ),
        )
        created = answers[-2].error is None
        client = answers[-1].data.get("client", {})
        fixes: list[Command] = []
        if not created:
            if reset_password:
                fixes.append(
                    {"command": "setClientPassword", "username": username, "password": password}
                )
            if client.get("clientid") != client_id:
                fixes.append(
                    {"command": "setClientId", "username": username, "clientid": client_id}
                )
            if HUB_ROLE not in {r.get("rolename") for r in client.get("roles", [])}:
                fixes.append(
                    {"command": "addClientRole", "username": username, "rolename": HUB_ROLE}
                )
        if fixes:
            self._run(fixes)
        log.info(
            "provisioning.hub_identity", username=username, client_id=client_id, created=created
        )

    def hub_problem(self, username: str, client_id: str) -> str | None:
        """What is wrong with the hub's identity in the broker, or None. For ``anbu hub
        --check``: the hub's own credentials cannot be tried without pushing a running hub
        off (its client id is fixed), so the admin looks the identity up instead."""
        try:
            answers = self._admin.request(
                [{"command": "getClient", "username": username}], tolerate=_NOT_FOUND
            )
        except BrokerAdminError as exc:
            return str(exc)
        if answers[0].error is not None:
            return f"the broker has no client {username!r}: run `anbu devices init`"
        client = answers[0].data.get("client", {})
        if client.get("clientid") != client_id:
            return (
                f"the broker binds {username!r} to client id {client.get('clientid')!r}, "
                f"not ANBU_MQTT_CLIENT_ID={client_id!r}: run `anbu devices init`"
            )
        if HUB_ROLE not in {r.get("rolename") for r in client.get("roles", [])}:
            return f"{username!r} lacks the role {HUB_ROLE!r}: run `anbu devices init`"
        return None

    def _run(self, commands: list[Command], *, tolerate: tuple[str, ...] = ()) -> list[Any]:
        try:
            return self._admin.request(commands, tolerate=tolerate)
        except BrokerAdminError as exc:
            raise ProvisioningError(str(exc)) from None


def _device_url(settings: Settings) -> str:
    """ANBU_MQTT_DEVICE_URL, else ANBU_MQTT_URL without its credentials."""
    url = settings.mqtt_device_url or settings.mqtt_url
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, "", "", ""))
