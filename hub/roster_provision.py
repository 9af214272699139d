"""Broker credentials for the devices an applied roster registered, and what to redo if not.

Owns :func:`provision_roster`: the step after :func:`hub.roster.apply_roster` when the hub
provisions devices (``ANBU_MQTT_ADMIN_USER``, :mod:`hub.provisioning`). Every device the
import registered gets its own credentials, in batches (:meth:`Provisioner.provision_many`);
the answer says per device which were provisioned (their credentials, shown once, in the
shape ``POST …/devices/{id}/credentials`` answers) and which were not and must be
provisioned again, with the command that does it. The residents and devices stay
registered whatever the broker does: a roster half applied to the broker is said, never
silent, and never undone behind the district's back.

A dry run never comes here: it provisions nothing. A roster import only adds residents (it
never removes or deactivates one), so it has nothing to revoke.

Nothing secret is logged: only ids, counts and the broker's error text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from hub.provisioning import Provisioner, device_username

__all__ = ["MSG_NOT_PROVISIONED", "provision_roster", "retry_command"]

log = structlog.get_logger(__name__)

_LOGGED = 20

MSG_NOT_PROVISIONED = (
    "기기 인증이 발급되지 않았습니다 — 다시 발급해 주세요 / not provisioned in the broker"
)


def retry_command(resident: str, device: str) -> str:
    """The shell command that provisions one device again (its config to a file)."""
    return f"anbu devices provision {resident} {device} --out {resident}.{device}.toml"


def provision_roster(
    registered: Sequence[Mapping[str, str]], provisioner: Provisioner
) -> dict[str, Any]:
    """Provision each of ``registered`` (``resident``, ``device``, ``kind``; the applied
    roster's ``registered_devices``). Never raises for the broker: its failure is in the
    answer's ``not_provisioned`` and ``error``.

    Returns ``provisioned`` (a count), ``credentials`` (per provisioned device what
    ``POST …/credentials`` answers, and its ``kind``; the password is nowhere else),
    ``not_provisioned`` (``resident``, ``device``, ``kind``, ``message``, ``retry``) and
    ``error`` (the broker's, or None)."""
    kinds = {(d["resident"], d["device"]): d["kind"] for d in registered}
    wanted: list[tuple[str, str]] = []
    refused: list[tuple[tuple[str, str], str]] = []
    for key in kinds:
        try:
            device_username(*key)
        except ValueError as error:  # an id the topics reserve: the broker never sees it
            refused.append((key, str(error)))
        else:
            wanted.append(key)
    run = provisioner.provision_many(wanted)
    run_error, provisioned = run.error, run.provisioned
    missing = [(key, run_error or "") for key in run.not_provisioned] + refused
    if missing:
        log.warning(
            "roster.not_provisioned",
            count=len(missing),
            # The first ones name the failure; the answer lists them all.
            devices=[f"{resident}/{device}" for (resident, device), _ in missing[:_LOGGED]],
            error=run_error,
        )
    log.info("roster.provisioned", provisioned=len(provisioned), not_provisioned=len(missing))
    return {
        "provisioned": len(provisioned),
        "credentials": [
            {**c.as_json(kinds[(c.resident, c.device)]), "kind": kinds[(c.resident, c.device)]}
            for c in provisioned
        ],
        "not_provisioned": [
            {
                "resident": resident,
                "device": device,
                "kind": kinds[(resident, device)],
                "message": f"{MSG_NOT_PROVISIONED}: {why}" if why else MSG_NOT_PROVISIONED,
                "retry": retry_command(resident, device),
            }
            for (resident, device), why in missing
        ],
        "error": run_error,
    }
