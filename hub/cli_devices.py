"""``anbu devices``: the broker identities of the hub and of each device, from the shell.

* ``anbu devices init``: the hub's own identity in the broker (from ``ANBU_MQTT_URL``'s
  username and password and ``ANBU_MQTT_CLIENT_ID``), once at installation; idempotent.
* ``anbu devices provision RESIDENT DEVICE [--out FILE]``: new credentials for a device the
  hub has registered (``ANBU_DB_URL``); writes the device's config file (mode 600) and the CA
  beside it, or prints the config. The password exists only in that output.
* ``anbu devices revoke RESIDENT DEVICE``: the broker forgets the device and disconnects it.
* ``anbu devices feed-token issue|revoke RESIDENT DEVICE``: a phone without the agent posts
  its feed to the hub over HTTPS (:mod:`hub.api.device_feed`) with a token of its own; the
  token is shown once (only its SHA-256 is kept), a new one replaces the old, and a revoked
  one is refused. These two need only ``ANBU_DB_URL``.

The first three talk to the broker as ``ANBU_MQTT_ADMIN_USER`` (:mod:`hub.provisioning`).
Heavy imports happen inside the commands, as in :mod:`hub.cli`.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from hub.provisioning import Provisioner
    from hub.settings import Settings
    from hub.store.db import Engine

devices_app = typer.Typer(
    help="Devices' broker credentials: provision, revoke; the hub's own identity (init).",
    no_args_is_help=True,
)

Resident = Annotated[str, typer.Argument(help="The resident's id at the hub.")]
DeviceId = Annotated[str, typer.Argument(help="The device's id (registered at the hub).")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"anbu devices: {message}", err=True)
    return typer.Exit(2)


def _load() -> tuple[Settings, Provisioner]:
    from hub.cli_support import settings_or_exit
    from hub.provisioning import Provisioner, ProvisioningError

    # One line per mistake, secrets never echoed (pydantic's own text repeats the input).
    settings = settings_or_exit()
    try:
        provisioner = Provisioner.from_settings(settings)
    except ProvisioningError as error:
        raise _fail(str(error)) from None
    if provisioner is None:
        raise _fail(
            "provisioning is off: set ANBU_MQTT_URL to the broker and ANBU_MQTT_ADMIN_USER / "
            "ANBU_MQTT_ADMIN_PASSWORD to its dynamic-security admin "
            "(deploy/mosquitto/README.md)"
        )
    return settings, provisioner


def _registered_kind(settings: Settings, resident: str, device: str) -> str:
    from hub.store import resident_reads
    from hub.store.db import open_engine, reachable, reading

    engine = open_engine(settings.db_url)
    try:
        if not reachable(engine):
            raise _fail("cannot read the hub's database (ANBU_DB_URL)")
        with reading(engine) as conn:
            found = [d for d in resident_reads.devices_of(conn, resident) if d.id == device]
    finally:
        engine.dispose()
    if not found:
        raise _fail(
            f"device {device} of resident {resident} is not registered at the hub; "
            f"register it first (POST /api/v1/residents/{resident}/devices)"
        )
    return found[0].kind


@devices_app.command("init")
def init(
    reset_password: Annotated[
        bool,
        typer.Option(
            "--reset-password",
            help="Also set an existing hub identity's password from ANBU_MQTT_URL "
            "(disconnects a running hub; restart it with the new settings).",
        ),
    ] = False,
) -> None:
    """Create (or repair) the hub's identity in the broker: ANBU_MQTT_URL's username and
    password, the fixed client id ANBU_MQTT_CLIENT_ID, and the hub's role. An existing
    identity keeps its password unless --reset-password.

    Example: ANBU_MQTT_URL=mqtts://anbu-hub:…@localhost:8883 ANBU_MQTT_ADMIN_USER=anbu-admin
    ANBU_MQTT_ADMIN_PASSWORD=… ANBU_MQTT_CA_FILE=/etc/mosquitto/certs/ca.crt anbu devices init
    """
    from hub.mqtt import BrokerAddress
    from hub.provisioning import ProvisioningError

    settings, provisioner = _load()
    address = BrokerAddress.parse(settings.mqtt_url)
    if not address.username or not address.password:
        raise _fail("ANBU_MQTT_URL must carry the hub's username and password (mqtts://u:p@…)")
    try:
        provisioner.ensure_hub(
            address.username,
            address.password,
            settings.mqtt_client_id,
            reset_password=reset_password,
        )
    except ProvisioningError as error:
        raise _fail(str(error)) from None
    typer.echo(
        f"hub identity {address.username} (client id {settings.mqtt_client_id}) is in the broker"
    )


@devices_app.command("provision")
def provision(
    resident: Resident,
    device: DeviceId,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the device's config here (mode 600), the CA beside it."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
) -> None:
    """New broker credentials for a registered device; old ones stop working at once.

    Example: anbu devices provision r1 speaker-1 --out /tmp/r1-speaker-1.toml
    (copy it to the speaker as /etc/anbu/edge-speaker.toml, and the CA as
    /etc/anbu/anbu-ca.crt).
    """
    from hub.provisioning import ProvisioningError

    settings, provisioner = _load()
    kind = _registered_kind(settings, resident, device)
    try:
        credentials = provisioner.provision(resident, device)
    except (ProvisioningError, ValueError) as error:
        raise _fail(str(error)) from None
    if as_json:
        typer.echo(json.dumps(credentials.as_json(kind), ensure_ascii=False, indent=2))
        return
    if out is None:
        typer.echo(credentials.config_toml(kind), nl=False)
        if credentials.ca_pem:
            typer.echo(f"# CA for {credentials.ca_path}:\n{credentials.ca_pem}", err=True)
        return
    _write_private(out, credentials.config_toml(kind))
    typer.echo(f"wrote {out}")
    if credentials.ca_pem:
        ca = out.parent / Path(credentials.ca_path).name
        ca.write_text(credentials.ca_pem, encoding="ascii")
        typer.echo(f"wrote {ca} (install as {credentials.ca_path})")


@devices_app.command("revoke")
def revoke(resident: Resident, device: DeviceId) -> None:
    """Delete a device's broker credentials; it is disconnected within seconds.

    Example: anbu devices revoke r1 speaker-1
    """
    from hub.provisioning import ProvisioningError

    _, provisioner = _load()
    try:
        existed = provisioner.revoke(resident, device)
    except (ProvisioningError, ValueError) as error:
        raise _fail(str(error)) from None
    typer.echo(
        f"revoked {resident}/{device}" if existed else f"{resident}/{device} had no credentials"
    )


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only, before any secret is in it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A new file of our own, never one that exists (it may be readable by others, or a link
    # planted where the secret should go): the old one goes first, then O_EXCL creates it.
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


feed_app = typer.Typer(
    help="A phone's own HTTPS feed token (a phone without the agent posts to the hub): "
    "issue, revoke.",
    no_args_is_help=True,
)
devices_app.add_typer(feed_app, name="feed-token")


def _feed_engine(resident: str, device: str) -> tuple[Settings, Engine]:
    """The hub's database, once the device is known there as a phone."""
    from hub.cli_support import settings_or_exit
    from hub.store.db import open_engine

    settings = settings_or_exit()
    kind = _registered_kind(settings, resident, device)
    if kind != "phone":
        raise _fail(
            f"device {device} of resident {resident} is a {kind}; feed tokens are for phones "
            "(a speaker or sensor gateway runs the agent: anbu devices provision)"
        )
    return settings, open_engine(settings.db_url)


