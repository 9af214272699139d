"""Routes for devices' broker credentials: provisioning them (shown once) and revoking them.

* ``POST /api/v1/residents/{id}/devices/{device}/credentials``: new credentials for a
  registered device (any old ones stop working); 201 with the username, password, client id,
  broker URL, CA and the device's config file. The hub keeps no copy of the password.
* ``DELETE /api/v1/residents/{id}/devices/{device}/credentials``: the broker forgets the
  device and disconnects it; 200 ``{"revoked": true|false}`` (false: it had none).

Both are admin-only and need ``ANBU_MQTT_ADMIN_USER`` (:mod:`hub.provisioning`): 409 when
provisioning is off, 502 when the broker cannot be reached or refuses.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from hub.api.auth import AdminOnly
from hub.api.backend import Backend
from hub.provisioning import Provisioner, ProvisioningError
from hub.store import resident_reads
from hub.store.db import reading

#: The answers provisioning adds to a route's document (hub.api.openapi adds the rest).
PROVISIONING_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"description": "기기 인증 발급이 꺼져 있습니다 (ANBU_MQTT_ADMIN_USER unset)"},
    502: {"description": "브로커에 연결할 수 없거나 브로커가 거부했습니다"},
}


def provisioner_of(backend: Backend) -> Provisioner | None:
    """The hub's provisioner, or None when ``ANBU_MQTT_ADMIN_USER`` is unset."""
    try:
        return Provisioner.from_settings(backend.settings)
    except ProvisioningError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error


def provision(
    provisioner: Provisioner, resident_id: str, device_id: str, kind: str | None
) -> dict[str, Any]:
    """Credentials for one device as the API returns them; broker trouble is a 502."""
    try:
        credentials = provisioner.provision(resident_id, device_id)
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    except ProvisioningError as error:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY,
            f"broker provisioning failed: {error}; the device is registered, "
            f"POST /api/v1/residents/{resident_id}/devices/{device_id}/credentials to retry",
        ) from error
    return credentials.as_json(kind)


def devices_router(backend: Backend) -> APIRouter:
    router = APIRouter(tags=["devices"])

    def required() -> Provisioner:
        provisioner = provisioner_of(backend)
        if provisioner is None:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                "device provisioning is off: set ANBU_MQTT_ADMIN_USER and "
                "ANBU_MQTT_ADMIN_PASSWORD (the broker's dynamic-security admin)",
            )
        return provisioner

    def registered_kind(resident_id: str, device_id: str) -> str:
        with reading(backend.engine) as conn:
            found = [d for d in resident_reads.devices_of(conn, resident_id) if d.id == device_id]
        if not found:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"device {device_id} of resident {resident_id} not found"
            )
        return found[0].kind

    @router.post(
        "/api/v1/residents/{resident_id}/devices/{device_id}/credentials",
        status_code=201,
        responses=PROVISIONING_ERRORS,
    )
    def provision_device(resident_id: str, device_id: str, _: AdminOnly) -> dict[str, Any]:
        """New broker credentials for a registered device, shown once."""
        kind = registered_kind(resident_id, device_id)
        return provision(required(), resident_id, device_id, kind)

    @router.delete(
        "/api/v1/residents/{resident_id}/devices/{device_id}/credentials",
        responses=PROVISIONING_ERRORS,
    )
    def revoke_device(resident_id: str, device_id: str, _: AdminOnly) -> dict[str, bool]:
        """The broker forgets the device's credentials and disconnects it."""
        provisioner = required()
        try:
            revoked = provisioner.revoke(resident_id, device_id)
        except ValueError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
        except ProvisioningError as error:
            raise HTTPException(
                status.HTTP_502_BAD_GATEWAY, f"broker revocation failed: {error}"
            ) from error
        return {"revoked": revoked}

    return router