@feed_app.command("issue")
def feed_issue(resident: Resident, device: DeviceId) -> None:
    """A new feed token for a registered phone, shown only now; its old one stops working.

    Example: anbu devices feed-token issue r1 phone-1
    (put it in MacroDroid or Shortcuts as "Authorization: Bearer <token>", deploy/phone/).
    """
    from alerts.clock import SystemClock
    from hub.api.device_feed import FEED_PATH
    from hub.store.db import writing
    from hub.store.feed_tokens import issue_token

    settings, engine = _feed_engine(resident, device)
    try:
        with writing(engine) as conn:
            token = issue_token(conn, resident, device, SystemClock().now())
    finally:
        engine.dispose()
    typer.echo("토큰은 지금 한 번만 표시됩니다 / the token is shown only now:")
    typer.echo(token)
    typer.echo(f"POST {settings.link_base}{FEED_PATH}  (Authorization: Bearer <token>)", err=True)


@feed_app.command("revoke")
def feed_revoke(resident: Resident, device: DeviceId) -> None:
    """Revoke the phone's feed token: its posts are refused (403) from now on.

    Example: anbu devices feed-token revoke r1 phone-1
    """
    from alerts.clock import SystemClock
    from hub.store.db import writing
    from hub.store.feed_tokens import revoke_tokens

    _, engine = _feed_engine(resident, device)
    try:
        with writing(engine) as conn:
            revoked = revoke_tokens(conn, resident, device, SystemClock().now())
    finally:
        engine.dispose()
    typer.echo(
        f"revoked the feed token of {resident}/{device}"
        if revoked
        else f"{resident}/{device} had no live feed token"
    )
